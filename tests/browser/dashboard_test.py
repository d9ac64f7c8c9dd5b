#!/usr/bin/env python3
"""A shared dashboard in a real browser (Debian's Chromium, driven by Playwright).

    python3 tests/browser/dashboard_test.py [BINARY]      (default target/debug/scorekeeper)

Starts the server binary (as the widget test does), imports twelve weeks of NPS answers for
four agents with its CLI, creates a dashboard grouped by agent with its API, and checks in
Chromium:

  1. at 1280 px: the headline score, its n and one agent's row match GET /v1/stats; the
     trend, distribution and sparklines are drawn; the page loads nothing but itself and
     runs no script (screenshot);
  2. at 375 px, light and dark: nothing is wider than the screen, and every text (charts
     included) has at least 4.5:1 contrast with the background behind it (screenshots);
  3. the window form works without script: a month interval and a narrower window reload
     the page with those figures.

Screenshots go to target/browser-artifacts/ (or $BROWSER_ARTIFACTS).
"""

import csv
import datetime as dt
import random
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import ARTIFACTS, USER_AGENT, check, run_suite  # noqa: E402

AGENTS = {"bo": 0.75, "ann": 0.55, "cy": 0.35, "dee": 0.6}  # promoter share per agent
COMMENTS = ["Quick and friendly", "Took three emails", "Solved on the first call",
            "Would like a follow-up", "Great — thanks!"]

# Relative luminance and contrast (WCAG 2), computed in the page for every text node's colour
# against the first opaque background behind it.
CONTRAST_JS = """
() => {
  const parse = c => { const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
    return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1}; };
  const lum = c => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
  const bg = el => { for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor); if (c && c.a > 0.9) return c; }
    return parse(getComputedStyle(document.documentElement).backgroundColor) || {r: 255, g: 255, b: 255, a: 1}; };
  const worst = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement; if (!n.textContent.trim() || !el) continue;
    if (el.closest('details:not([open])') || el.closest('title')) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.display === 'none') continue;
    const fg = parse(el instanceof SVGElement ? style.fill : style.color);
    if (!fg) continue;
    const b = bg(el), l1 = lum(fg), l2 = lum(b);
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    worst.push({text: n.textContent.trim().slice(0, 30), ratio: Math.round(ratio * 100) / 100});
  }
  worst.sort((a, b) => a.ratio - b.ratio);
  return worst.slice(0, 5);
}
"""


def seed(sk):
    """An NPS survey kept by agent with twelve weeks of imported history; its id."""
    survey = sk.survey("Support NPS", "nps", segment_by=["agent"])
    rng = random.Random(20261201)
    now = dt.datetime.now(dt.timezone.utc)
    path = Path(sk.dir.name) / "history.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["score", "created_at", "comment", "agent"])
        for day in range(1, 84):
            for agent, promoters in AGENTS.items():
                if agent == "cy" and day % 7:
                    continue  # cy answers once a week: a small group
                r = rng.random()
                score = rng.choice([9, 10]) if r < promoters else rng.choice(
                    [7, 8] if r < promoters + 0.2 else [2, 4, 6])
                at = now - dt.timedelta(days=day, hours=rng.randint(0, 20))
                comment = rng.choice(COMMENTS) if rng.random() < 0.2 else ""
                w.writerow([score, at.strftime("%Y-%m-%dT%H:%M:%SZ"), comment, agent])
    out = subprocess.run(
        [sk.binary, "import", "responses", "--survey", survey["id"], str(path)],
        env=sk.env, capture_output=True, text=True, timeout=120,
    )
    check(out.returncode == 0, f"import failed: {out.stderr}{out.stdout}")
    return survey


def nps_text(value):
    """The page writes an NPS as a whole number."""
    return f"{value:.0f}"


