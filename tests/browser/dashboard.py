"""Drives the dashboard page in Debian's headless Chromium with Playwright.

Run by the integration tests in tests/integration/tests/it/page.rs, which start the
server and seed it. Two scenarios:

    dashboard.py replay URL PROFILE EVENT DISPUTE OUT_DIR
        URL carries the bearer token in its fragment (`#token=…`). Opens PROFILE from
        the at-risk list, checks its billing factors and its history chart, replays the
        failed event EVENT, checks the event left the list and the profile now shows the
        dispute DISPUTE (its id as evidence). Screenshots: profile.png, dashboard.png.

    dashboard.py prompt URL TOKEN PROFILE OUT_DIR
        URL has no token: the page asks for it and TOKEN is typed in. Opens PROFILE by
        id, whose explanation is HTML markup, and checks it shows as text, never as
        elements. Screenshot: prompt.png.

    dashboard.py matches URL OUT_DIR
        URL carries the token. The match routes answer from this script (the page's
        side of the contract: `GET …/matches?status=review` rows, `PATCH
        …/customer-mapping/{profile_id}` with `{"stripe_customer_id"}`): Accept maps the
        proposed profile, Override the typed one, and each row leaves the review list.
        Screenshot: matches.png.

Exit status 0 only when every step held. A failure raises with what was on the page
(and saves failure.png); a page error or console error (a CSP violation is one) fails.
"""

import json
import os
import sys
import tempfile

from playwright.sync_api import expect, sync_playwright

CHROMIUM = os.environ.get("KUSTIQ_CHROMIUM", "/usr/bin/chromium")
# The machine's network is closed: Chromium must not try to reach Google's services.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-quic",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 30_000


def main(scenario, out_dir: str) -> None:
    os.makedirs(out_dir, exist_ok=True)
    if not os.access(CHROMIUM, os.X_OK):
        sys.exit(f"{CHROMIUM} is missing: run scripts/browser install")
    errors = []
    with tempfile.TemporaryDirectory(prefix="kustiq-chromium-") as profile_dir, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile_dir,
            executable_path=CHROMIUM,
            headless=True,
            args=ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
        page.on(
            "console",
            lambda m: errors.append(f"console {m.type}: {m.text}")
            if m.type == "error" and "404" not in m.text
            else None,
        )
        try:
            scenario(page)
        except Exception:
            page.screenshot(path=os.path.join(out_dir, "failure.png"), full_page=True)
            print(page.locator("body").inner_text(), file=sys.stderr)
            raise
        finally:
            context.close()
    # A 404 console line is the match-review route this server may not serve yet
    # (the page says so); anything else the page logged is a failure.
    if errors:
        sys.exit("the page logged errors:\n" + "\n".join(errors))


def replay(page, url: str, profile: str, event: str, dispute_id: str, out_dir: str) -> None:
    # Load: the token moves from the fragment into sessionStorage and out of the URL.
    page.goto(url)
    expect(page.locator("#who")).not_to_have_text("no token")
    assert "token=" not in page.url, f"the token stayed in the address bar: {page.url}"
    stored = page.evaluate("sessionStorage.getItem('kustiq.token')")
    assert stored and stored in url, "the token was not kept in sessionStorage"

    # The at-risk list names the profile; open it.
    row = page.locator(f"#at-risk-table tr[data-profile='{profile}']")
    expect(row).to_have_count(1)
    row.get_by_role("button", name=profile).click()

    # Its factors: the billing family explained, each factor with its explanation.
    expect(page.locator("#profile-id")).to_have_text(profile)
    billing = page.locator("#families [data-family='billing'] .factor")
    expect(billing.first).to_be_visible()
    signals = billing.evaluate_all("els => els.map(e => e.dataset.signal)")
    assert all(s.startswith("stripe_") for s in signals), signals
    assert "stripe_dispute" not in signals, f"the dispute counted before its replay: {signals}"
    for text in billing.locator(".explanation").all_inner_texts():
        assert text.strip(), f"a billing factor without explanation: {signals}"

    # Its history: an SVG line with one point per change.
    chart = page.locator("#history-chart svg.chart")
    expect(chart).to_be_visible()
    points = chart.locator("circle.point")
    count = points.count()
    assert count >= 2, f"the chart has {count} points"
    assert chart.get_attribute("data-points") == str(count)
    assert chart.locator("polyline.line").count() == 1
    page.screenshot(path=os.path.join(out_dir, "profile.png"), full_page=True)

    # The failed event is listed with its error; replay it.
    failed = page.locator(f"#failed-events tr[data-event='{event}']")
    expect(failed).to_have_count(1)
    expect(failed).to_contain_text("charge.dispute.created")
    failed.get_by_role("button", name="Replay").click()
    expect(page.locator("#notice")).to_contain_text(f"Event {event} replayed and applied")
    expect(failed).to_have_count(0)
    expect(page.locator("#failed-events")).to_contain_text("No failed events.")

    # The profile, reloaded, now counts the dispute, with the event as evidence.
    dispute = page.locator("#families [data-family='billing'] .factor[data-signal='stripe_dispute']")
    expect(dispute).to_have_count(1)
    expect(dispute.locator(".evidence")).to_contain_text(dispute_id)
    assert points.count() > count, "the replay added no history point"
    page.screenshot(path=os.path.join(out_dir, "dashboard.png"), full_page=True)


