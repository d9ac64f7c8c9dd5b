#!/usr/bin/env python3
"""Email throughput benchmark: queue N email invitations through the API and time their
delivery to a local SMTP sink (tests/support/smtp_sink.py).

Prints, from one run:
  - baseline: the sink's own accept rate, N messages sent by smtplib over as many
    connections as the service's SMTP pool (what "as fast as SMTP allows" means here),
    measured three times, before, between and after the service's two phases, each time
    into a fresh sink: the sink fsyncs every message, and this machine's fsync varies from
    minute to minute, so each phase is compared with the baselines on either side of it;
  - the service end to end: invitations/s accepted by the API (one client posting one at a
    time), emails/s from the first POST to the last delivery, and the ratio to the baseline;
  - the service's outbox alone: N more invitations posted with one `send_at` in the near
    future, then emails/s from that instant to the last delivery (claiming, rendering,
    sending and recording each outcome, with no API traffic alongside), and its ratio;
  - the CPU time the outbox phase cost per email, of the service and (on PostgreSQL) of
    the database's processes: steadier than the rates from run to run, since it does not
    depend on how fast the machine's disk syncs the sink's files at that minute.

Usage: bench/email_throughput.py BINARY [N]   (scripts/bench-email builds and runs it)
Set BENCH_DATABASE_URL=postgres://… to run against PostgreSQL instead of a temp SQLite file.
"""
import http.client
import json
import os
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage

sys.path.insert(0, os.path.dirname(__file__))
from common import cpu_seconds, postgres_pids  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SINK = os.path.join(HERE, "..", "tests", "support", "smtp_sink.py")
POOL = 4


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def count(directory):
    return sum(1 for f in os.listdir(directory) if f.endswith(".eml"))


def wait_for(directory, n, timeout):
    start = time.monotonic()
    while count(directory) < n:
        if time.monotonic() - start > timeout:
            raise SystemExit(f"timed out: {count(directory)} of {n} messages arrived")
        time.sleep(0.01)
    return time.monotonic()


def start_sink(port, directory):
    proc = subprocess.Popen([sys.executable, SINK, "--port", str(port), "--dir", directory],
                            stdout=subprocess.PIPE, text=True)
    if proc.stdout.readline().strip() != "READY":
        raise SystemExit("the SMTP sink did not start (is aiosmtpd installed? scripts/setup-test-tools)")
    return proc


