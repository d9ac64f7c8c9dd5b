#!/usr/bin/env python3
"""The embeddable widget in a real browser (Debian's Chromium, driven by Playwright).

    python3 tests/browser/widget_test.py [BINARY]      (default target/debug/scorekeeper)

Starts the server binary on a free port with a temp SQLite database, creates an API key with
its CLI and surveys with its API, serves host pages from other origins (another port is
another origin) and checks, in Chromium:

  1. corner placement on an allowed origin: answer 9 and a comment, thanks shown, the
     answer, comment and data-property-* recorded, onAnswer called (screenshot);
  2. a host page with hostile CSS cannot hide or restyle the widget (same page as 1);
  3. inline placement at 320 px, dark and light: all 11 NPS buttons inside the viewport;
  4. an origin not in allowed_origins: nothing shown, no invitation created;
  5. token mode (data-token): the answer lands on that invitation, no new invitation;
  6. the survey page's "opened" beacon counts a browser view, a plain GET does not;
  7. sample_percent 0: nothing shown, no invitation, the visitor is remembered.

Screenshots go to target/browser-artifacts/ (or $BROWSER_ARTIFACTS). Every case runs even
when an earlier one fails; the exit status is 1 when any failed.
"""

import json
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from playwright.sync_api import expect

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (  # noqa: E402
    ARTIFACTS, USER_AGENT, Failure, check, eventually, run_suite,
)

expect.set_options(timeout=8000)

WAIT_MS = 8000  # longest wait for anything the widget does
COMMENT = "Fast & friendly <b>help</b> — thanks!"


# ---------------------------------------------------------------- the host pages


class HostPages:
    """Host pages, served on two ports: one origin the surveys allow, one they do not."""

    def __init__(self):
        self.pages = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                body = pages.get(self.path.split("?")[0])
                if body is None:
                    self.send_error(404)
                    return
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.servers = []
        for _ in range(2):
            server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, daemon=True).start()
            self.servers.append(server)
        self.allowed, self.foreign = (f"http://127.0.0.1:{s.server_address[1]}" for s in self.servers)

    def add(self, path, html):
        self.pages[path] = html
        return path

    def stop(self):
        for s in self.servers:
            s.shutdown()
            s.server_close()


HOSTILE_CSS = """
* { display: block !important; color: red !important; font-size: 40px !important }
button { display: none !important }
"""


