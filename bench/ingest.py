#!/usr/bin/env python3
"""Answer ingestion under load: N link invitations of one CSAT survey, each answered once by
`wrk` with 64 connections (POST /r/{token}, JSON body), on SQLite and on PostgreSQL, next to
the database's own limit measured in the same run:

  SQLite:   single-row INSERT transactions in WAL with synchronous = FULL (as the service
            runs), from one Python thread, into a plain table in a file beside the service's;
  Postgres: pgbench, a one-row INSERT per transaction, 64 clients, 10 seconds.

Prints answers/s, p50/p99 latency (wrk's), the ratio to the baseline, the CPU time one answer
cost during the load (the service's and, on PostgreSQL, the database's: it moves much less
from run to run than the rate does), the server's peak RSS and its peak anonymous memory (RSS less file pages, such as SQLite's memory map of the
database, which grows with the file and is the OS's page cache), and checks that every answer wrk saw acknowledged (201) is in the survey's stats.

usage: bench/ingest.py BINARY [N] [sqlite|postgres ...]
With BENCH_BEFORE=OTHER_BINARY (an earlier build), that binary runs first on each backend in
the same run, so the table shows before and after side by side.
Postgres is the server at BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test);
a database sk_bench_ingest is created there and dropped afterwards.
"""
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from common import Api, Server, cpu_seconds, postgres_pids  # noqa: E402

PG_DB = "sk_bench_ingest"
SECRET = "bench-secret-key-0123456789-abcdefghijkl"
CONNECTIONS = 64
THREADS = 2