def prompt(page, url: str, token: str, profile: str, out_dir: str) -> None:
    asked = []

    def answer(dialog):
        asked.append(dialog.message)
        dialog.accept(token)

    page.on("dialog", answer)
    page.goto(url)
    expect(page.locator("#who")).not_to_have_text("no token")
    assert asked and "token" in asked[0], f"the page did not ask for the token: {asked}"
    page.locator("#open-profile-id").fill(profile)
    page.get_by_role("button", name="Open", exact=True).click()
    expect(page.locator("#profile-id")).to_have_text(profile)
    explanation = page.locator("#families [data-family='crm'] .factor .explanation")
    expect(explanation).to_have_count(1)
    text = explanation.inner_text()
    assert "<img" in text, f"the markup was not shown as text: {text!r}"
    assert page.locator("#profile img, #profile b").count() == 0, "API data became elements"
    assert page.evaluate("window.kustiqInjected === undefined"), "API data ran as script"
    page.screenshot(path=os.path.join(out_dir, "prompt.png"), full_page=True)


def matches(page, url: str, out_dir: str) -> None:
    rows = [
        {"stripe_customer_id": "cus_Review1", "email": "ana@acme.io", "profile_id": "p_ana",
         "status": "review", "method": "email", "confidence": 70, "candidates": ["p_ana"],
         "reason": "email matched a profile of a shared domain",
         "error": {"code": "ERR_MATCH_LOW", "message": "confidence 70 % is below 90 %", "doc": "/docs/stripe#ERR_MATCH_LOW"}},
        {"stripe_customer_id": "cus_Review2", "email": None, "profile_id": None,
         "status": "review", "method": "business_domain", "confidence": 50,
         "candidates": ["p_bo", "p_cy"], "reason": "two profiles share the domain", "error": None},
    ]
    patches = []
    token = url.split("#token=", 1)[1]

    def list_matches(route):
        assert route.request.headers.get("authorization") == f"Bearer {token}"
        route.fulfill(status=200, content_type="application/json",
                      body=json.dumps({"data": rows, "next_cursor": None}))

    def map_customer(route):
        req = route.request
        body = json.loads(req.post_data or "null")
        patches.append((req.method, req.url.split("/api/v1", 1)[1], body))
        rows[:] = [r for r in rows if r["stripe_customer_id"] != body["stripe_customer_id"]]
        route.fulfill(status=200, content_type="application/json",
                      body=json.dumps({"profile_id": req.url.rsplit("/", 1)[1], **body,
                                       "method": "manual", "confidence": 100}))

    page.route(lambda u: "/api/v1/integrations/stripe/matches?" in u, list_matches)
    page.route(lambda u: "/api/v1/integrations/stripe/customer-mapping/" in u, map_customer)
    page.goto(url)
    table = page.locator("#matches-table tbody tr")
    expect(table).to_have_count(2)
    expect(page.locator("#matches-state")).to_have_text("2 matches need a decision")
    first = page.locator("#matches-table tr[data-customer='cus_Review1']")
    second = page.locator("#matches-table tr[data-customer='cus_Review2']")
    expect(first).to_contain_text("ERR_MATCH_LOW")
    expect(first).to_contain_text("70 %")
    expect(second.get_by_role("button", name="Accept")).to_be_disabled()

    first.get_by_role("button", name="Accept").click()
    expect(first).to_have_count(0)
    assert patches == [("PATCH", "/integrations/stripe/customer-mapping/p_ana",
                        {"stripe_customer_id": "cus_Review1"})], patches

    second.get_by_role("button", name="Override").click()
    expect(page.locator("#notice")).to_contain_text("Enter the profile id")
    assert len(patches) == 1, f"an empty override was sent: {patches}"
    second.locator("input.override").fill("p_cy")
    second.get_by_role("button", name="Override").click()
    expect(page.locator("#matches-state")).to_have_text("No match needs review.")
    assert patches[1] == ("PATCH", "/integrations/stripe/customer-mapping/p_cy",
                          {"stripe_customer_id": "cus_Review2"}), patches
    page.screenshot(path=os.path.join(out_dir, "matches.png"), full_page=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) == 6 and args[0] == "replay":
        main(lambda page: replay(page, *args[1:]), args[5])
    elif len(args) == 5 and args[0] == "prompt":
        main(lambda page: prompt(page, *args[1:]), args[4])
    elif len(args) == 3 and args[0] == "matches":
        main(lambda page: matches(page, *args[1:]), args[2])
    else:
        sys.exit(
            "usage: dashboard.py replay URL PROFILE EVENT DISPUTE OUT_DIR\n"
            "       dashboard.py prompt URL TOKEN PROFILE OUT_DIR\n"
            "       dashboard.py matches URL OUT_DIR"
        )
