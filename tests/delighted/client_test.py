#!/usr/bin/env python3
"""The Delighted-compatible facade (/delighted/v1/), driven by Delighted's own Python client.

    python3 tests/delighted/client_test.py [BINARY]      (default target/debug/scorekeeper)

Starts the server binary on a free port with a temp SQLite database (or, with
DELIGHTED_TEST_POSTGRES_URL=postgres://…, a fresh PostgreSQL database created there and
dropped afterwards) and a real SMTP sink on loopback (tests/support/smtp_sink.py). Creates a
workspace key with the CLI, an NPS survey with the API, then a Delighted key bound to that
survey (`api-key create --delighted-survey`), and checks, through `delighted==4.2.0` as
published on PyPI:

  1. Person.create: send=false stores (no schedule); send=true queues and the email
     reaches the SMTP sink; the same email again is throttled with eligible_at (same person
     id); delay=N schedules at now+N;
  2. Person.list(per_page=2).auto_paging_iter() follows absolute Link rel="next" URLs and
     yields every person once, oldest first; Person.all(per_page=…) is one page;
  3. SurveyResponse.create and .all: page/per_page, order=desc, since/until, expand[]=person,
     and .retrieve with and without expand;
  4. Metrics.retrieve agrees with the recorded scores and with GET /v1/surveys/{id}/stats;
  5. `.json` paths with Basic auth "key:" (as curl -u key: sends it) and a form-encoded
     POST people.json with properties[agent]=bo (as Delighted's curl -d examples);
  6. Unsubscribe.create / .all, and a later send to that person is suppressed;
  7. a bounce reported with POST /v1/bounces appears in Bounce.all, and a later send is
     suppressed;
  8. SurveyRequest.delete_pending cancels a scheduled email (the sink never gets it, while
     a control scheduled at the same time does);
  9. Person.delete(email=…) answers 202 {"ok": true} and the person is gone;
 10. errors: a wrong key → AuthenticationError (401); a phone number or a malformed email
     → ResourceValidationError (422), nothing stored; an unknown response → GeneralAPIError
     404; every error body is JSON.

Every case runs even when an earlier one fails; the exit status is 1 when any failed.
DELIGHTED_TEST_CASES=3,4 runs only those cases (a case creates what it needs).
"""

import base64
import email
import email.policy
import email.utils
import json
import math
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
import uuid
import warnings
from collections import namedtuple
from pathlib import Path

with warnings.catch_warnings():
    # 4.2.0 warns at import that Delighted is being sunset; that is not this test's news.
    warnings.simplefilter("ignore", FutureWarning)
    import delighted
    import delighted.errors

ROOT = Path(__file__).resolve().parents[2]
SINK = ROOT / "tests" / "support" / "smtp_sink.py"
CLIENT_VERSION = "4.2.0"
DAY = 86400
SLACK = 60  # seconds a server timestamp may differ from this machine's clock reading
COMMENT = "Fast & friendly <b>help</b> — thanks! 👍"

# Requests to the server on loopback must never go through a proxy from the environment.
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"


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


def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def near(value, target, slack=SLACK):
    return is_int(value) and abs(value - target) <= slack


def percent(part, whole):
    """A whole percent, halves rounded up (the scores below are chosen so none is a half)."""
    return int(math.floor(100 * part / whole + 0.5)) if whole else 0


def short(value, limit=300):
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


# ---------------------------------------------------------------- what the client sent


Exchange = namedtuple("Exchange", "method url status headers body links")


class RecordingAdapter(delighted.HTTPAdapter):
    """The client's own adapter (requests), keeping every exchange for checks and reports."""

    def __init__(self):
        self.log = []

    def request(self, method, uri, headers={}, data=None, params=None):  # noqa: B006 — the client's signature
        response = super().request(method, uri, headers, data, params)
        url = uri + ("?" + urllib.parse.urlencode(params) if params else "")
        self.log.append(Exchange(method.upper(), url, response.status_code, response.headers,
                                 response.body, response.links))
        return response

    def mark(self):
        return len(self.log)

    def since(self, mark):
        return self.log[mark:]

    def last(self):
        return self.log[-1] if self.log else None

    def tail(self, mark, n=6):
        """The last n exchanges since mark, for a failure report."""
        return [f"{x.method} {x.url} → {x.status} {short(x.body, 200)}"
                for x in self.log[mark:][-n:]]


# ---------------------------------------------------------------- the server under test