def baseline(n, port, directory):
    """n similar-sized messages straight to the sink over POOL connections."""
    body = "x" * 6000  # about the size of a rendered survey email
    per = [n // POOL + (1 if i < n % POOL else 0) for i in range(POOL)]

    def worker(k):
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for i in range(k):
                msg = EmailMessage()
                msg["From"], msg["To"], msg["Subject"] = "b@bench.test", f"r{i}@example.com", "baseline"
                msg.set_content(body)
                smtp.send_message(msg)

    start = time.monotonic()
    threads = [threading.Thread(target=worker, args=(k,)) for k in per]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    end = wait_for(directory, n, 120)
    return n / (end - start)


def api(conn, method, path, key, body=None):
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    res = conn.getresponse()
    data = res.read()
    if res.status >= 300:
        raise SystemExit(f"{method} {path} → {res.status}: {data[:300]!r}")
    return json.loads(data)


def main():
    binary = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    work = tempfile.mkdtemp(prefix="sk-bench-")
    procs = []
    try:
        svc_dir = os.path.join(work, "service")
        svc_port, http_port = free_port(), free_port()

        def raw():
            """The baseline once more, into a sink of its own."""
            port, directory = free_port(), os.path.join(work, f"baseline-{len(raw_rates)}")
            sink = start_sink(port, directory)
            try:
                raw_rates.append(baseline(n, port, directory))
            finally:
                sink.terminate()
                sink.wait()

        raw_rates = []
        raw()

        procs.append(start_sink(svc_port, svc_dir))
        env = dict(os.environ,
                   DATABASE_URL=os.environ.get("BENCH_DATABASE_URL", f"sqlite://{work}/bench.db"),
                   LISTEN_ADDR=f"127.0.0.1:{http_port}", SMTP_URL=f"smtp://127.0.0.1:{svc_port}",
                   MAIL_FROM="surveys@bench.test", SMTP_POOL_SIZE=str(POOL), OUTBOX_POLL_MS="20",
                   SECRET_KEY=os.urandom(24).hex(), API_RATE_PER_MINUTE_KEY="1000000",
                   OUTBOX_BATCH="64", RUST_LOG="warn")
        key = subprocess.run([binary, "api-key", "create", "--workspace", f"bench-{os.getpid()}"], env=env,
                             check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        server = subprocess.Popen([binary, "serve"], env=env)
        procs.append(server)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", http_port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        conn = http.client.HTTPConnection("127.0.0.1", http_port)
        survey = api(conn, "POST", "/v1/surveys", key, {"name": "bench", "kind": "nps", "throttle_days": 0})["id"]

        start = time.monotonic()
        for i in range(n):
            api(conn, "POST", f"/v1/surveys/{survey}/invitations", key,
                {"channel": "email", "recipient": {"email": f"p{i}@example.com"}, "properties": {"ticket_id": i}})
        queued = time.monotonic()
        end = wait_for(svc_dir, n, 600)
        rate = n / (end - start)
        accepted = n / (queued - start)
        raw()

        # The server closes a keep-alive connection idle for a few seconds: start afresh.
        conn.close()
        conn = http.client.HTTPConnection("127.0.0.1", http_port)

        # The outbox alone: every email due at one instant, after all of them are queued.
        due = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=int(n / accepted * 1.5) + 3)
        send_at = due.strftime("%Y-%m-%dT%H:%M:%SZ")
        for i in range(n):
            api(conn, "POST", f"/v1/surveys/{survey}/invitations", key,
                {"channel": "email", "recipient": {"email": f"q{i}@example.com"}, "send_at": send_at})
        lead = (due - datetime.now(timezone.utc)).total_seconds()
        due_monotonic = time.monotonic() + lead
        if lead <= 0:
            raise SystemExit(f"queueing took {-lead:.1f} s past send_at; the outbox figure would be wrong")
        if count(svc_dir) != n:
            raise SystemExit(f"{count(svc_dir) - n} emails went out before their send_at")
        time.sleep(max(0.0, due_monotonic - time.monotonic() - 0.2))
        database_pids = postgres_pids() if env["DATABASE_URL"].startswith("postgres") else []
        cpu_before = cpu_seconds([server.pid]), cpu_seconds(database_pids)
        drained = wait_for(svc_dir, 2 * n, 600 + lead) - due_monotonic
        cpu_after = cpu_seconds([server.pid]), cpu_seconds(database_pids)
        drain_rate = n / drained
        raw()

        before, between, after = raw_rates
        print(f"emails: {n}, database: {env['DATABASE_URL'].split(':')[0]}, SMTP pool: {POOL}")
        print(f"baseline  raw SMTP, before / between / after: {before:.1f} / {between:.1f} / {after:.1f} emails/s")
        print(f"service   API accepted invitations      : {accepted:8.1f} invitations/s")
        print(f"service   end to end (POST→delivered)   : {rate:8.1f} emails/s")
        print(f"ratio     end to end / raw SMTP         : {rate / ((before + between) / 2):8.2f}"
              "   (to the mean of the baselines before and after it)")
        print(f"service   outbox alone (due→delivered)  : {drain_rate:8.1f} emails/s")
        print(f"ratio     outbox / raw SMTP             : {drain_rate / ((between + after) / 2):8.2f}"
              "   (likewise)")
        per_email = [(a - b) / n * 1e6 for a, b in zip(cpu_after, cpu_before)]
        print(f"cpu       outbox alone, per email       : {per_email[0]:8.0f} µs service"
              + (f", {per_email[1]:.0f} µs PostgreSQL" if database_pids else ""))
        time.sleep(1)
        delivered = count(svc_dir)
        if delivered != 2 * n:
            raise SystemExit(f"expected exactly {2 * n} emails, the sink has {delivered}")
    finally:
        for p in reversed(procs):
            p.terminate()
            p.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
