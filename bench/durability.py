#!/usr/bin/env python3
"""Durability of acknowledged answers, with group commit on, against the real binary:

  crash     200 concurrent answers, `kill -9` part-way, restart: every answer that was
            acknowledged (201) is stored exactly once, with its own comment;
  sigterm   the same with SIGTERM: the server finishes what is in flight, exits 0 within its
            grace period, and every acknowledged answer is stored;
  two       (PostgreSQL) two instances on one database under concurrent answers, some links
            answered through both: one response per link, nothing lost or duplicated, and the
            stats (rollups) equal the stored rows.

usage: bench/durability.py BINARY [sqlite|postgres ...]
Postgres is the server at DURABILITY_POSTGRES_URL (default
postgres://postgres@127.0.0.1:5432/test); a database sk_durability is created and dropped.
Exits non-zero on any loss or duplicate.
"""
import http.client
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from common import Api, Server  # noqa: E402

PG_DB = "sk_durability"
SECRET = "durability-secret-key-0123456789-abcdef"
ANSWERS = 200


def answer(port, token, comment):
    """POST one answer; its status, or None when no answer came back (connection lost)."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("POST", f"/r/{token}", body=json.dumps({"score": 4, "comment": comment}),
                     headers={"Content-Type": "application/json"})
        status = conn.getresponse().status
        conn.close()
        return status
    except (ConnectionError, OSError, http.client.HTTPException):
        return None


def environment(backend, workdir):
    env = dict(os.environ, SECRET_KEY=SECRET, RUST_LOG="error",
               ANSWER_RATE_PER_MINUTE_IP="1000000", ANSWER_RATE_PER_MINUTE_LINK="1000000",
               API_RATE_PER_MINUTE_KEY="1000000", SHUTDOWN_GRACE_SECS="10")
    if backend == "sqlite":
        env["DATABASE_URL"] = f"sqlite://{workdir}/durability-{time.monotonic_ns()}.db"
    else:
        import psycopg
        base = os.environ.get("DURABILITY_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
        with psycopg.connect(base, autocommit=True) as db:
            db.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
            db.execute(f"CREATE DATABASE {PG_DB}")
        env["DATABASE_URL"] = base.rsplit("/", 1)[0] + f"/{PG_DB}"
    return env


def setup(binary, env, n):
    """A key, a survey and n link invitations: (key, survey id, [(invitation id, token)])."""
    key = subprocess.run([binary, "api-key", "create", "--workspace", "durability"], env=env,
                         capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
    first = Server(binary, env, key).start()
    try:
        api = Api(first.port, key)
        survey = api.call("POST", "/v1/surveys", {"name": "Durability", "kind": "csat"})["id"]
        links = []
        for _ in range(n):
            inv = api.call("POST", f"/v1/surveys/{survey}/invitations", {"channel": "link"})
            links.append((inv["id"], inv["url"].rsplit("/r/", 1)[1]))
    finally:
        first.stop()
    return key, survey, links


def stored(port, key, survey):
    """Every stored response of the survey ({invitation id: [comments]}) and the stats count."""
    api = Api(port, key)
    by_invitation, cursor = {}, None
    while True:
        page = api.call("GET", f"/v1/surveys/{survey}/responses?limit=500"
                        + (f"&cursor={cursor}" if cursor else ""))
        for r in page["data"]:
            by_invitation.setdefault(r["invitation_id"], []).append(r["comment"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    return by_invitation, api.call("GET", f"/v1/surveys/{survey}/stats")["responses"]


def interrupted(binary, backend, workdir, sig):
    """ANSWERS answers spread over about half a second; `sig` to the server after a quarter."""
    env = environment(backend, workdir)
    key, survey, links = setup(binary, env, ANSWERS)
    server = Server(binary, env, key).start()
    outcomes = {}
    start = threading.Event()

    def one(i, token):
        start.wait()
        time.sleep(random.uniform(0, 0.5))
        outcomes[i] = answer(server.port, token, f"answer {i}")

    threads = [threading.Thread(target=one, args=(i, t)) for i, (_, t) in enumerate(links)]
    for t in threads:
        t.start()
    start.set()
    time.sleep(0.25)
    signalled = time.monotonic()
    server.proc.send_signal(sig)
    for t in threads:
        t.join()
    server.proc.wait(timeout=60)
    took = time.monotonic() - signalled
    rc = server.proc.returncode
    acked = {i for i, s in outcomes.items() if s == 201}
    again = Server(binary, env, key).start()
    try:
        rows, stats_count = stored(again.port, key, survey)
    finally:
        again.stop()
    problems = []
    for i in acked:
        inv = links[i][0]
        if rows.get(inv) != [f"answer {i}"]:
            problems.append(f"acknowledged answer {i} is stored as {rows.get(inv)}")
    duplicates = [inv for inv, comments in rows.items() if len(comments) != 1]
    if duplicates:
        problems.append(f"{len(duplicates)} invitations with more than one response")
    if stats_count != len(rows):
        problems.append(f"stats count {stats_count} but {len(rows)} stored responses")
    if sig == signal.SIGTERM and rc != 0:
        problems.append(f"exit code {rc} after SIGTERM")
    name = "kill -9" if sig == signal.SIGKILL else "SIGTERM"
    print(f"   {backend} {name}: {len(acked)} acknowledged, {len(rows)} stored "
          f"(stats {stats_count}), exit {rc} {took:.2f} s after the signal", flush=True)
    return problems


def two_instances(binary, workdir, n=2000, workers=32):
    env = environment("postgres", workdir)
    key, survey, links = setup(binary, env, n)
    a, b = Server(binary, env, key).start(), Server(binary, env, key).start()
    twice = set(random.sample(range(n), n // 10))
    acked, lock = {}, threading.Lock()
    try:
        def work(share):
            for i in share:
                first, second = (a, b) if i % 2 else (b, a)
                statuses = [answer(first.port, links[i][1], f"answer {i}")]
                if i in twice:
                    statuses.append(answer(second.port, links[i][1], f"answer {i}"))
                with lock:
                    acked[i] = statuses

        threads = [threading.Thread(target=work, args=(range(w, n, workers),))
                   for w in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        rows, stats_count = stored(a.port, key, survey)
    finally:
        a.stop()
        b.stop()
    problems = []
    expected = {i: ([201, 200] if i in twice else [201]) for i in range(n)}
    wrong = [i for i in range(n) if acked.get(i) != expected[i]]
    if wrong:
        problems.append(f"{len(wrong)} answers not acknowledged as expected, e.g. "
                        f"{wrong[0]}: {acked.get(wrong[0])}")
    for i in range(n):
        if rows.get(links[i][0]) != [f"answer {i}"]:
            problems.append(f"answer {i} is stored as {rows.get(links[i][0])}")
            break
    if len(rows) != n or stats_count != n:
        problems.append(f"{len(rows)} stored and stats {stats_count}, expected {n}")
    print(f"   postgres, two instances: {n} links ({len(twice)} answered through both), "
          f"{len(rows)} stored, stats {stats_count}", flush=True)
    return problems


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    binary = sys.argv[1]
    backends = sys.argv[2:] or ["sqlite", "postgres"]
    workdir = tempfile.mkdtemp(prefix="sk-durability-")
    problems = []
    try:
        for backend in backends:
            for sig in (signal.SIGKILL, signal.SIGTERM):
                problems += interrupted(binary, backend, workdir, sig)
        if "postgres" in backends:
            problems += two_instances(binary, workdir)
    finally:
        if "postgres" in backends:
            import psycopg
            base = os.environ.get("DURABILITY_POSTGRES_URL",
                                  "postgres://postgres@127.0.0.1:5432/test")
            with psycopg.connect(base, autocommit=True) as db:
                db.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        shutil.rmtree(workdir, ignore_errors=True)
    if problems:
        for p in problems:
            print("FAIL:", p)
        sys.exit(1)
    print("durability: every acknowledged answer stored exactly once")


if __name__ == "__main__":
    main()
