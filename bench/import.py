#!/usr/bin/env python3
"""History import at scale: N answers in the shape of a Delighted response export (365 days,
NPS 0-10, about 30% with a comment, 50 agents, one address per row), loaded through

  scorekeeper import responses --survey ID --format delighted FILE

and checked through the HTTP API (the survey's stats count every row), next to the database's
own bulk insert rate of the same rows into a plain table of the file's columns, measured in the
same run, on the same database:

  SQLite:   python sqlite3 executemany in one transaction, WAL, synchronous = FULL (as the
            service runs), the rows parsed from the file beforehand;
  Postgres: COPY ... FROM STDIN (FORMAT csv) of the file itself, through psycopg.

Also times `--dry-run` (every row checked, nothing written) and reports each command's peak RSS.

usage: bench/import.py BINARY [ROWS] [sqlite|postgres ...]
Postgres is the server at BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test);
a database sk_bench_import is created there and dropped afterwards.
BENCH_KEEP=1 keeps the CSV file and the SQLite database (their paths are printed).
"""
import csv
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone

sys.path.insert(0, os.path.dirname(__file__))
from common import Server  # noqa: E402

AGENTS = 50
HEADER = ["Response ID", "Email", "Name", "Score", "Comment", "Response Timestamp", "Tags", "Notes",
          "Purchase Experience", "Delighted Source", "Agent"]
RAW_COLUMNS = ["response_id", "email", "name", "score", "comment", "response_timestamp", "tags",
               "notes", "purchase_experience", "delighted_source", "agent"]
COMMENTS = [
    "Quick and friendly, thanks!",
    "Took three emails to get an answer.",
    "Great support, solved my problem in minutes",
    "The agent was helpful, but the refund took over a week.",
    'They said "we\'ll call you back" and never did',
    "Fine.",
    "Love the product, hate the billing page.\nPlease fix the invoice PDFs.",
    "Délai de réponse trop long, mais très aimable",
]
TAGS = ["billing", "shipping", "follow-up", "bug", "feature request", "praise"]
NOTES = ["Called back, resolved.", "Escalated to tier 2", "Refund issued; see ticket"]
EXPERIENCES = ["Online", "In store", "Phone order", "Marketplace"]
SOURCES = ["email", "email", "email", "web", "sms", "link"]
PG_DB = "sk_bench_import"
SECRET = "bench-secret-key-0123456789-abcdefghijkl"


def local_zone():
    """Delighted exported in the account's zone: Los Angeles (-0800 / -0700), fixed -0800 if
    the zone database is missing."""
    try:
        from zoneinfo import ZoneInfo
        return ZoneInfo("America/Los_Angeles")
    except Exception:
        return timezone(timedelta(hours=-8))


def write_csv(path, rows, end):
    rng = random.Random(7)
    zone = local_zone()
    start = end - timedelta(days=365)
    span = int((end - start).total_seconds()) - 1
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for i in range(rows):
            at = (start + timedelta(seconds=rng.randrange(span))).astimezone(zone)
            tags = ", ".join(rng.sample(TAGS, rng.randint(1, 2))) if rng.random() < 0.2 else ""
            w.writerow([
                str(300_000_000 + i),
                f"p{i}@example.com",
                f"Person {i}",
                rng.choice([10, 10, 10, 9, 9, 9, 8, 8, 7, 6, 5, 3, 1, 0]),
                rng.choice(COMMENTS) if rng.random() < 0.3 else "",
                at.strftime("%Y-%m-%d %H:%M:%S %z"),
                tags,
                rng.choice(NOTES) if rng.random() < 0.05 else "",
                rng.choice(EXPERIENCES),
                rng.choice(SOURCES),
                f"agent-{rng.randrange(AGENTS):02}",
            ])


