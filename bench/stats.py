#!/usr/bin/env python3
"""Stats at scale: N answers over 365 days, 50 agents and 5 teams, loaded through
`scorekeeper import responses`, then the p50 and p99 of

  (a) a 90-day stats call, and
  (b) a 90-day weekly trend grouped by agent,

through the HTTP API (until the last byte of the answer, not counting the client's JSON
parsing), next to the same questions answered by a naive GROUP BY over the raw
tables in the same run, on the same database, with the ratio.

usage: bench/stats.py BINARY [ROWS] [sqlite|postgres ...]
Postgres is the server at BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test);
a database sk_bench_stats is created there and dropped afterwards.
BENCH_KEEP=1 keeps the SQLite database (its path is printed) for a closer look.
BENCH_BEFORE=path/to/older/scorekeeper also times (a), (b) and (c) with that build on the same
database in the same run (after the current build), checks that both answer (c) alike, and
prints its rows marked "before".
"""
import csv
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone

sys.path.insert(0, os.path.dirname(__file__))
from common import Api, Server, free_port  # noqa: E402

CALLS = 200
NAIVE_CALLS = 5
AGENTS = 50
TEAMS = 5


def write_csv(path, rows, end):
    rng = random.Random(7)
    start = end - timedelta(days=365)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["score", "created_at", "agent", "team", "ticket_id"])
        span = int((end - start).total_seconds()) - 1
        for i in range(rows):
            at = start + timedelta(seconds=rng.randrange(span))
            agent = rng.randrange(AGENTS)
            w.writerow([rng.choice([10, 10, 9, 9, 9, 8, 7, 6, 3, 0]), at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        f"agent-{agent:02}", f"team-{agent % TEAMS}", f"T{i}"])


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def timed(fn, n):
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def naive_queries(backend):
    """The two questions as one would first write them: GROUP BY over the raw tables."""
    if backend == "sqlite":
        week = "strftime('%Y-%W', i.created_at)"
        p = "?"
    else:
        week = "date_trunc('week', i.created_at)"
        p = "%s"
    overall = (
        f"SELECT r.score, count(*) FROM invitations i JOIN responses r ON r.invitation_id = i.id "
        f"WHERE i.survey_id = {p} AND i.created_at >= {p} AND i.created_at < {p} AND r.suspect = false "
        f"GROUP BY r.score"
    )
    issued = (
        f"SELECT count(*) FROM invitations i WHERE i.survey_id = {p} AND i.created_at >= {p} "
        f"AND i.created_at < {p} AND i.status NOT IN ('failed', 'suppressed')"
    )
    weekly = (
        f"SELECT p.value, {week}, r.score, count(*) FROM invitations i "
        f"JOIN responses r ON r.invitation_id = i.id "
        f"JOIN invitation_properties p ON p.invitation_id = i.id AND p.key = 'agent' "
        f"WHERE i.survey_id = {p} AND i.created_at >= {p} AND i.created_at < {p} AND r.suspect = false "
        f"GROUP BY p.value, {week}, r.score"
    )
    return overall, issued, weekly