class Run:
    def __init__(self, sk, browser):
        self.sk, self.browser = sk, browser
        self.survey = seed(sk)
        self.dashboard = sk.must("POST", "/v1/dashboards", {
            "survey_id": self.survey["id"], "name": "Support desk — NPS", "window_days": 84,
            "interval": "week", "group_by": "agent", "show_comments": True,
        }, want=(201,))
        self.url = self.dashboard["url"]
        self.contexts = []
        self.last_page = None

    def page(self, width, scheme="light", height=900):
        ctx = self.browser.new_context(viewport={"width": width, "height": height},
                                       color_scheme=scheme, user_agent=USER_AGENT)
        self.contexts.append(ctx)
        page = ctx.new_page()
        self.last_page = page
        return page

    def shot(self, page, name):
        page.screenshot(path=str(ARTIFACTS / name), full_page=True)

    def stats(self, query):
        return self.sk.must("GET", f"/v1/surveys/{self.survey['id']}/stats?{query}")

    def wide_matches_the_api(self):
        page = self.page(1280)
        requests = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(self.url)
        stats = self.stats("group_by=agent&interval=week&from=" + (
            dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=84)).strftime("%Y-%m-%dT%H:%M:%SZ"))
        headline = page.locator("#headline-score").inner_text().strip()
        check(headline == nps_text(stats["score"]),
              f"headline {headline!r}, /v1/stats says {stats['score']}")
        n = page.locator("#headline-n").inner_text().strip()
        check(n == str(stats["responses"]), f"n {n}, /v1/stats says {stats['responses']}")
        bo = next(g for g in stats["groups"] if g["value"] == "bo")
        row = page.locator('tr[data-group="bo"]')
        cell = row.locator(".group-score").inner_text().strip()
        check(cell == nps_text(bo["score"]), f"bo's row says {cell}, /v1/stats {bo['score']}")
        check(row.locator(".group-n").inner_text().strip() == str(bo["responses"]), "bo's n")
        check(page.locator('tr[data-group] svg').count() == 4, "a sparkline per agent")
        check(page.locator("svg[role=img]").count() >= 6, "trend, distribution, 4 sparklines")
        box = page.locator("#trend-title + figure svg").bounding_box()
        check(box and box["width"] > 300 and box["height"] > 100, f"trend chart drawn: {box}")
        outside = [u for u in requests if not u.startswith(self.sk.url)]
        check(not outside, f"the page fetched other origins: {outside}")
        check(len(requests) == 1, f"one request, the page itself: {requests}")
        check(page.locator("script").count() == 0, "no script on the page")
        self.shot(page, "dashboard-1280.png")
        return f"headline {headline}, n {n}, bo {cell}; {len(requests)} request"

    def narrow_and_readable(self):
        seen = []
        for scheme in ("light", "dark"):
            page = self.page(375, scheme)
            page.goto(self.url)
            width = page.evaluate("document.documentElement.scrollWidth")
            check(width <= 375, f"{scheme}: the page is {width}px wide at 375")
            worst = page.evaluate(CONTRAST_JS)
            check(worst and worst[0]["ratio"] >= 4.5, f"{scheme}: low contrast {worst}")
            self.shot(page, f"dashboard-375-{scheme}.png")
            seen.append(f"{scheme} lowest contrast {worst[0]['ratio']}:1 ({worst[0]['text']!r})")
        return "; ".join(seen)

    def window_form_without_script(self):
        page = self.page(1280)
        page.goto(self.url)
        start = (dt.date.today() - dt.timedelta(days=30)).isoformat()
        page.fill('input[name="from"]', start)
        page.select_option('select[name="interval"]', "month")
        with page.expect_navigation():
            page.click('button[type="submit"]')
        check(f"from={start}" in page.url and "interval=month" in page.url, page.url)
        rows = page.locator("#trend-title ~ details tbody tr").count()
        check(1 <= rows <= 2, f"a 30-day window by month has 1 or 2 buckets, saw {rows}")
        with page.expect_navigation():
            page.click("text=Back to the default window")
        check(page.url == self.url, f"back at the default window: {page.url}")
        return f"{rows} monthly buckets from {start}"


CASES = [
    ("1 wide: numbers match /v1/stats, nothing external", "wide_matches_the_api"),
    ("2 narrow: fits 375 px, contrast light and dark", "narrow_and_readable"),
    ("3 window form without script", "window_form_without_script"),
]


def main():
    run_suite("dashboard browser test", Run, CASES)


if __name__ == "__main__":
    main()
