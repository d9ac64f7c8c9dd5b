#!/usr/bin/env python3
"""A one-click rating link in a real browser (Debian's Chromium, driven by Playwright).

    python3 tests/browser/answer_test.py [BINARY]      (default target/debug/scorekeeper)

Mail security systems open every link of an email, and some run the page's script and wait.
The page of `/r/{token}?score=9` must record nothing until a person is seen. Checks, each on
a fresh link:

  1. a scanner that runs the script and waits three seconds on the visible page records
     nothing;
  2. events made by the page's own script (a keyup, a pointerdown) record nothing;
  3. a real click outside the form (one the browser reports as trusted) records the chosen
     score, once, not flagged as suspect.
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import USER_AGENT, check, eventually, run_suite  # noqa: E402


class Run:
    def __init__(self, sk, browser):
        self.sk, self.browser = sk, browser
        self.survey = sk.survey("Support NPS", "nps")
        self.contexts = []
        self.last_page = None

    def link(self):
        """A fresh link's one-click URL for 9, and a probe of the survey's answers."""
        inv = self.sk.must("POST", f"/v1/surveys/{self.survey['id']}/invitations",
                           {"channel": "link"}, want=(201,))
        return inv["url"] + "?score=9", inv["id"]

    def answers_to(self, invitation):
        return [r for r in self.sk.responses(self.survey) if r["invitation_id"] == invitation]

    def open(self, url):
        ctx = self.browser.new_context(viewport={"width": 800, "height": 900},
                                       user_agent=USER_AGENT)
        self.contexts.append(ctx)
        page = ctx.new_page()
        self.last_page = page
        page.goto(url)
        check(page.locator("form#answer[data-auto-score='9']").count() == 1,
              "the page offers no pre-chosen score")
        check(page.evaluate("document.visibilityState") == "visible", "the page is not visible")
        return page

    def scanner_waits(self):
        url, inv = self.link()
        self.open(url)
        time.sleep(3)
        found = self.answers_to(inv)
        check(found == [], f"a page left alone recorded an answer: {found}")
        return "nothing recorded after 3 s on the visible page"

    def scripted_events(self):
        url, inv = self.link()
        page = self.open(url)
        page.evaluate("""() => {
            window.dispatchEvent(new KeyboardEvent('keyup', {bubbles: true}));
            document.body.dispatchEvent(new PointerEvent('pointerdown', {bubbles: true}));
            document.body.dispatchEvent(new TouchEvent('touchstart', {bubbles: true}));
        }""")
        time.sleep(1.5)
        found = self.answers_to(inv)
        check(found == [], f"an event made by script recorded an answer: {found}")
        return "keyup, pointerdown and touchstart from script recorded nothing"

    def person_clicks(self):
        url, inv = self.link()
        page = self.open(url)
        # Below the form: the page, not a button.
        page.mouse.click(790, 890)
        found = eventually(lambda: self.answers_to(inv), "a click recorded no answer")
        check(len(found) == 1 and found[0]["score"] == 9, f"not one answer of 9: {found}")
        check(found[0]["suspect"] is False, f"a person's answer is flagged: {found[0]}")
        page.wait_for_url("**#thanks", timeout=5000)
        return "a trusted click recorded 9, not suspect, and showed the thanks"


CASES = [
    ("1 a scanner that waits records nothing", "scanner_waits"),
    ("2 script-made events record nothing", "scripted_events"),
    ("3 a person's click records the score", "person_clicks"),
]


def main():
    run_suite("rating link browser test", Run, CASES)


if __name__ == "__main__":
    main()
