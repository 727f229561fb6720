"""Browser flows of the paygate console, driven by tests/e2e/console.rs.

Usage: flows.py FLOW, with the flow's set-up as JSON in $CONSOLE_TEST and a screenshot directory
in $SCREENSHOTS. Playwright drives the system's Chromium (it cannot download its own browser
here): $CHROMIUM, else /usr/bin/chromium. Exits non-zero, with the reason, when a step fails.
"""

import csv
import http.server
import io
import json
import os
import sys
import threading
import time
import urllib.request

from playwright.sync_api import expect, sync_playwright

CONFIG = json.loads(os.environ["CONSOLE_TEST"])
SHOTS = os.environ.get("SCREENSHOTS", "target/console-screenshots")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
BASE = CONFIG["base"]
expect.set_options(timeout=20_000)


def shot(page, name):
    page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


def sign_in(page, key, next_path=None):
    target = "/console/login" + (f"?next={next_path}" if next_path else "")
    page.goto(BASE + target)
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def api(path, key):
    request = urllib.request.Request(BASE + path, headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def download_csv(page, link):
    with page.expect_download() as info:
        link.click()
    with open(info.value.path(), newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def find_events(browser):
    page = browser.new_page()
    page.goto(BASE + "/console/events")
    expect(page).to_have_url(BASE + "/console/login?next=%2Fconsole%2Fevents")
    shot(page, "login")
    sign_in(page, CONFIG["key"], "/console/events")
    expect(page.locator("#events")).to_be_visible()
    page.get_by_label("Resource id").fill(CONFIG["loan"])
    page.get_by_label("Type").fill("loan.*")
    page.get_by_role("button", name="Search").click()
    rows = page.locator("#events tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(CONFIG["loan"])
    expect(page.locator("#events")).not_to_contain_text(CONFIG["other_loan"])
    shot(page, "events")
    page.get_by_role("link", name=CONFIG["event"]).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("loan.active")
    expect(page.locator("#event-data")).to_contain_text(CONFIG["loan"])
    delivery = page.locator("section.delivery").first
    expect(delivery).to_contain_text("succeeded")
    expect(delivery).to_contain_text(CONFIG["subscription"])
    expect(delivery.locator("table.attempts tbody tr").first).to_contain_text("HTTP 200")
    shot(page, "event")
    # Keyboard: the skip link is the first stop and moves to the content.
    page.keyboard.press("Tab")
    expect(page.locator(".skip")).to_be_focused()
    page.get_by_role("link", name="Webhook intake").click()
    row = page.locator("#registrations tr[data-provider=testprov]")
    expect(row).to_be_visible()
    assert int(row.locator(".received").inner_text()) >= 2, row.inner_text()
    assert int(row.locator(".refused").inner_text()) >= 1, row.inner_text()
    expect(row.locator(".reasons")).to_contain_text("signature")
    shot(page, "intake")
    page.get_by_role("link", name="Subscriptions").click()
    expect(page.locator("#subscriptions")).to_contain_text(CONFIG["subscription"])
    expect(page.locator("#subscriptions")).to_contain_text("100%")
    shot(page, "subscriptions")
    # A phone's width: the same page, readable without horizontal scrolling of the page itself.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(BASE + f"/console/events/{CONFIG['event']}")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400, f"the event page is {width}px wide on a phone"
    shot(page, "event-phone")


def retry_dead_letter(browser):
    page = browser.new_page()
    sign_in(page, CONFIG["key"])
    page.goto(BASE + f"/console/subscriptions/{CONFIG['subscription']}")
    expect(page.locator("#dead-count")).to_have_text("1")
    page.get_by_role("link", name="dead", exact=True).click()
    expect(page.locator("#deliveries tbody tr")).to_have_count(1)
    shot(page, "subscription")
    page.get_by_role("link", name=CONFIG["delivery"]).click()
    expect(page.locator("#delivery-status")).to_have_text("dead")
    attempts = page.locator("table.attempts tbody tr")
    expect(attempts).to_have_count(3)
    expect(attempts.first).to_contain_text("HTTP 500")
    page.get_by_role("button", name="Retry now").click()
    expect(page.get_by_role("status")).to_contain_text("Retry scheduled")
    deadline = time.time() + 20
    while time.time() < deadline:
        page.reload()
        if page.locator("#delivery-status").inner_text() == "succeeded":
            break
        time.sleep(0.3)
    expect(page.locator("#delivery-status")).to_have_text("succeeded")
    expect(attempts).to_have_count(4)
    expect(attempts.last).to_contain_text("HTTP 200")
    shot(page, "delivery")


def replay_window(browser):
    page = browser.new_page()
    sign_in(page, CONFIG["key"])
    page.goto(BASE + f"/console/subscriptions/{CONFIG['subscription']}")
    form = page.locator("#replay-form")
    expect(form.get_by_label("Since (UTC)")).not_to_have_value("")
    form.get_by_role("button", name="Replay").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Replay")
    # Updated in place by console.js, without reloading the page.
    expect(page.locator("#replay-status")).to_have_text("completed")
    expect(page.locator("#replay-enqueued")).to_have_text(str(CONFIG["events"]))
    expect(page.locator("#replay-completed")).to_contain_text("Completed")
    shot(page, "replay")


def resolve_mismatch(browser):
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    sign_in(page, CONFIG["key"])
    page.get_by_role("link", name="Reconciliation", exact=True).click()
    mismatch = page.locator("#by-status tr[data-status=amount_mismatch]")
    expect(mismatch.locator(".count")).to_have_text("1")
    expect(page.locator("#unmatched-amount")).to_have_text("R$ 500,00")
    expect(page.locator("svg.chart").first).to_be_visible()
    shot(page, "reconciliation")
    page.locator("select[name=status]").select_option("amount_mismatch")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#items tbody tr")).to_have_count(1)
    before = download_csv(page, page.locator("#export-csv"))
    assert [row["item_id"] for row in before] == [CONFIG["item"]], before
    assert before[0]["status"] == "amount_mismatch", before
    page.get_by_role("link", name=CONFIG["item"]).click()
    expect(page.locator("#item-status")).to_have_text("amount_mismatch")
    page.get_by_label("Decision").select_option("confirm")
    page.get_by_label("Note (required)").fill(CONFIG["note"])
    page.get_by_role("button", name="Resolve").click()
    expect(page.get_by_role("status")).to_contain_text("now confirmed")
    expect(page.locator("#item-status")).to_have_text("confirmed")
    expect(page.locator("#history")).to_contain_text(CONFIG["note"])
    shot(page, "reconciliation-item")
    page.get_by_role("link", name="Reconciliation", exact=True).click()
    expect(page.locator("#by-status tr[data-status=amount_mismatch]")).to_have_count(0)
    expect(page.locator("#by-status tr[data-status=confirmed] .count")).to_have_text("1")
    expect(page.locator("#unmatched-amount")).to_have_text("R$ 0,00")
    after = download_csv(page, page.locator("#export-csv"))
    statuses = {row["item_id"]: row["status"] for row in after}
    assert statuses.get(CONFIG["item"]) == "confirmed", after
    assert len(after) == 2, after
    page.locator("select[name=status]").select_option("amount_mismatch")
    page.get_by_role("button", name="Filter").click()
    assert download_csv(page, page.locator("#export-csv")) == []


def masked_documents(browser):
    document = CONFIG["document"]
    viewer = browser.new_context().new_page()
    sign_in(viewer, CONFIG["viewer"])
    expect(viewer.locator(".badge")).to_have_text("personal data masked")
    viewer.goto(BASE + f"/console/events/{CONFIG['event']}")
    data = viewer.locator("#event-data")
    expect(data).to_contain_text("end_to_end_id")
    assert document not in data.inner_text(), data.inner_text()
    assert document not in viewer.content()
    expect(viewer.locator("#raw-payload")).to_have_count(0)
    expect(viewer.get_by_text("Shown only to keys with the")).to_be_visible()
    shot(viewer, "event-masked")
    viewer.goto(BASE + "/console/reconciliation")
    expect(viewer.locator("#items tbody tr").first).to_be_visible()
    assert document not in viewer.content()
    expect(viewer.locator("#items td.document").first).to_contain_text("*")
    # The same pages with a pii key show the document: the masking is the scope's doing.
    admin = browser.new_context().new_page()
    sign_in(admin, CONFIG["admin"])
    admin.goto(BASE + f"/console/events/{CONFIG['event']}")
    expect(admin.locator("#event-data")).to_contain_text(document)
    expect(admin.locator("#raw-payload")).to_contain_text(document)
    admin.goto(BASE + "/console/reconciliation")
    expect(admin.locator("#items")).to_contain_text(document)


class Attacker(http.server.BaseHTTPRequestHandler):
    """Another origin's page that posts to the console as soon as it loads."""

    target = ""

    def do_GET(self):
        page = f"""<!doctype html><title>win a prize</title>
<form id="f" method="post" action="{self.target}"><input name="grace_seconds" value="0"></form>
<script>document.getElementById('f').submit()</script>"""
        body = page.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def forged_post(browser):
    subscription = CONFIG["subscription"]
    Attacker.target = BASE + f"/console/subscriptions/{subscription}/rotate"
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Attacker)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page = browser.new_page()
        sign_in(page, CONFIG["key"])
        # Same site (127.0.0.1, another port), so even SameSite=Strict sends the cookie: the CSRF
        # token and the Origin check are what refuse it.
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
        expect(page.locator("body")).to_contain_text("csrf_token_invalid")
        shot(page, "forged-post-refused")
        fetched = api(f"/v1/subscriptions/{subscription}", CONFIG["key"])
        assert fetched["previous_secret_expires_at"] is None, fetched
        # The console's own form does rotate it, and shows the new secret once.
        page.goto(BASE + f"/console/subscriptions/{subscription}")
        page.locator("#rotate-form").get_by_role("button", name="Rotate secret").click()
        expect(page.locator("#new-secret")).to_contain_text("whsec_")
        shot(page, "secret-rotated")
        fetched = api(f"/v1/subscriptions/{subscription}", CONFIG["key"])
        assert fetched["previous_secret_expires_at"] is not None, fetched
    finally:
        server.shutdown()


def demo_story(browser):
    """The serving demo (.ci/contract): its admin key signs in, and the story's data is there."""
    page = browser.new_page()
    sign_in(page, CONFIG["key"])
    expect(page.locator("#events tbody tr").first).to_be_visible()
    page.get_by_label("Type").fill("loan.*")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#events")).to_contain_text("loan.active")
    shot(page, "demo-events")
    page.get_by_role("link", name="Subscriptions", exact=True).click()
    expect(page.locator("#subscriptions tbody tr").first).to_contain_text("sub_")
    shot(page, "demo-subscriptions")
    page.get_by_role("link", name="Reconciliation", exact=True).click()
    expect(page.locator("#by-status tr[data-status=matched]")).to_be_visible()
    expect(page.locator("#items")).to_contain_text("disbursement")
    shot(page, "demo-reconciliation")
    page.get_by_role("link", name="Webhook intake").click()
    expect(page.locator("#registrations tr[data-provider=dinie]")).to_be_visible()
    expect(page.locator("#registrations tr[data-provider=delbank]").first).to_be_visible()
    shot(page, "demo-intake")


FLOWS = {
    flow.__name__: flow
    for flow in [
        find_events, retry_dead_letter, replay_window, resolve_mismatch, masked_documents, forged_post,
        demo_story,
    ]
}


def main():
    flow = FLOWS[sys.argv[1]]
    os.makedirs(SHOTS, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            flow(browser)
        finally:
            browser.close()
    print(f"{sys.argv[1]}: ok")


if __name__ == "__main__":
    main()
