"""What the browser tests share: the real server binary on a free port with its own SQLite
file and an API key, checks that fail with a message, and a runner that runs every case,
reports each, takes a screenshot of a failed one, and exits 1 when any failed."""

import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("BROWSER_ARTIFACTS") or ROOT / "target" / "browser-artifacts")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Headless Chromium says "HeadlessChrome", which the server rightly treats as a scanner
# (opens not counted, answers suspect): the browser here plays a person.
USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


class Failure(Exception):
    """A check that did not hold; its message says which."""


def check(cond, message):
    if not cond:
        raise Failure(message)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def eventually(probe, message, timeout=5.0):
    """Polls probe() until it returns a truthy value; fails with message and the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise Failure(f"{message} (last seen: {value!r})")
        time.sleep(0.1)


# ---------------------------------------------------------------- the server under test


class Scorekeeper:
    """The real binary on a free port, with its own SQLite file and an API key."""

    def __init__(self, binary):
        self.binary = str(Path(binary).resolve())
        self.dir = tempfile.TemporaryDirectory(prefix="sk-browser-")
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.env = {
            k: v for k, v in os.environ.items() if k not in ("SMTP_URL", "SECRET_KEY_FILE")
        }
        self.env.update(
            DATABASE_URL=f"sqlite://{self.dir.name}/scorekeeper.db",
            LISTEN_ADDR=f"127.0.0.1:{port}",
            PUBLIC_URL=self.url,
            SECRET_KEY=secrets.token_hex(32),
            RUST_LOG="warn",
        )
        self.log_path = Path(self.dir.name) / "server.log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [self.binary, "serve"], env=self.env, stdout=self.log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise Failure(f"the server exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        break
            except (OSError, urllib.error.URLError):
                pass
            if time.monotonic() > deadline:
                raise Failure(f"GET /healthz never answered 200:\n{self.log_tail()}")
            time.sleep(0.1)
        out = subprocess.run(
            [self.binary, "api-key", "create", "--workspace", "browser-test"],
            env=self.env, capture_output=True, text=True, timeout=30,
        )
        lines = out.stdout.strip().splitlines()
        check(out.returncode == 0 and lines, f"api-key create failed: {out.stderr}{out.stdout}")
        self.key = lines[-1].strip()

    def log_tail(self, lines=30):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()
        self.dir.cleanup()

    def call(self, method, path, body=None, auth=True, agent=None):
        """Returns (status, parsed JSON or text)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if body is not None:
            req.add_header("Content-Type", "application/json")
        if auth:
            req.add_header("Authorization", f"Bearer {self.key}")
        if agent:
            req.add_header("User-Agent", agent)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode(errors="replace")

    def must(self, method, path, body=None, want=(200, 201)):
        status, data = self.call(method, path, body)
        check(status in want, f"{method} {path} answered {status}: {data}")
        return data

    def survey(self, name, kind, origins=None, once_per_days=0, sample_percent=100, **extra):
        body = {"name": name, "kind": kind, **extra}
        if origins is not None:
            body["allowed_origins"] = origins
            body["widget"] = {"once_per_days": once_per_days, "sample_percent": sample_percent}
        survey = self.must("POST", "/v1/surveys", body, want=(201,))
        check(
            origins is None or str(survey.get("public_key", "")).startswith("pk_"),
            f"the survey has no public_key: {survey}",
        )
        return survey

    def stats(self, survey):
        return self.must("GET", f"/v1/surveys/{survey['id']}/stats")

    def responses(self, survey):
        return self.must("GET", f"/v1/surveys/{survey['id']}/responses")["data"]


def run_cases(run, cases, only=()):
    """Runs `getattr(run, method)()` for each `(label, method)` of `cases` (those whose label
    starts with one of `only`, when given), printing ok or FAIL with the case's summary.
    After each, `run.contexts` are closed; a failed case's `run.last_page` is screenshotted.
    Returns the labels that failed."""
    failed = []
    for label, method in cases:
        if only and not set(label.split()[0].split("+")) & set(only):
            continue
        problems = getattr(run, "problems", None)
        if problems is not None:
            problems.clear()
        t = time.monotonic()
        try:
            summary = getattr(run, method)()
            print(f"ok   {label}: {summary} ({time.monotonic() - t:.1f}s)", flush=True)
        except Exception as e:  # noqa: BLE001 — every case reports and the next runs
            failed.append(label)
            kind = "" if isinstance(e, Failure) else f"{type(e).__name__}: "
            print(f"FAIL {label}: {kind}{e}", flush=True)
            if not isinstance(e, Failure):
                traceback.print_exc()
            for p in (problems or [])[-10:]:
                print(f"     {p}")
            if run.last_page and not run.last_page.is_closed():
                try:
                    run.last_page.screenshot(path=str(ARTIFACTS / f"fail-{method}.png"),
                                             full_page=True)
                except Exception:  # noqa: BLE001 — the report matters more
                    pass
        finally:
            for ctx in run.contexts:
                ctx.close()
            run.contexts.clear()
            run.last_page = None
    return failed


def finish(name, failed, started):
    """Prints the verdict and exits 1 when any case failed."""
    took = time.monotonic() - started
    if failed:
        print(f"FAILED {len(failed)} case(s): {', '.join(failed)} ({took:.0f}s); "
              f"screenshots in {ARTIFACTS}")
        sys.exit(1)
    print(f"{name} passed ({took:.0f}s); screenshots in {ARTIFACTS}")


def run_suite(name, make_run, cases, only=()):
    """The main of a browser test: starts the server binary named on the command line (or
    target/debug/scorekeeper), launches Chromium, builds the run with
    `make_run(server, browser)`, runs `cases` (those of `only`, when given) with `run_cases`,
    and reports with `finish`."""
    from playwright.sync_api import sync_playwright

    binary = sys.argv[1] if len(sys.argv) > 1 else "target/debug/scorekeeper"
    if not os.access(binary, os.X_OK):
        sys.exit(f"FAIL: no executable server binary at {binary}")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    failed = []
    try:
        sk = Scorekeeper(binary)
    except Failure as e:
        sys.exit(f"FAIL: could not start the server: {e}")
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            run = make_run(sk, browser)
            failed = run_cases(run, cases, only)
            browser.close()
    except Failure as e:
        failed.append(f"setup: {e}")
        print(f"FAIL setup: {e}")
    finally:
        if failed:
            print("---- server log (tail)\n" + sk.log_tail())
        sk.stop()
    finish(name, failed, started)