def issue(port, key, survey, n, workers=8):
    """n link invitations, issued by `workers` keep-alive connections; their tokens."""
    tokens, lock = [], threading.Lock()

    def work(count):
        api = Api(port, key)
        mine = []
        for _ in range(count):
            inv = api.call("POST", f"/v1/surveys/{survey}/invitations", {"channel": "link"})
            mine.append(inv["url"].rsplit("/r/", 1)[1])
        with lock:
            tokens.extend(mine)

    share = [n // workers + (1 if i < n % workers else 0) for i in range(workers)]
    threads = [threading.Thread(target=work, args=(c,)) for c in share]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(tokens) == n
    return tokens


def rss_kib(pid, field="VmHWM"):
    """The process's peak (VmHWM) or current (VmRSS) resident memory."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class PeakAnon:
    """Samples the process's RssAnon every 50 ms while it runs (`with PeakAnon(pid) as p:`;
    p.kib afterwards). Its RSS also counts file pages: SQLite's memory map of the database
    grows with the file and is the page cache, shared and dropped under pressure, while
    RssAnon is the memory the process itself holds."""

    def __init__(self, pid):
        self.pid, self.kib, self.stop = pid, 0, threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)

    def sample(self):
        while not self.stop.is_set():
            try:
                self.kib = max(self.kib, rss_kib(self.pid, "RssAnon"))
            except OSError:
                return
            self.stop.wait(0.05)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def run_wrk(port, key, survey, tokens_file, n):
    """Drives wrk until the stats hold every answer (polled every 250 ms), then interrupts it;
    wrk reports on SIGINT. answers/s is the answers stored over the time to the last of them.
    wrk's percentiles cover its requests, of which the idle connections' one-a-second
    /healthz calls at the very end are a few."""
    env = dict(os.environ, TOKENS_FILE=tokens_file, WRK_THREADS=str(THREADS))
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ingest.lua")
    api = Api(port, key)
    t = time.perf_counter()
    proc = subprocess.Popen(
        ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", "-d600s", "--timeout", "30s", "--latency",
         "-s", script, f"http://127.0.0.1:{port}"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Done when every token is answered, or when nothing more arrives for a second (wrk may
    # draw a token for a request it never sends); the time is that of the last answer seen.
    stored, last_change, secs = 0, t, 0.0
    while proc.poll() is None:
        now_stored = api.call("GET", f"/v1/surveys/{survey}/stats")["responses"]
        now = time.perf_counter()
        if now_stored != stored:
            stored, last_change = now_stored, now
            secs = now - t
        if os.environ.get("BENCH_DEBUG"):
            print(f"   {stored} stored after {now - t:.2f} s", flush=True)
        if stored >= n or (stored > 0 and now - last_change > 1.0):
            break
        time.sleep(0.25)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    figures = dict(re.findall(r"^([A-Z0-9_]+) (\d+)$", out, re.M))
    if "ACKED" not in figures:
        raise RuntimeError(f"wrk did not report:\n{out}\n{err}")
    return {
        "acked": int(figures["ACKED"]),
        "refused": int(figures["REFUSED"]),
        "p50_ms": int(figures["P50_US"]) / 1000,
        "p99_ms": int(figures["P99_US"]) / 1000,
        "secs": secs,
        "stored": stored,
    }


def baseline_sqlite(workdir, rows=5000):
    path = os.path.join(workdir, "baseline.db")
    for stale in (path, path + "-wal", path + "-shm"):
        if os.path.exists(stale):
            os.remove(stale)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    db.execute("CREATE TABLE answers (id INTEGER PRIMARY KEY, token TEXT, score INTEGER)")
    t = time.perf_counter()
    for i in range(rows):
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO answers (token, score) VALUES (?, ?)", (f"t{i}", 4))
        db.execute("COMMIT")
    secs = time.perf_counter() - t
    db.close()
    return rows / secs, "single-row transactions, WAL, synchronous=FULL"


def baseline_postgres(url, workdir):
    import psycopg
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("DROP TABLE IF EXISTS bench_answers")
        db.execute("CREATE TABLE bench_answers (id bigserial PRIMARY KEY, token text, score int)")
    script = os.path.join(workdir, "insert.sql")
    with open(script, "w") as f:
        f.write("INSERT INTO bench_answers (token, score) VALUES ('t', 4);\n")
    out = subprocess.run(
        ["pgbench", "-n", "-c", str(CONNECTIONS), "-j", str(THREADS), "-T", "10", "-f", script, url],
        capture_output=True, text=True, check=True).stdout
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("DROP TABLE bench_answers")
    return tps, f"pgbench one-row INSERT, {CONNECTIONS} clients"


def bench(label, binary, backend, n, workdir):
    env = dict(os.environ, SECRET_KEY=SECRET, RUST_LOG="warn",
               ANSWER_RATE_PER_MINUTE_IP="1000000", ANSWER_RATE_PER_MINUTE_LINK="1000000",
               API_RATE_PER_MINUTE_KEY="1000000", DATABASE_POOL_SIZE="16")
    base_url = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
    if backend == "sqlite":
        env["DATABASE_URL"] = f"sqlite://{workdir}/ingest-{label.replace(' ', '-')}.db"
    else:
        import psycopg
        with psycopg.connect(base_url, autocommit=True) as db:
            db.execute(f"DROP DATABASE IF EXISTS {PG_DB}")
            db.execute(f"CREATE DATABASE {PG_DB}")
        env["DATABASE_URL"] = base_url.rsplit("/", 1)[0] + f"/{PG_DB}"
    key = subprocess.run([binary, "api-key", "create", "--workspace", "bench"], env=env,
                         capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
    server = Server(binary, env, key)
    try:
        started = time.perf_counter()
        with server as api:
            # Start to first answered API call (polled every 100 ms), then memory at rest.
            cold_start = time.perf_counter() - started
            idle_rss = rss_kib(server.proc.pid, "VmRSS")
            survey = api.call("POST", "/v1/surveys", {"name": "Ingest", "kind": "csat"})["id"]
            port = api.conn.port
            t = time.perf_counter()
            tokens = issue(port, key, survey, n)
            issued_secs = time.perf_counter() - t
            print(f"   issued {n} invitations in {issued_secs:.1f} s", flush=True)
            tokens_file = os.path.join(workdir, f"tokens-{backend}.txt")
            with open(tokens_file, "w") as f:
                f.write("\n".join(tokens) + "\n")
            database_pids = postgres_pids() if backend == "postgres" else []
            cpu_before = cpu_seconds([server.proc.pid]), cpu_seconds(database_pids)
            with PeakAnon(server.proc.pid) as anon:
                run = run_wrk(port, key, survey, tokens_file, n)
            cpu_after = cpu_seconds([server.proc.pid]), cpu_seconds(database_pids)
            rss = rss_kib(server.proc.pid)
            scrape = Api(port, key).conn
            scrape.request("GET", "/metrics")
            metrics = scrape.getresponse().read().decode()
            batch = dict(re.findall(r"^scorekeeper_answer_batch_size_(sum|count) (\S+)$",
                                    metrics, re.M))
            stats = Api(port, key).call("GET", f"/v1/surveys/{survey}/stats")
        if backend == "sqlite":
            base, how = baseline_sqlite(workdir)
        else:
            base, how = baseline_postgres(env["DATABASE_URL"], workdir)
    finally:
        if backend == "postgres":
            import psycopg
            with psycopg.connect(base_url, autocommit=True) as db:
                db.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
    answers_per_s = run["stored"] / run["secs"]
    # The answer phase's CPU per answer: the service's (HTTP and the writer), and on
    # PostgreSQL its processes' (each answer's SQL). wrk's own CPU is not counted.
    cpu_us = [(a - b) / max(run["stored"], 1) * 1e6 for a, b in zip(cpu_after, cpu_before)]
    return {
        "label": label, "backend": backend, "n": n, "issued_per_s": n / issued_secs, **run,
        "answers_per_s": answers_per_s, "baseline": base, "baseline_how": how,
        "ratio": answers_per_s / base, "peak_rss_mib": rss / 1024,
        "peak_anon_mib": anon.kib / 1024,
        "idle_rss_mib": idle_rss / 1024, "cold_start_s": cold_start,
        "mean_batch": (float(batch["sum"]) / float(batch["count"])
                       if batch.get("count", "0") != "0" else None),
        "stored": stats["responses"],
        "cpu_us": cpu_us if database_pids else cpu_us[:1],
    }


def cpu_figure(cpu_us):
    """`150 service` or `150 service + 190 PostgreSQL`."""
    return " + ".join(f"{us:,.0f} {who}" for us, who in zip(cpu_us, ["service", "PostgreSQL"]))


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    binary = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    backends = sys.argv[3:] or ["sqlite", "postgres"]
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install -y wrk)")
    workdir = tempfile.mkdtemp(prefix="sk-ingest-")
    builds = [("this build", binary)]
    if os.environ.get("BENCH_BEFORE"):
        builds.insert(0, ("before", os.environ["BENCH_BEFORE"]))
    results = []
    try:
        for backend in backends:
            for label, path in builds:
                print(f"== {backend}, {label}: {n} invitations, each answered once by wrk with "
                      f"{CONNECTIONS} connections", flush=True)
                results.append(bench(label, path, backend, n, workdir))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print()
    print("| backend | build | answers | answers/s | p50 ms | p99 ms | DB limit/s (same run) | ratio | "
          "CPU µs per answer | RSS idle / peak MiB | peak anonymous MiB | cold start s | answers per commit | "
          "stored = acknowledged |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    ok = True
    for r in results:
        # wrk may draw a token or two it never sends: those are simply not answered.
        same = r["stored"] == r["acked"] and r["refused"] == 0 and r["acked"] >= r["n"] - THREADS
        ok &= same
        print(f"| {r['backend']} | {r['label']} | {r['acked']} | {r['answers_per_s']:,.0f} | {r['p50_ms']:.1f} | "
              f"{r['p99_ms']:.1f} | {r['baseline']:,.0f} ({r['baseline_how']}) | "
              f"{r['ratio']:.2f}x | {cpu_figure(r['cpu_us'])} | {r['idle_rss_mib']:.1f} / {r['peak_rss_mib']:.1f} | "
              f"{r['peak_anon_mib']:.1f} | "
              f"{r['cold_start_s']:.2f} | "
              f"{'%.1f' % r['mean_batch'] if r['mean_batch'] else '1 (no group commit)'} | "
              f"{'yes' if same else 'NO'} ({r['stored']} stored, {r['refused']} refused) |")
    if not ok:
        sys.exit("some acknowledged answer is missing, or some answer was refused")


if __name__ == "__main__":
    main()