def page_html(title, snippet, css="", body=""):
    # onAnswer is registered when the script has loaded; answers only come after a click.
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><style>{css}</style>
<script>window.__answers = [];</script>
</head><body>
<h1>{title}</h1>
<p>Host page content. Lorem ipsum dolor sit amet, consectetur adipiscing elit.</p>
{body}
{snippet}
</body></html>"""


def snippet(sk, key, **data):
    attrs = "".join(f' data-{k.replace("_", "-")}="{v}"' for k, v in data.items())
    return (
        f'<script src="{sk.url}/widget.js" data-survey="{key}"{attrs} async '
        'onload="Scorekeeper.onAnswer(function (a) { window.__answers.push(a) })"></script>'
    )


# ---------------------------------------------------------------- the cases


class Run:
    def __init__(self, sk, hosts, browser):
        self.sk, self.hosts, self.browser = sk, hosts, browser
        self.problems = []  # page errors and console output, printed on failure
        self.contexts = []  # closed after each case (after a screenshot if it failed)
        self.last_page = None

    def context(self, width=1280, height=800, scheme="light"):
        ctx = self.browser.new_context(
            viewport={"width": width, "height": height},
            color_scheme=scheme,
            user_agent=USER_AGENT,
        )
        ctx.set_default_timeout(WAIT_MS)
        self.contexts.append(ctx)
        return ctx

    def page(self, ctx):
        page = ctx.new_page()
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("console", lambda m: self.problems.append(f"console.{m.type}: {m.text}"))
        self.last_page = page
        return page

    def open_widget(self, page, url):
        """Loads a host page and returns the JSON of its impressions answer."""
        with page.expect_response(lambda r: "/impressions" in r.url, timeout=WAIT_MS) as info:
            page.goto(url)
        res = info.value
        body = res.json()
        check(res.status == 201 and body.get("show") is True,
              f"POST impressions answered {res.status}: {body}")
        return body

    def appear(self, locator, what):
        """Waits for locator to be visible; fails naming what did not show."""
        try:
            locator.wait_for(state="visible", timeout=WAIT_MS)
        except Exception:  # noqa: BLE001 — a Playwright timeout, said plainly
            raise Failure(f"{what} did not appear within {WAIT_MS / 1000:.0f} s") from None

    def shadow_root(self, page):
        check(page.evaluate("""() => {
                const host = document.querySelector('[data-scorekeeper]');
                return !!(host && host.shadowRoot);
            }"""), "the widget has no open shadow root")

    def shot(self, page, name, full_page=True):
        page.screenshot(path=str(ARTIFACTS / name), full_page=full_page)

    def no_page_errors(self):
        errors = [p for p in self.problems if p.startswith("page error")]
        check(not errors, "JavaScript errors on the page: " + "; ".join(errors))

    # 1 and 2
    def corner(self):
        sk, hosts = self.sk, self.hosts
        survey = sk.survey("Support NPS", "nps", [hosts.allowed], brand_color="#0f766e", locale="en")
        key = survey["public_key"]
        path = hosts.add("/corner.html", page_html(
            "Hostile host page",
            snippet(sk, key, property_agent="bo", property_ticket_id="42", visitor_id="v-1"),
            css=HOSTILE_CSS,
            body='<button id="host-button">host button</button>',
        ))
        ctx = self.context()
        page = self.page(ctx)
        shown = self.open_widget(page, hosts.allowed + path)
        strings = shown["strings"]
        check(page.locator("#host-button").is_hidden(),
              "the hostile CSS is not in effect (the host's own button is visible)")
        nine = page.get_by_role("button", name="9", exact=True)
        self.appear(nine, 'the button "9" (under hostile host CSS)')
        self.shadow_root(page)
        check(page.get_by_role("group").get_by_role("button").count() == 11,
              "an NPS survey should show 11 buttons")
        nine.click()
        expect(nine).to_have_attribute("aria-pressed", "true")
        box = page.get_by_role("textbox")
        self.appear(box, "the comment box after choosing a score")
        box.fill(COMMENT)
        page.get_by_role("button", name=strings["send"], exact=True).click()
        expect(page.get_by_role("status")).to_have_text(strings["thanks"])
        page.wait_for_function("window.__answers.length >= 2", timeout=WAIT_MS)
        answers = page.evaluate("window.__answers")
        self.shot(page, "widget-corner.png", full_page=False)
        self.no_page_errors()

        first, last = answers[0], answers[-1]
        check(first.get("score") == 9 and first.get("survey") == key and first.get("token"),
              f"onAnswer after the score got {first}")
        check(last.get("score") == 9 and last.get("comment") == COMMENT.strip(),
              f"onAnswer after the comment got {last}")
        stats = eventually(lambda: (s := sk.stats(survey)).get("responses") == 1 and s,
                           "stats should count 1 response")
        check(stats.get("invitations") == 1, f"one impression should make one invitation: {stats}")
        data = sk.responses(survey)
        check(len(data) == 1, f"expected 1 response, got {data}")
        r = data[0]
        check(r["score"] == 9, f"the recorded score is {r['score']}, not 9")
        check(r["comment"] == COMMENT.strip(), f"the recorded comment is {r['comment']!r}")
        props = r.get("properties") or {}
        check(props.get("agent") == "bo" and props.get("ticket_id") == "42",
              f"data-property-* not recorded: {props}")
        check(not r.get("suspect"), f"the answer was flagged suspect: {r.get('suspect_reason')}")
        return f"answered 9 + comment through hostile CSS; properties {props}; onAnswer x{len(answers)}"

    # 3
    def narrow(self):
        sk, hosts = self.sk, self.hosts
        survey = sk.survey("Inline NPS", "nps", [hosts.allowed])
        self.inline_survey = survey
        path = hosts.add("/inline.html", page_html(
            "Inline placement",
            snippet(sk, survey["public_key"], placement="inline", container="#slot"),
            body='<div id="slot"></div><p>Text after the widget.</p>',
        ))
        seen = []
        for scheme in ("dark", "light"):
            ctx = self.context(320, 640, scheme)
            page = self.page(ctx)
            self.open_widget(page, hosts.allowed + path)
            buttons = page.get_by_role("group").get_by_role("button")
            self.appear(buttons.first, f"the buttons at 320 px ({scheme})")
            self.shadow_root(page)
            check(buttons.count() == 11, f"expected 11 buttons, found {buttons.count()}")
            for i in range(11):
                b = buttons.nth(i)
                check(b.is_visible(), f"button {i} is not visible at 320 px")
                bb = b.bounding_box()
                check(bb and bb["x"] >= 0 and bb["x"] + bb["width"] <= 320,
                      f"button {i} leaves the 320 px viewport: {bb}")
                check(bb["width"] >= 24 and bb["height"] >= 24,
                      f"button {i} is smaller than a 24 px target: {bb}")
            check(page.locator("#slot [data-scorekeeper]").count() == 1,
                  "the widget is not inside the container #slot")
            width = page.evaluate("document.documentElement.scrollWidth")
            check(width <= 320, f"the page scrolls sideways: scrollWidth {width}")
            bg = page.evaluate("""() => {
                const host = document.querySelector('#slot [data-scorekeeper]');
                const el = host.shadowRoot.querySelector('section') || host.shadowRoot.lastElementChild;
                const m = getComputedStyle(el).backgroundColor.match(/\\d+/g).map(Number);
                return (m[0] * 299 + m[1] * 587 + m[2] * 114) / 1000;
            }""")
            check((bg < 128) == (scheme == "dark"),
                  f"the card's background (brightness {bg:.0f}) does not follow {scheme} mode")
            self.shot(page, f"widget-320-{scheme}.png")
            self.no_page_errors()
            seen.append(scheme)
        return f"11 buttons inside 320 px in {' and '.join(seen)} mode"

    # 4
    def foreign(self):
        sk, hosts = self.sk, self.hosts
        survey = getattr(self, "inline_survey", None) or sk.survey("Inline NPS", "nps", [hosts.allowed])
        before = sk.stats(survey).get("invitations")
        path = hosts.add("/foreign.html", page_html(
            "Not an allowed origin", snippet(sk, survey["public_key"])))
        ctx = self.context()
        page = self.page(ctx)
        page.goto(hosts.foreign + path)
        # The widget warns once when it gives up; past that, wait a little for any render.
        try:
            page.wait_for_event(
                "console", lambda m: "Scorekeeper" in m.text, timeout=5000)
        except Exception:
            pass
        page.wait_for_timeout(500)
        check(page.locator("[data-scorekeeper]").count() == 0,
              "a widget was added on an origin that is not allowed")
        check(page.get_by_role("button").count() == 0,
              "buttons are shown on an origin that is not allowed")
        self.no_page_errors()
        after = sk.stats(survey).get("invitations")
        check(after == before, f"invitations went from {before} to {after} on a refused origin")
        return f"nothing shown on {hosts.foreign}; invitations stayed {after}"

    # 5
    def token(self):
        sk, hosts = self.sk, self.hosts
        survey = sk.survey("Ticket CSAT", "csat", [hosts.allowed])
        inv = sk.must("POST", f"/v1/surveys/{survey['id']}/invitations", {
            "channel": "widget",
            "recipient": {"email": "ann@example.com"},
            "properties": {"ticket": "T-7"},
        }, want=(201,))
        token = inv["url"].rstrip("/").rsplit("/", 1)[-1]
        path = hosts.add("/token.html", page_html(
            "Token mode", snippet(sk, survey["public_key"], token=token)))
        ctx = self.context()
        page = self.page(ctx)
        shown = self.open_widget(page, hosts.allowed + path)
        check(shown.get("token") in (None, token),
              f"the widget was handed another token: {shown.get('token')}")
        four = page.get_by_role("button", name=re.compile(r"^4(:|$)"))
        self.appear(four, 'the button "4"')
        four.click()
        expect(four).to_have_attribute("aria-pressed", "true")
        page.wait_for_function("window.__answers.length >= 1", timeout=WAIT_MS)
        self.no_page_errors()
        data = eventually(lambda: sk.responses(survey), "the answer was not recorded")
        check(len(data) == 1, f"expected one response, got {data}")
        check(data[0]["score"] == 4, f"recorded score {data[0]['score']}, not 4")
        check(data[0].get("invitation_id") == inv["id"],
              f"the answer landed on {data[0].get('invitation_id')}, not the invitation {inv['id']}")
        invitations = sk.stats(survey).get("invitations")
        check(invitations == 1, f"token mode created invitations: {invitations} instead of 1")
        return f"score 4 recorded on invitation {inv['id']}; still 1 invitation"

    # 6
    def opened(self):
        sk = self.sk
        survey = sk.survey("Link CSAT", "csat")
        urls = [sk.must("POST", f"/v1/surveys/{survey['id']}/invitations",
                        {"channel": "link"}, want=(201,))["url"] for _ in range(2)]
        status, _ = sk.call("GET", urls[1].removeprefix(sk.url), auth=False, agent=USER_AGENT)
        check(status == 200, f"GET of the survey page answered {status}")
        time.sleep(0.3)
        opened = sk.stats(survey)["funnel"]["opened"]
        check(opened == 0, f"a plain GET of the page counted as opened ({opened})")
        ctx = self.context()
        page = self.page(ctx)
        page.goto(urls[0])
        self.appear(page.get_by_role("button").first, "the survey page's buttons")
        eventually(lambda: sk.stats(survey)["funnel"]["opened"] == 1,
                   "the survey page in a browser did not count as opened")
        return "plain GET: opened 0; browser view: opened 1"

    # 7
    def sampled(self):
        sk, hosts = self.sk, self.hosts
        survey = sk.survey("Sampled out", "csat", [hosts.allowed], once_per_days=30, sample_percent=0)
        key = survey["public_key"]
        path = hosts.add("/sampled.html", page_html("Sampled out", snippet(sk, key)))
        ctx = self.context()
        page = self.page(ctx)
        with page.expect_response(lambda r: "/impressions" in r.url) as info:
            page.goto(hosts.allowed + path)
        res = info.value
        body = res.json()
        check(res.status == 200 and body.get("show") is False,
              f"impressions with sample_percent 0 answered {res.status}: {body}")
        entry = page.wait_for_function(
            f"localStorage.getItem({json.dumps('scorekeeper:' + key)})").json_value()
        page.wait_for_timeout(300)
        check(page.locator("[data-scorekeeper]").count() == 0,
              "a sampled-out visitor was shown the widget")
        stored = json.loads(entry)
        check(stored.get("days") == 30 and isinstance(stored.get("at"), (int, float)),
              f"localStorage holds {entry}")
        # The remembered visitor is not asked (nor counted) again on the next page.
        asked = []
        page.on("request", lambda r: "/impressions" in r.url and asked.append(r.url))
        page.reload()
        page.wait_for_timeout(700)
        check(not asked, "the widget asked again within once_per_days")
        check(page.locator("[data-scorekeeper]").count() == 0, "shown after a reload")
        self.no_page_errors()
        invitations = sk.stats(survey).get("invitations")
        check(invitations == 0, f"a sampled-out visit created {invitations} invitations")
        return f"nothing shown; invitations 0; localStorage {entry}"


CASES = [
    ("1+2 corner, hostile CSS", "corner"),
    ("3 inline at 320 px", "narrow"),
    ("4 origin not allowed", "foreign"),
    ("5 token mode", "token"),
    ("6 survey page opened", "opened"),
    ("7 sampled out", "sampled"),
]


def main():
    # WIDGET_TEST_CASES=6,7 runs only those cases.
    only = set(filter(None, os.environ.get("WIDGET_TEST_CASES", "").split(",")))
    hosts = HostPages()
    try:
        run_suite("browser test", lambda sk, browser: Run(sk, hosts, browser), CASES, only)
    finally:
        hosts.stop()


if __name__ == "__main__":
    main()