def run(binary, rows, backend, workdir):
    pg_admin = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
    if backend == "sqlite":
        db_path = os.path.join(workdir, "bench.db")
        url = f"sqlite://{db_path}"
    else:
        subprocess.run(["psql", pg_admin, "-qc", "DROP DATABASE IF EXISTS sk_bench_stats WITH (FORCE)"], check=True)
        subprocess.run(["psql", pg_admin, "-qc", "CREATE DATABASE sk_bench_stats"], check=True)
        url = pg_admin.rsplit("/", 1)[0] + "/sk_bench_stats"
    port = free_port()
    env = dict(os.environ, DATABASE_URL=url, LISTEN_ADDR=f"127.0.0.1:{port}", RUST_LOG="warn",
               SECRET_KEY="bench-secret-key-0123456789-abcdefghijkl")
    key = subprocess.run([binary, "api-key", "create", "--workspace", "bench"], env=env, check=True,
                         capture_output=True, text=True).stdout.strip().splitlines()[-1]
    server = subprocess.Popen([binary, "serve"], env=env)
    try:
        api = None
        for _ in range(100):
            try:
                api = Api(port, key)
                api.call("GET", "/v1/surveys")
                break
            except (ConnectionError, OSError):
                time.sleep(0.1)
        survey = api.call("POST", "/v1/surveys", {"name": "Support NPS", "kind": "nps"})["id"]
        end = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=1)
        path = os.path.join(workdir, "history.csv")
        write_csv(path, rows, end)
        t = time.perf_counter()
        subprocess.run([binary, "import", "responses", "--survey", survey, path], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        load_s = time.perf_counter() - t
        frm = (end - timedelta(days=90)).strftime("%Y-%m-%dT%H:%M:%SZ")
        to = end.strftime("%Y-%m-%dT%H:%M:%SZ")
        a_path = f"/v1/surveys/{survey}/stats?from={frm}&to={to}"
        b_path = f"{a_path}&interval=week&group_by=agent"
        check = api.call("GET", a_path)
        api.call("GET", b_path)
        a = timed(lambda: api.fetch(a_path), CALLS)
        b = timed(lambda: api.fetch(b_path), CALLS)
        # The same trend cut at Berlin's midnights (days holding one are read by quarter hour).
        c_path = f"{b_path}&tz=Europe/Berlin"
        api.call("GET", c_path)
        c = timed(lambda: api.fetch(c_path), CALLS)
        # Changing the survey's segments rebuilds its rollups from every stored answer: minutes
        # at a million on SQLite, so only with BENCH_REBUILD=1.
        before = None
        if os.environ.get("BENCH_BEFORE"):
            answer_c = api.call("GET", c_path)
            server.terminate()
            server.wait()
            with Server(os.path.abspath(os.environ["BENCH_BEFORE"]), env, key) as old:
                old_c = old.call("GET", c_path)
                assert old_c == answer_c, "the builds answer (c) differently"
                for path in (a_path, b_path, c_path):
                    old.call("GET", path)
                before = [timed(lambda p=p: old.fetch(p), CALLS) for p in (a_path, b_path, c_path)]
            server = subprocess.Popen([binary, "serve"], env=env)
            for _ in range(100):
                try:
                    api = Api(port, key)
                    api.call("GET", "/v1/surveys")
                    break
                except (ConnectionError, OSError):
                    time.sleep(0.1)
        rebuild_s = None
        if os.environ.get("BENCH_REBUILD") == "1":
            t = time.perf_counter()
            api.call("PATCH", f"/v1/surveys/{survey}", {"segment_by": ["agent", "team", "channel"]})
            rebuild_s = time.perf_counter() - t
            again = api.call("GET", a_path)
            assert again["responses"] == check["responses"], "a rebuild changed the figures"

        overall, issued, weekly = naive_queries(backend)
        lo = (end - timedelta(days=90)).strftime("%Y-%m-%d %H:%M:%S")
        hi = end.strftime("%Y-%m-%d %H:%M:%S")
        if backend == "sqlite":
            db = sqlite3.connect(db_path)
            cur = db.cursor()
        else:
            import psycopg
            db = psycopg.connect(url)
            cur = db.cursor()
            lo, hi = end - timedelta(days=90), end
            lo, hi = lo.replace(tzinfo=None), hi.replace(tzinfo=None)
        args = (survey, lo, hi)

        def naive_a():
            cur.execute(overall, args)
            rows_a = cur.fetchall()
            cur.execute(issued, args)
            cur.fetchall()
            return rows_a

        def naive_b():
            cur.execute(weekly, args)
            return cur.fetchall()

        got = sum(n for _, n in naive_a())
        assert got == check["responses"], f"naive {got} vs service {check['responses']}"
        na = timed(naive_a, NAIVE_CALLS)
        nb = timed(naive_b, NAIVE_CALLS)
        db.close()
        return {
            "backend": backend, "rows": rows, "load_s": load_s, "responses_90d": check["responses"],
            "a": (statistics.median(a), pct(a, 99)), "b": (statistics.median(b), pct(b, 99)),
            "c": (statistics.median(c), pct(c, 99)), "rebuild_s": rebuild_s,
            "before": [(statistics.median(x), pct(x, 99)) for x in before] if before else None,
            "naive_a": statistics.median(na), "naive_b": statistics.median(nb),
        }
    finally:
        server.terminate()
        server.wait()
        if backend == "postgres":
            subprocess.run(["psql", pg_admin, "-qc", "DROP DATABASE IF EXISTS sk_bench_stats WITH (FORCE)"])


def main():
    binary = os.path.abspath(sys.argv[1])
    rows = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    backends = sys.argv[3:] or ["sqlite", "postgres"]
    print(f"{rows:,} answers over 365 days, {AGENTS} agents, {TEAMS} teams; {CALLS} calls each, "
          f"naive queries {NAIVE_CALLS} times each")
    print("| backend | import rows/s | call | p50 ms | p99 ms | naive GROUP BY p50 ms | naive / p50 | naive / p99 |")
    print("|---|---|---|---|---|---|---|---|")
    results = []
    for backend in backends:
        workdir = tempfile.mkdtemp(prefix="sk-bench-stats-")
        try:
            r = run(binary, rows, backend, workdir)
        finally:
            if os.environ.get("BENCH_KEEP") == "1" and backend == "sqlite":
                print(f"kept {os.path.join(workdir, 'bench.db')}")
            else:
                shutil.rmtree(workdir, ignore_errors=True)
        rate = r["rows"] / r["load_s"]
        lines = [("(a) 90-day stats", r["a"], r["naive_a"]),
                 ("(b) 90-day weekly by agent", r["b"], r["naive_b"]),
                 ("(c) as (b), in Europe/Berlin (vs (b)'s naive)", r["c"], r["naive_b"])]
        if r["before"]:
            lines += [(f"before: {name}", old, naive)
                      for (name, _, naive), old in zip(lines, r["before"])]
        for name, (p50, p99), naive in lines:
            print(f"| {backend} | {rate:,.0f} | {name} | {p50:.2f} | {p99:.2f} | {naive:.1f} | "
                  f"{naive / p50:.0f}x | {naive / p99:.0f}x |")
        results.append((backend, r["rebuild_s"], r["rows"]))
    for backend, secs, n in results:
        if secs is None:
            continue
        print(f"{backend}: PATCH segment_by rebuilt the rollups of {n:,} answers in {secs:.1f} s "
              f"({n / secs:,.0f} answers/s)")


if __name__ == "__main__":
    main()