class Scorekeeper:
    """The real binary on a free port, with its own database, an SMTP sink and two keys."""

    def __init__(self, binary):
        self.binary = str(Path(binary).resolve())
        self.dir = tempfile.TemporaryDirectory(prefix="sk-delighted-")
        self.procs = []
        self.pg_admin, self.pg_name = os.environ.get("DELIGHTED_TEST_POSTGRES_URL"), None
        self.mail_dir = Path(self.dir.name) / "mail"
        self.log_path = Path(self.dir.name) / "server.log"
        self.log = open(self.log_path, "wb")
        try:
            self.start()
        except BaseException:
            self.stop(keep_log=True)
            raise

    def start(self):
        smtp_port = free_port()
        sink_log = open(Path(self.dir.name) / "smtp.log", "wb")
        sink = subprocess.Popen(
            [sys.executable, str(SINK), "--port", str(smtp_port), "--dir", str(self.mail_dir)],
            stdout=subprocess.PIPE, stderr=sink_log, text=True,
        )
        self.procs.append(sink)
        check(sink.stdout.readline().strip() == "READY",
              "the SMTP sink did not start (is aiosmtpd installed? scripts/setup-test-tools)")

        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.env = {
            k: v for k, v in os.environ.items() if k not in ("SMTP_URL", "SECRET_KEY_FILE")
        }
        self.env.update(
            DATABASE_URL=self.database_url(),
            LISTEN_ADDR=f"127.0.0.1:{port}",
            PUBLIC_URL=self.url,
            SECRET_KEY=secrets.token_hex(32),
            SMTP_URL=f"smtp://127.0.0.1:{smtp_port}",
            MAIL_FROM="surveys@delighted-test.example",
            OUTBOX_POLL_MS="100",
            RUST_LOG="warn",
        )
        self.proc = subprocess.Popen(
            [self.binary, "serve"], env=self.env, stdout=self.log, stderr=subprocess.STDOUT
        )
        self.procs.append(self.proc)
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise Failure(f"the server exited with {self.proc.returncode}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        break
            except (OSError, urllib.error.URLError):
                pass
            if time.monotonic() > deadline:
                raise Failure("GET /healthz never answered 200 within 30 s")
            time.sleep(0.1)

        self.key = self.create_key()
        survey = self.must("POST", "/v1/surveys", {"name": "Delighted NPS", "kind": "nps"},
                           want=(201,))
        check(survey.get("kind") == "nps" and survey.get("id"), f"POST /v1/surveys gave {survey}")
        self.survey_id = survey["id"]
        self.delighted_key = self.create_key("--delighted-survey", self.survey_id)
        check(self.delighted_key != self.key, "the Delighted key is the workspace key")
        self.base = f"{self.url}/delighted/v1/"

    def database_url(self):
        if not self.pg_admin:
            return f"sqlite://{self.dir.name}/scorekeeper.db"
        check(shutil.which("psql"), "DELIGHTED_TEST_POSTGRES_URL is set but psql is not installed")
        self.pg_name = f"sk_delighted_{uuid.uuid4().hex}"
        self.psql(f"CREATE DATABASE {self.pg_name}")
        parts = urllib.parse.urlsplit(self.pg_admin)
        return urllib.parse.urlunsplit(parts._replace(path="/" + self.pg_name))

    def psql(self, sql):
        out = subprocess.run(["psql", self.pg_admin, "-qc", sql],
                             capture_output=True, text=True, timeout=30)
        check(out.returncode == 0, f"psql {sql!r} failed: {out.stderr.strip()}")

    def create_key(self, *extra):
        out = subprocess.run(
            [self.binary, "api-key", "create", "--workspace", "delighted-test", *extra],
            env=self.env, capture_output=True, text=True, timeout=30,
        )
        lines = out.stdout.strip().splitlines()
        check(out.returncode == 0 and lines,
              f"api-key create {' '.join(extra)} failed ({out.returncode}): {out.stderr}{out.stdout}")
        return lines[-1].strip()

    def log_tail(self, lines=30):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, keep_log=False):
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.log.close()
        if self.pg_name:
            try:
                self.psql(f"DROP DATABASE IF EXISTS {self.pg_name} WITH (FORCE)")
            except Failure as e:
                print(f"warning: {e}", file=sys.stderr)
        if keep_log:
            # Started but failed to come up: say why before the directory goes.
            print("---- server log (tail)\n" + self.log_tail(), file=sys.stderr)
        self.dir.cleanup()

    # -- plain HTTP, beside the client

    def http(self, method, path, body=None, form=None, auth="bearer"):
        """Returns (status, headers, parsed JSON or text). auth: "bearer" (the workspace key),
        "basic" (the Delighted key as curl -u KEY: sends it) or None."""
        data, headers = None, {"Accept": "application/json"}
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        elif form is not None:
            data = form.encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if auth == "bearer":
            headers["Authorization"] = f"Bearer {self.key}"
        elif auth == "basic":
            token = base64.b64encode(f"{self.delighted_key}:".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                status, head, raw = r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            status, head, raw = e.code, e.headers, e.read()
        try:
            return status, head, json.loads(raw)
        except ValueError:
            return status, head, raw.decode(errors="replace")

    def must(self, method, path, body=None, want=(200, 201), **kw):
        status, _, data = self.http(method, path, body, **kw)
        check(status in want, f"{method} {path} answered {status}: {short(data)}")
        return data

    # -- the SMTP sink

    def mails_to(self, address):
        found = []
        for f in sorted(self.mail_dir.glob("*.eml")):
            msg = email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
            to = [a.lower() for _, a in email.utils.getaddresses([str(h) for h in msg.get_all("To", [])])]
            if address.lower() in to:
                found.append(msg)
        return found


def mail_text(msg):
    parts = []
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            parts.append(part.get_content())
    return "\n".join(parts)


# ---------------------------------------------------------------- the cases


PERSON_KEYS = {"id", "email", "name", "survey_scheduled_at", "properties", "scorekeeper"}
RESPONSE_KEYS = {"id", "person", "survey_type", "score", "comment", "permalink", "created_at",
                 "updated_at", "person_properties", "notes", "tags", "additional_answers"}
METRIC_KEYS = ["nps", "promoter_count", "promoter_percent", "passive_count", "passive_percent",
               "detractor_count", "detractor_percent", "response_count"]


class Run:
    def __init__(self, sk, recorder):
        self.sk, self.rec = sk, recorder
        self.people = {}  # email → id, in creation order (what Person.list must yield)
        self.deleted = set()
        self.responses = []  # (response, person id, person email), in creation order
        self.batches = None  # (batch A, batch B): responses created at least 2 s apart

    # -- helpers

    def person(self, address, **params):
        """Person.create, its shape checked, its id tracked (a known email keeps its id)."""
        p = delighted.Person.create(email=address, **params)
        check(isinstance(p, delighted.Person), f"Person.create returned {type(p).__name__}")
        missing = PERSON_KEYS - set(p)
        check(not missing, f"Person.create({address}) lacks {sorted(missing)}: {dict(p)}")
        check(isinstance(p["id"], str) and p["id"], f"the person id is not a string: {p['id']!r}")
        check(p["email"] == address, f"Person.create({address}) answered email {p['email']!r}")
        check(isinstance(p["properties"], dict), f"properties is not an object: {p['properties']!r}")
        sk = p["scorekeeper"]
        check(isinstance(sk, dict) and {"outcome", "invitation_id", "eligible_at"} <= set(sk),
              f"scorekeeper should hold outcome, invitation_id, eligible_at: {sk!r}")
        check(sk["outcome"] in ("queued", "throttled", "suppressed", "stored"),
              f"unknown outcome {sk['outcome']!r}")
        check(sk["invitation_id"] is None or isinstance(sk["invitation_id"], str),
              f"invitation_id is {sk['invitation_id']!r}")
        check(sk["eligible_at"] is None or is_int(sk["eligible_at"]),
              f"eligible_at is not Unix seconds: {sk['eligible_at']!r}")
        check(p["survey_scheduled_at"] is None or is_int(p["survey_scheduled_at"]),
              f"survey_scheduled_at is not Unix seconds: {p['survey_scheduled_at']!r}")
        self.track(address, p["id"], "Person.create")
        if "name" in params:
            check(p["name"] == params["name"], f"name {p['name']!r}, sent {params['name']!r}")
        return p

    def track(self, address, pid, how):
        known = self.people.get(address)
        check(known is None or known == pid,
              f"{how} for the known email {address} answered id {pid}, not its id {known} "
              "(a second create must update the person, as Delighted does)")
        self.people[address] = pid

    def live_ids(self):
        return [pid for a, pid in self.people.items() if a not in self.deleted]

    def response_shape(self, r, what):
        missing = RESPONSE_KEYS - set(r)
        check(not missing, f"{what} lacks {sorted(missing)}: {dict(r)}")
        check(isinstance(r["id"], str) and r["id"], f"{what}: the id is not a string: {r['id']!r}")
        check(r["survey_type"] == "nps", f"{what}: survey_type {r['survey_type']!r}, not 'nps'")
        check(is_int(r["score"]), f"{what}: score {r['score']!r}")
        check(is_int(r["created_at"]), f"{what}: created_at is not Unix seconds: {r['created_at']!r}")
        check(r["updated_at"] is None or is_int(r["updated_at"]),
              f"{what}: updated_at is {r['updated_at']!r}")
        check(r["person_properties"] is None or isinstance(r["person_properties"], dict),
              f"{what}: person_properties is {r['person_properties']!r}")
        check(isinstance(r["permalink"], str) and r["permalink"],
              f"{what}: permalink is {r['permalink']!r}")
        for k in ("notes", "tags", "additional_answers"):
            check(r[k] == [], f"{what}: {k} should be [] (nothing adds them): {r[k]!r}")

    def ensure_responses(self):
        """Five answers on five new people: scores 10 and 3, then (2 s later) 9, 9, 8.
        3 promoters, 1 passive, 1 detractor of 5: 60 %, 20 %, 20 %, NPS 40, no rounding."""
        if self.batches:
            return self.batches
        batches = []
        for scores in ((10, 3), (9, 9, 8)):
            if batches:
                # B's created_at ≥ A's last + 2, so since/until can split them whether the
                # server reads the bounds as inclusive or exclusive.
                wait = batches[0][-1][0]["created_at"] + 2 - time.time()
                time.sleep(max(0.0, wait) + 0.05)
            batch = []
            for score in scores:
                n = len(self.responses) + 1
                address = f"rater{n}@example.com"
                p = self.person(address, name=f"Rater {n}", send=False,
                                properties={"agent": "bo" if n % 2 else "cy"})
                comment = COMMENT if n == 1 else f"answer {n}"
                t = time.time()
                r = delighted.SurveyResponse.create(person=p["id"], score=score, comment=comment)
                check(isinstance(r, delighted.SurveyResponse),
                      f"SurveyResponse.create returned {type(r).__name__}")
                self.response_shape(r, "SurveyResponse.create")
                check(r["person"] == p["id"], f"the response's person is {r['person']!r}, not {p['id']!r}")
                check(r["score"] == score, f"score {r['score']!r}, sent {score}")
                check(r["comment"] == comment, f"comment {r['comment']!r}, sent {comment!r}")
                check(near(r["created_at"], t), f"created_at {r['created_at']} is not now ({t:.0f})")
                entry = (r, p["id"], address)
                self.responses.append(entry)
                batch.append(entry)
            batches.append(batch)
        self.batches = batches
        return batches

    def expect_error(self, cls, status, call, what):
        try:
            result = call()
        except cls as e:
            got = e.response.status_code
            check(got == status, f"{what}: {cls.__name__} with status {got}, not {status}")
            try:
                json.loads(e.response.body)
            except ValueError:
                raise Failure(f"{what}: the {got} body is not JSON (Delighted's Node client "
                              f"cannot read it): {short(e.response.body)}") from None
            return e
        except delighted.errors.DelightedError as e:
            raise Failure(f"{what}: expected {cls.__name__} ({status}), got "
                          f"{type(e).__name__} {e!r}") from None
        raise Failure(f"{what}: expected {cls.__name__} ({status}) but it succeeded: {result!r}")

    # 1
    def create_people(self):
        sk = self.sk
        t0 = time.time()
        props = {"agent": "bo", "ticket": "T-1"}
        stored = self.person("ana@example.com", name="Ana Lima", properties=props, send=False)
        out = stored["scorekeeper"]
        check(out["outcome"] == "stored", f"send=false answered outcome {out['outcome']!r}")
        check(stored["survey_scheduled_at"] is None,
              f"send=false has survey_scheduled_at {stored['survey_scheduled_at']!r}")
        check(out["invitation_id"] is None, f"send=false made invitation {out['invitation_id']}")
        check(stored["properties"] == props, f"properties {stored['properties']!r}, sent {props!r}")

        queued = self.person("ben@example.com", name="Ben Okafor", send=True)
        out = queued["scorekeeper"]
        check(out["outcome"] == "queued", f"send=true answered outcome {out['outcome']!r}")
        check(out["invitation_id"], "a queued survey has no invitation_id")
        sched = queued["survey_scheduled_at"]
        check(sched is None or near(sched, t0), f"an immediate send is scheduled at {sched}, not now")
        msgs = eventually(lambda: sk.mails_to("ben@example.com"),
                          "the survey email to ben@example.com never reached the SMTP sink", 10)
        text = mail_text(msgs[0])
        check(f"{sk.url}/r/" in text, f"the email has no survey link under {sk.url}/r/")

        again = self.person("ben@example.com", send=True)
        out = again["scorekeeper"]
        check(out["outcome"] == "throttled",
              f"a second send within the survey's throttle answered {out['outcome']!r}")
        eligible = out["eligible_at"]
        check(is_int(eligible) and t0 + 29 * DAY < eligible <= time.time() + 31 * DAY,
              f"eligible_at {eligible!r} is not about 30 days (the default throttle_days) from now")

        later = self.person("cleo@example.com", name="Cleo", delay=3600, send=True)
        out = later["scorekeeper"]
        check(out["outcome"] == "queued", f"delay=3600 answered outcome {out['outcome']!r}")
        check(near(later["survey_scheduled_at"], t0 + 3600),
              f"delay=3600: survey_scheduled_at {later['survey_scheduled_at']!r}, not ≈ {t0 + 3600:.0f}")

        time.sleep(0.5)
        check(len(sk.mails_to("ben@example.com")) == 1,
              "the throttled request sent a second email to ben@example.com")
        check(not sk.mails_to("cleo@example.com"), "the email delayed by an hour was sent now")
        check(not sk.mails_to("ana@example.com"), "send=false sent an email")
        return (f"stored, queued (mail delivered), throttled until +{(eligible - t0) / DAY:.1f} d, "
                f"delay=3600 → +{later['survey_scheduled_at'] - t0:.0f} s")

    # 2
    def list_people(self):
        for i in range(1, 4):
            self.person(f"page{i}@example.com", name=f"Page {i}", send=False)
        expected = self.live_ids()
        n = len(expected)
        mark = self.rec.mark()
        seen = [p["id"] for p in delighted.Person.list(per_page=2).auto_paging_iter()]
        pages = self.rec.since(mark)
        check(len(seen) == len(set(seen)), f"auto_paging_iter yielded a person twice: {seen}")
        check(set(seen) == set(expected),
              f"auto_paging_iter yielded {len(seen)} people; missing {set(expected) - set(seen)}, "
              f"unexpected {set(seen) - set(expected)}")
        check(seen == expected, f"people are not oldest first: got {seen}, created {expected}")
        want_pages = math.ceil(n / 2)
        check(want_pages <= len(pages) <= want_pages + 1,
              f"{n} people at per_page=2 took {len(pages)} requests, not {want_pages}")
        for i, x in enumerate(pages):
            check(x.method == "GET" and x.status == 200, f"page {i + 1}: {x.method} {x.url} → {x.status}")
            items = json.loads(x.body)
            check(isinstance(items, list) and len(items) <= 2,
                  f"page {i + 1} is not a list of at most 2: {short(x.body)}")
            if i:
                check(x.url.startswith(self.sk.base + "people"),
                      f"the Link rel=next URL is not absolute under {self.sk.base}: {x.url}")
        check("next" not in pages[-1].links, "the last page still has a Link rel=next")

        everyone = [p["id"] for p in delighted.Person.all(per_page=100)]
        check(everyone == expected, f"Person.all(per_page=100) gave {everyone}, not {expected}")
        two = [p["id"] for p in delighted.Person.all(per_page=2)]
        check(two == expected[:2], f"Person.all(per_page=2) gave {two}, not the first two")
        return f"{n} people once each, oldest first, over {len(pages)} linked pages"

    # 3
    def survey_responses(self):
        a, b = self.ensure_responses()
        everyone = a + b
        ids = [r["id"] for r, _, _ in everyone]

        paged, page = [], 1
        while page <= 10:
            chunk = delighted.SurveyResponse.all(per_page=2, page=page)
            check(isinstance(chunk, list) and len(chunk) <= 2,
                  f"SurveyResponse.all(per_page=2, page={page}) gave {len(chunk)} items")
            for r in chunk:
                self.response_shape(r, f"SurveyResponse.all page {page}")
            paged += [r["id"] for r in chunk]
            if len(chunk) < 2:
                break
            page += 1
        check(paged == ids, f"paging page=1.. gave {paged}, not {ids} (oldest first, each once)")

        desc = [r["id"] for r in delighted.SurveyResponse.all(order="desc", per_page=100)]
        check(desc == ids[::-1], f"order=desc gave {desc}, not {ids[::-1]}")

        a_last, b_first = a[-1][0]["created_at"], b[0][0]["created_at"]
        check(b_first >= a_last + 2, f"batch B ({b_first}) is not 2 s after batch A ({a_last})")
        since = [r["id"] for r in delighted.SurveyResponse.all(since=a_last + 1, per_page=100)]
        check(since == [r["id"] for r, _, _ in b], f"since={a_last + 1} gave {since}, not batch B")
        until = [r["id"] for r in delighted.SurveyResponse.all(until=b_first - 1, per_page=100)]
        check(until == [r["id"] for r, _, _ in a], f"until={b_first - 1} gave {until}, not batch A")

        expanded = delighted.SurveyResponse.all(expand=["person"], per_page=100)
        check([r["id"] for r in expanded] == ids, "expand[]=person changed the list")
        for r, (_, pid, address) in zip(expanded, everyone):
            person = r["person"]
            check(isinstance(person, delighted.Person),
                  f"expand[]=person left person as {person!r}")
            check(person["id"] == pid and person["email"] == address,
                  f"the expanded person is {dict(person)}, not {pid} {address}")

        first, pid, address = everyone[0]
        one = delighted.SurveyResponse.retrieve(first["id"], expand=["person"])
        self.response_shape(one, "SurveyResponse.retrieve")
        check(one["id"] == first["id"] and one["score"] == first["score"]
              and one["comment"] == COMMENT, f"retrieve gave {dict(one)}")
        check(isinstance(one["person"], delighted.Person) and one["person"]["id"] == pid
              and one["person"]["email"] == address, f"retrieve expand: person {one['person']!r}")
        plain = delighted.SurveyResponse.retrieve(first["id"])
        check(plain["person"] == pid, f"without expand, person should be the id: {plain['person']!r}")
        return f"{len(ids)} responses: pages of 2, desc, since/until, expand[]=person, retrieve"

    # 4
    def metrics(self):
        self.ensure_responses()
        scores = [r["score"] for r, _, _ in self.responses]
        n = len(scores)
        pro = sum(s >= 9 for s in scores)
        pas = sum(7 <= s <= 8 for s in scores)
        det = sum(s <= 6 for s in scores)
        want = {
            "nps": percent(pro, n) - percent(det, n) if n else 0,
            "promoter_count": pro, "promoter_percent": percent(pro, n),
            "passive_count": pas, "passive_percent": percent(pas, n),
            "detractor_count": det, "detractor_percent": percent(det, n),
            "response_count": n,
        }
        m = delighted.Metrics.retrieve()
        check(isinstance(m, delighted.Metrics), f"Metrics.retrieve returned {type(m).__name__}")
        for k in METRIC_KEYS:
            check(k in m, f"Metrics lacks {k}: {dict(m)}")
            check(is_int(m[k]), f"Metrics {k} is not an integer: {m[k]!r}")
        got = {k: m[k] for k in METRIC_KEYS}
        check(got == want, f"Metrics {got} ≠ computed from the scores {scores}: {want}")

        stats = self.sk.must("GET", f"/v1/surveys/{self.sk.survey_id}/stats")
        check(stats.get("score") is not None and round(stats["score"]) == m["nps"],
              f"stats score {stats.get('score')!r} does not round to nps {m['nps']}")
        for ours, theirs in (("promoters", "promoter_count"), ("passives", "passive_count"),
                             ("detractors", "detractor_count"), ("responses", "response_count")):
            check(stats.get(ours) == m[theirs],
                  f"stats {ours} {stats.get(ours)!r} ≠ Metrics {theirs} {m[theirs]}")
        return f"NPS {m['nps']} from {scores}, same as /v1/surveys/…/stats ({stats['score']})"

    # 5
    def raw_json_paths(self):
        sk = self.sk
        status, _, data = sk.http("GET", "/delighted/v1/metrics.json", auth="basic")
        check(status == 200, f"GET metrics.json with Basic key: answered {status}: {short(data)}")
        m = delighted.Metrics.retrieve()
        check(data == dict(m), f"metrics.json {data} ≠ Metrics.retrieve() {dict(m)}")

        status, head, data = sk.http("GET", "/delighted/v1/people.json?per_page=1", auth="basic")
        check(status == 200 and isinstance(data, list) and len(data) <= 1,
              f"GET people.json?per_page=1 answered {status}: {short(data)}")
        link = head.get("Link") or ""
        if len(self.live_ids()) > 1:
            check('rel="next"' in link and f"<{sk.base}people" in link,
                  f"people.json?per_page=1 has no absolute Link rel=next: {link!r}")

        address = "form+curl@example.com"
        body = f"email={urllib.parse.quote(address, safe='@')}&send=false&properties[agent]=bo"
        status, _, p = sk.http("POST", "/delighted/v1/people.json", form=body, auth="basic")
        check(status in (200, 201), f"form POST people.json answered {status}: {short(p)}")
        check(isinstance(p, dict) and p.get("email") == address,
              f"form POST people.json gave {short(p)}")
        check(p.get("properties") == {"agent": "bo"},
              f"properties[agent]=bo was read as {p.get('properties')!r}")
        check((p.get("scorekeeper") or {}).get("outcome") == "stored",
              f"send=false (form) answered {p.get('scorekeeper')!r}")
        self.track(address, p["id"], "form POST people.json")

        status, _, data = sk.http("GET", "/delighted/v1/metrics.json", auth=None)
        check(status == 401, f"metrics.json without a key answered {status}")
        return "metrics.json and people.json with Basic 'key:'; form POST stored properties[agent]"

    # 6
    def unsubscribes(self):
        address = "una@example.com"
        p = self.person(address, name="Una Unsub", send=False)
        t = time.time()
        res = delighted.Unsubscribe.create(person_email=address)
        check(dict(res) == {"ok": True}, f"Unsubscribe.create gave {dict(res)}")
        items = delighted.Unsubscribe.all(per_page=100)
        mine = [u for u in items if u.get("email") == address]
        check(len(mine) == 1, f"Unsubscribe.all lists {address} {len(mine)} times: {items}")
        u = mine[0]
        for k in ("person_id", "email", "name", "unsubscribed_at"):
            check(k in u, f"the unsubscribe lacks {k}: {dict(u)}")
        check(u["person_id"] == p["id"], f"person_id {u['person_id']!r}, not {p['id']!r}")
        check(u["name"] == "Una Unsub", f"name {u['name']!r}")
        check(near(u["unsubscribed_at"], t), f"unsubscribed_at {u['unsubscribed_at']!r} is not now")
        again = self.person(address, send=True)
        check(again["scorekeeper"]["outcome"] == "suppressed",
              f"a send to an unsubscribed person answered {again['scorekeeper']!r}")
        check(address not in [x.get("email") for x in delighted.Bounce.all(per_page=100)],
              "an unsubscribe is listed as a bounce")
        time.sleep(0.3)
        check(not self.sk.mails_to(address), "an unsubscribed person was emailed")
        return f"unsubscribed {address}; a later send is suppressed"

    # 7
    def bounces(self):
        address = "bounce@example.com"
        p = self.person(address, name="Bo Bounce", send=False)
        t = time.time()
        self.sk.must("POST", "/v1/bounces",
                     {"email": address, "detail": "550 5.1.1 mailbox does not exist"}, want=(201,))
        items = delighted.Bounce.all(per_page=100)
        check(isinstance(items, list), f"Bounce.all gave {items!r}")
        mine = [x for x in items if x.get("email") == address]
        check(len(mine) == 1, f"Bounce.all lists {address} {len(mine)} times: {items}")
        b = mine[0]
        check(near(b.get("bounced_at"), t), f"bounced_at {b.get('bounced_at')!r} is not now")
        if "person_id" in b:
            check(b["person_id"] == p["id"], f"the bounce's person_id {b['person_id']!r}, not {p['id']!r}")
        check(address not in [u.get("email") for u in delighted.Unsubscribe.all(per_page=100)],
              "a bounce is listed as an unsubscribe")
        again = self.person(address, send=True)
        check(again["scorekeeper"]["outcome"] == "suppressed",
              f"a send to a bounced address answered {again['scorekeeper']!r}")
        return f"bounce of {address} listed; a later send is suppressed"

    # 8
    def delete_pending(self):
        sk = self.sk
        cancel, control = "pending+cancel@example.com", "pending+control@example.com"
        t = time.time()
        made = {a: self.person(a, send=True, delay=3) for a in (cancel, control)}
        for a, p in made.items():
            check(p["scorekeeper"]["outcome"] == "queued", f"{a}: outcome {p['scorekeeper']!r}")
            check(near(p["survey_scheduled_at"], t + 3, 5),
                  f"{a}: delay=3 scheduled at {p['survey_scheduled_at']!r}, not ≈ {t + 3:.0f}")
        res = delighted.SurveyRequest.delete_pending(person_email=cancel)
        check(res == {"ok": True}, f"delete_pending gave {res!r}")
        eventually(lambda: sk.mails_to(control),
                   f"the control email to {control} (delay=3) never arrived", timeout=15)
        time.sleep(0.5)
        check(not sk.mails_to(cancel), f"the cancelled email to {cancel} was sent anyway")
        inv = made[cancel]["scorekeeper"]["invitation_id"]
        status, _, data = sk.http("GET", f"/v1/invitations/{inv}")
        shown = data.get("status") if isinstance(data, dict) else data
        check(not (status == 200 and shown in ("queued", "sent")),
              f"the cancelled invitation {inv} is still {shown!r}")
        return f"{cancel} cancelled (invitation now {status} {shown!r}); control delivered"

    # 9
    def delete_person(self):
        address = "delete+me@example.com"
        p = self.person(address, name="Del", send=False)
        res = delighted.Person.delete(email=address)
        last = self.rec.last()
        check(res == {"ok": True}, f"Person.delete gave {res!r}")
        check(last.status == 202, f"DELETE {last.url} answered {last.status}, not 202")
        self.deleted.add(address)
        ids = [x["id"] for x in delighted.Person.all(per_page=100)]
        check(p["id"] not in ids, f"the deleted person {p['id']} is still listed")
        check(ids == self.live_ids(), f"after the delete Person.all gave {ids}, not {self.live_ids()}")
        return f"DELETE {last.url.removeprefix(self.sk.base)} → 202 {{\"ok\": true}}; gone from the list"

    # 10
    def errors(self):
        sk = self.sk
        before = [x["id"] for x in delighted.Person.all(per_page=100)]
        wrong = delighted.Client(api_key="not-a-key-" + secrets.token_hex(8), api_base_url=sk.base)
        self.expect_error(delighted.errors.AuthenticationError, 401,
                          lambda: delighted.Metrics.retrieve(client=wrong), "a wrong key")
        self.expect_error(delighted.errors.AuthenticationError, 401,
                          lambda: delighted.Person.create(email="x@example.com", client=wrong),
                          "a wrong key on create")
        self.expect_error(delighted.errors.ResourceValidationError, 422,
                          lambda: delighted.Person.create(phone_number="+14155551212"),
                          "phone_number (SMS is not supported)")
        self.expect_error(delighted.errors.ResourceValidationError, 422,
                          lambda: delighted.Person.create(email="not-an-email", send=True),
                          "email=not-an-email")
        for rid in (str(uuid.uuid4()), "999999999"):
            self.expect_error(delighted.errors.GeneralAPIError, 404,
                              lambda rid=rid: delighted.SurveyResponse.retrieve(rid),
                              f"SurveyResponse.retrieve({rid!r})")
        after = [x["id"] for x in delighted.Person.all(per_page=100)]
        check(after == before, f"rejected requests changed the people: {before} → {after}")
        return "401 AuthenticationError, 422 ResourceValidationError ×2, 404 GeneralAPIError ×2"

    # 11
    def save_tags_and_notes(self):
        """resp.save() sends the whole object back with PUT: tags and notes are replaced; the
        answer itself is not, and a changed score is refused (422, the client's
        ResourceValidationError) rather than quietly kept as it was."""
        p = self.person("tagged@example.com", send=False)
        r = delighted.SurveyResponse.create(person=p["id"], score=4, comment="meh")
        r["tags"] = ["refund", "vip"]
        r["notes"] = ["called back"]
        r["score"] = 10
        self.expect_error(delighted.errors.ResourceValidationError, 422, r.save,
                          "save() with a changed score")
        r["score"] = 4
        saved = r.save()
        check(saved["tags"] == ["refund", "vip"], f"save() kept tags {saved['tags']!r}")
        check([n["text"] for n in saved["notes"]] == ["called back"], f"save() kept notes {saved['notes']!r}")
        check(saved["score"] == 4, f"save() changed the score to {saved['score']!r}")
        again = delighted.SurveyResponse.retrieve(r["id"], expand=["person"])
        check(again["tags"] == ["refund", "vip"] and again["notes"] == saved["notes"],
              f"retrieve after save gave tags {again['tags']!r} notes {again['notes']!r}")
        # Saving an expanded response sends `person` as an object: accepted too.
        again["tags"] = ["refund"]
        check(again.save()["tags"] == ["refund"], "save() of an expanded response failed")
        return "tags and notes replaced by save(), a changed score refused, expanded save accepted"


    def node_client(self):
        """Case 12: the same facade through Delighted's official Node client (delighted@2.2.0,
        installed by scripts/setup-test-tools), which differs from the Python one: Basic
        header with the colon, absolute Link URLs followed by autoPagingEach, and save()
        sending PUT to the collection's path with the id in the body."""
        modules = Path(__file__).resolve().parents[2] / ".tools" / "npm" / "node_modules"
        check(shutil.which("node") and (modules / "delighted").is_dir(),
              "node or the delighted npm package is missing (scripts/setup-test-tools)")
        env = dict(os.environ, NODE_PATH=str(modules), DELIGHTED_URL=self.sk.url,
                   DELIGHTED_KEY=self.sk.delighted_key, NODE_NO_WARNINGS="1")
        script = Path(__file__).with_name("node_client_test.js")
        done = subprocess.run(["node", str(script)], env=env, capture_output=True, text=True,
                              timeout=120)
        lines = [l for l in done.stdout.splitlines() if l.startswith("ok ")]
        check(done.returncode == 0 and "node client test passed" in done.stdout,
              f"the Node client failed:\n{done.stdout}{done.stderr}")
        return f"{len(lines)} groups of calls passed"


CASES = [
    ("1 Person.create outcomes", "create_people"),
    ("2 Person.list Link paging", "list_people"),
    ("3 SurveyResponse create/all/retrieve", "survey_responses"),
    ("4 Metrics vs stats", "metrics"),
    ("5 .json paths, Basic key:, form body", "raw_json_paths"),
    ("6 Unsubscribe", "unsubscribes"),
    ("7 Bounce", "bounces"),
    ("8 SurveyRequest.delete_pending", "delete_pending"),
    ("9 Person.delete", "delete_person"),
    ("10 errors", "errors"),
    ("11 SurveyResponse.save tags and notes", "save_tags_and_notes"),
    ("12 the official Node client", "node_client"),
]


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/debug/scorekeeper"
    if not os.access(binary, os.X_OK):
        sys.exit(f"FAIL: no executable server binary at {binary}")
    if delighted.__version__ != CLIENT_VERSION:
        sys.exit(f"FAIL: delighted {delighted.__version__} is installed, the test is for "
                 f"{CLIENT_VERSION} (scripts/setup-test-tools)")
    # SIGTERM (a CI timeout) cleans up like Ctrl-C: the server, the sink, the database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    only = set(filter(None, os.environ.get("DELIGHTED_TEST_CASES", "").split(",")))
    started = time.monotonic()
    failed = []
    try:
        sk = Scorekeeper(binary)
    except Failure as e:
        sys.exit(f"FAIL: could not start the server: {e}")
    db = "PostgreSQL" if sk.pg_name else "SQLite"
    recorder = RecordingAdapter()
    delighted.http_adapter = recorder
    delighted.shared_client = None
    delighted.api_key = sk.delighted_key
    delighted.api_base_url = sk.base
    try:
        print(f"== delighted {delighted.__version__} against {sk.base} on {db}", flush=True)
        run = Run(sk, recorder)
        for label, method in CASES:
            if only and label.split()[0] not in only:
                continue
            t, mark = time.monotonic(), recorder.mark()
            try:
                summary = getattr(run, method)()
                print(f"ok   {label}: {summary} ({time.monotonic() - t:.1f}s)", flush=True)
            except Exception as e:  # noqa: BLE001 — every case reports and the next runs
                failed.append(label)
                kind = "" if isinstance(e, Failure) else f"{type(e).__name__}: "
                print(f"FAIL {label}: {kind}{e}", flush=True)
                if not isinstance(e, (Failure, delighted.errors.DelightedError)):
                    traceback.print_exc()
                for line in recorder.tail(mark):
                    print(f"     {line}")
    finally:
        if failed:
            print("---- server log (tail)\n" + sk.log_tail())
        sk.stop()
    took = time.monotonic() - started
    if failed:
        print(f"FAILED {len(failed)} case(s): {', '.join(failed)} ({took:.0f}s)")
        sys.exit(1)
    print(f"delighted client test passed on {db} ({took:.0f}s)")


if __name__ == "__main__":
    main()