def peak_rss_kib(pid):
    """The process's own high-water RSS (VmHWM), or 0 once it has gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def measured(cmd, env, workdir):
    """Runs cmd; returns (seconds, stdout, peak RSS in KiB of that process alone).

    The peak is the process's VmHWM, read every 20 ms until it exits. Not wait4's ru_maxrss:
    Linux counts into it the memory of this Python process copied at fork, which is large
    once a baseline has read the file into memory."""
    out_path, err_path = os.path.join(workdir, "cmd.out"), os.path.join(workdir, "cmd.err")
    with open(out_path, "w") as out, open(err_path, "w") as err:
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err)
        peak = 0
        while proc.poll() is None:
            peak = max(peak, peak_rss_kib(proc.pid))
            time.sleep(0.02)
        secs = time.perf_counter() - t
    with open(out_path) as f:
        stdout = f.read()
    if proc.returncode != 0:
        with open(err_path) as f:
            tail = f.read()[-2000:]
        raise RuntimeError(f"{' '.join(cmd)} exited with {proc.returncode}:\n{tail}")
    return secs, stdout, peak


def baseline_sqlite(db_path, csv_path, rows):
    with open(csv_path, newline="") as f:
        reader = csv.reader(f)
        next(reader)
        data = list(reader)
    assert len(data) == rows, f"read {len(data)} rows back from the CSV"
    db = sqlite3.connect(db_path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    db.execute(f"CREATE TABLE raw_import ({', '.join(c + ' TEXT' for c in RAW_COLUMNS)})")
    insert = f"INSERT INTO raw_import VALUES ({', '.join('?' for _ in RAW_COLUMNS)})"
    t = time.perf_counter()
    db.execute("BEGIN")
    db.executemany(insert, data)
    db.execute("COMMIT")
    secs = time.perf_counter() - t
    got = db.execute("SELECT count(*) FROM raw_import").fetchone()[0]
    db.execute("DROP TABLE raw_import")
    db.close()
    assert got == rows, f"raw table holds {got} rows"
    return secs


def baseline_postgres(url, csv_path, rows):
    import psycopg
    with psycopg.connect(url) as db:
        db.execute(f"CREATE TABLE raw_import ({', '.join(c + ' text' for c in RAW_COLUMNS)})")
        db.commit()
        t = time.perf_counter()
        with db.cursor() as cur:
            with cur.copy("COPY raw_import FROM STDIN (FORMAT csv, HEADER true)") as copy, \
                    open(csv_path, "rb") as f:
                while block := f.read(1 << 20):
                    copy.write(block)
        db.commit()
        secs = time.perf_counter() - t
        got = db.execute("SELECT count(*) FROM raw_import").fetchone()[0]
        db.execute("DROP TABLE raw_import")
        db.commit()
    assert got == rows, f"raw table holds {got} rows"
    return secs


def run(binary, rows, backend, csv_path, workdir):
    pg_admin = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
    if backend == "sqlite":
        db_path = os.path.join(workdir, "bench.db")
        url = f"sqlite://{db_path}"
    else:
        subprocess.run(["psql", pg_admin, "-qc", f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)"], check=True)
        subprocess.run(["psql", pg_admin, "-qc", f"CREATE DATABASE {PG_DB}"], check=True)
        url = pg_admin.rsplit("/", 1)[0] + "/" + PG_DB
    env = dict(os.environ, DATABASE_URL=url, RUST_LOG="warn", SECRET_KEY=SECRET)
    try:
        key = subprocess.run([binary, "api-key", "create", "--workspace", "bench"], env=env, check=True,
                             capture_output=True, text=True).stdout.strip().splitlines()[-1]
        with Server(binary, env, key) as api:
            survey = api.call("POST", "/v1/surveys", {"name": "Delighted history", "kind": "nps"})["id"]
        cmd = [binary, "import", "responses", "--survey", survey, "--format", "delighted"]

        dry_s, out, dry_rss = measured(cmd + ["--dry-run", csv_path], env, workdir)
        assert f"dry run: {rows} valid rows" in out, f"dry run said: {out.strip()}"
        import_s, out, import_rss = measured(cmd + [csv_path], env, workdir)
        assert f"imported {rows} rows" in out, f"import said: {out.strip()}"

        with Server(binary, env, key) as api:
            counted = api.call("GET", f"/v1/surveys/{survey}/stats")["responses"]
        assert counted == rows, f"the stats count {counted} responses, the file holds {rows}"

        if backend == "sqlite":
            raw_s = baseline_sqlite(db_path, csv_path, rows)
        else:
            raw_s = baseline_postgres(url, csv_path, rows)
        return {"import_s": import_s, "import_rss": import_rss, "dry_s": dry_s, "dry_rss": dry_rss,
                "raw_s": raw_s, "counted": counted}
    finally:
        if backend == "postgres":
            subprocess.run(["psql", pg_admin, "-qc", f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)"])


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    binary = os.path.abspath(sys.argv[1])
    rows = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    backends = sys.argv[3:] or ["sqlite", "postgres"]
    for backend in backends:
        if backend not in ("sqlite", "postgres"):
            sys.exit(f"unknown backend {backend!r}: sqlite or postgres")
    keep = os.environ.get("BENCH_KEEP") == "1"
    workdir = tempfile.mkdtemp(prefix="sk-bench-import-")
    try:
        csv_path = os.path.join(workdir, "delighted-export.csv")
        end = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=1)
        write_csv(csv_path, rows, end)
        size = os.path.getsize(csv_path) / 2**20
        print(f"{rows:,} answers in a Delighted export ({size:,.1f} MiB, {len(HEADER)} columns) over 365 days, "
              f"{AGENTS} agents; raw insert: the same rows into a plain table of {len(HEADER)} text columns, "
              f"same database, same run (SQLite: executemany in one transaction, WAL, synchronous=FULL; "
              f"Postgres: COPY FORMAT csv)")
        print("| backend | rows | import s | import rows/s | import peak RSS MiB | dry run s | dry run rows/s "
              "| dry run peak RSS MiB | raw insert rows/s | import / raw insert |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for backend in backends:
            dbdir = tempfile.mkdtemp(prefix=f"sk-bench-import-{backend}-", dir=workdir)
            r = run(binary, rows, backend, csv_path, dbdir)
            rate, dry, raw = rows / r["import_s"], rows / r["dry_s"], rows / r["raw_s"]
            print(f"| {backend} | {rows:,} | {r['import_s']:.2f} | {rate:,.0f} | {r['import_rss'] / 1024:,.0f} "
                  f"| {r['dry_s']:.2f} | {dry:,.0f} | {r['dry_rss'] / 1024:,.0f} | {raw:,.0f} "
                  f"| {rate / raw:.3f} (raw is {raw / rate:,.0f}x faster) |", flush=True)
    finally:
        if keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
