"""What a new user tripped over (issue 11), walked again in a real headless Chromium at
1400 px: every list page fits the window (no horizontal scroll, the last columns in view),
the review queue lists each order once with who, how much and why, a styled 404, and the
conflict's raw payload says it is collapsed and how big it is.

Set OMS_SCREENSHOT_DIR to keep screenshots of the orders list and the review queue.
"""
from __future__ import annotations

import os
from datetime import timedelta

import pytest

from app.models import SyncRun
from app.models.base import utcnow
from app.services.orders import actions as orders
from app.services.channels import sync
from app.services.core.transaction import unit_of_work
from tests.conftest import PASSWORD, is_postgres

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not is_postgres(), reason="browser tests run on PostgreSQL")]

WIDTH = 1400
PEOPLE = [("Zoë Müller-Lüdenscheidt", "zoe.mueller-luedenscheidt@example-fashion-outlet.com"),
          ("Bartholomew Featherstonehaugh", "bartholomew.featherstonehaugh@longdomain-mail.co.uk"),
          ("Ana Lee", "ana@ex.io"), ("Kenji Watanabe", "kenji.watanabe@example.jp"),
          ("Priya Raghunathan", "priya.raghunathan@company-with-a-long-name.in"),
          ("Ole Nordmann", "ole.nordmann@example.no")]


@pytest.fixture
def shop(make, session, actor):
    """Demo-like data: orders on three channels, three of them held for review (a risk
    check's and a person's notes), sync runs with long cursors and errors, a conflict."""
    warehouse = make.warehouse("EWR", "US")
    make.product("MUG-1", stock={warehouse: 500}, name="Enamel camping mug, forest green")
    make.product("TEE-XL", stock={warehouse: 500}, name="Organic cotton tee XL")
    channels = [make.channel("shopify-us"), make.channel("woo-eu", "woocommerce"),
                make.channel("amazon-eu", "amazon")]
    made = []
    for n in range(24):
        name, email = PEOPLE[n % len(PEOPLE)]
        made.append(make.order(channels[n % 3], [("MUG-1", 1 + n % 3, "12.50"),
                                                  ("TEE-XL", 1, "24.00")],
                               email=email, name=name, external_id=f"W-{n}"))
    review = made[:3]
    orders.place_hold(session, review[0].id, "review",
                      "total 4,210.00 in the base currency is above the review threshold "
                      "1,000.00; billing country DE differs from shipping country US",
                      actor("support"))
    orders.place_hold(session, review[1].id, "review", "Customer asked to confirm the address",
                      actor("support"))
    orders.place_hold(session, review[2].id, "review", None, actor("support"))
    now = utcnow()
    with unit_of_work(session):
        for n in range(6):
            session.add(SyncRun(
                channel_id=channels[n % 3].id, job="pull_orders",
                status="failed" if n % 2 else "succeeded",
                started_at=now - timedelta(minutes=5 * n),
                finished_at=now - timedelta(minutes=5 * n - 1), duration_ms=1234 + n,
                fetched=250, created=120, updated=80, unchanged=50, conflicts=n, errors=n % 2,
                cursor_before="2026-12-07T03:41:12.123456+00:00|page_info=eyJsYXN0X2lkIjo1NTAwMDAwMDAwMDA5OTk5",
                cursor_after="2026-12-07T03:46:12.654321+00:00|page_info=eyJsYXN0X2lkIjo1NTAwMDAwMDAwMDEwOTk5",
                error_message=("HTTPError: 503 Service Unavailable for url https://shop.example/admin/"
                               "api/2024-07/orders.json?updated_at_min=2026-12-07T03:41:12Z&limit=250"
                               " after 5 attempts (Retry-After honoured each time)")
                if n % 2 else None))
        conflict = sync.quarantine(session, channels[0],
                                   {"id": 5500000001, "line_items": [{"sku": "MUG-1"}] * 8,
                                    "email": PEOPLE[0][1], "note": "x" * 1500},
                                   "invalid payload: line_items[3].quantity is missing",
                                   external_id="5500000001")
    session.commit()
    return type("Shop", (), dict(orders=made, review=review, conflict_id=conflict.id))


def sign_in(page, live_server, role="admin"):
    page.set_viewport_size({"width": WIDTH, "height": 900})
    page.goto(f"{live_server}/login/")
    page.fill("input[name=username]", role)
    page.fill("input[name=password]", PASSWORD.format(role=role))
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "/login" not in page.url


def overflow(page) -> dict:
    """How far the page and each table's scroll box are wider than what shows."""
    return page.evaluate("""() => ({
        page: document.documentElement.scrollWidth - window.innerWidth,
        tables: Array.from(document.querySelectorAll('.table-responsive'))
            .map(box => box.scrollWidth - box.clientWidth),
        main: document.querySelector('.oms-main') ? document.querySelector('.oms-main').clientWidth : 0,
    })""")


def header_in_view(page, label: str) -> bool:
    box = page.locator("table thead th", has_text=label).first.bounding_box()
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= WIDTH


def screenshot(page, name: str) -> None:
    folder = os.environ.get("OMS_SCREENSHOT_DIR")
    if folder:
        os.makedirs(folder, exist_ok=True)
        page.screenshot(path=os.path.join(folder, name), full_page=True)


def list_pages(app) -> list[str]:
    """Every list page of the app (a ModelView's list, the review queue, ...): a GET rule
    ending in /list/ without arguments."""
    return sorted({rule.rule for rule in app.url_map.iter_rules()
                   if rule.rule.endswith("/list/") and not rule.arguments
                   and "GET" in rule.methods and not rule.rule.startswith("/api/")})


def test_every_list_page_fits_the_window_at_1400_px(app, live_server, page, shop):
    sign_in(page, live_server)
    pages = list_pages(app)
    assert "/orders/list/" in pages and "/sync-runs/list/" in pages and "/review/list/" in pages
    for path in pages:
        response = page.goto(f"{live_server}{path}")
        assert response.status == 200, path
        measured = overflow(page)
        assert measured["page"] <= 0, (path, measured)
        assert all(extra <= 1 for extra in measured["tables"]), (path, measured)
        assert measured["main"] >= WIDTH - 40, (path, measured)  # the width is used

    page.goto(f"{live_server}/orders/list/")
    # The admin's menus (the most of any role), the user menu and the search box: one line.
    assert page.locator(".oms-navbar").bounding_box()["height"] <= 60
    assert header_in_view(page, "Ship by") and header_in_view(page, "Placed")
    assert page.locator("table tbody tr").count() >= 24
    screenshot(page, "orders-list.png")
    page.goto(f"{live_server}/sync-runs/list/")
    assert header_in_view(page, "Cursor after") and header_in_view(page, "Error")
    assert "503 Service Unavailable" in page.inner_text("body")


def test_review_queue_lists_each_order_once_with_customer_total_and_why(live_server, page, shop):
    sign_in(page, live_server, "support")
    page.goto(f"{live_server}/review/list/")
    for order in shop.review:
        links = page.locator(f"a[href$='/orders/show/{order.id}']")
        assert links.count() == 1, order.order_number  # once, not twice
        row = page.locator(f"#review-{order.id}")
        text = row.inner_text()
        assert order.customer_name in text and order.email in text
        assert "USD" in text or "$" in text
        actions = row.locator("xpath=following-sibling::tr[1]")
        assert actions.locator("button", has_text="Approve").count() == 1
        assert actions.locator("button", has_text="Reject").count() == 1
    first = page.locator(f"#review-{shop.review[0].id}").inner_text()
    assert "above the review threshold" in first
    second = page.locator(f"#review-{shop.review[1].id}").inner_text()
    assert "Customer asked to confirm the address" in second
    assert "held for review" in page.locator(f"#review-{shop.review[2].id}").inner_text()
    assert overflow(page)["page"] <= 0
    screenshot(page, "review-queue.png")

    # Select all ticks the boxes tied to the bulk form; one order approved from its row.
    page.check("input[data-check-all]")
    assert page.locator("input[name=ids]:checked").count() == 3
    page.locator(f"#review-{shop.review[1].id}").locator(
        "xpath=following-sibling::tr[1]").locator("button", has_text="Approve").click()
    page.wait_for_load_state("networkidle")
    assert "approved" in page.inner_text(".alert")
    assert page.locator(f"#review-{shop.review[1].id}").count() == 0


def test_unknown_page_is_a_styled_404_in_the_layout(live_server, page):
    sign_in(page, live_server, "viewer")
    response = page.goto(f"{live_server}/no-such-page/at/all")
    assert response.status == 404
    assert page.locator(".oms-navbar").count() == 1  # the app's layout, with its menus
    assert page.locator("input[name=q]").count() == 1  # and the search box
    assert "Page not found" in page.inner_text(".oms-error-page")
    page.locator(".oms-error-page a", has_text="Home").click()
    page.wait_for_load_state("networkidle")
    assert page.url.rstrip("/").endswith(live_server.rsplit("/", 1)[-1]) or "/dashboard" in page.url


def test_conflict_raw_payload_says_it_is_collapsed_and_its_size(live_server, page, shop):
    sign_in(page, live_server, "operations")
    page.goto(f"{live_server}/sync-conflicts/show/{shop.conflict_id}")
    summary = page.locator("details.oms-raw-payload > summary")
    assert summary.evaluate("node => getComputedStyle(node).display") == "list-item"  # a marker
    text = summary.inner_text()
    assert "4 fields" in text and "kB" in text and "collapsed" in text
    payload = page.locator("details.oms-raw-payload pre")
    assert not payload.is_visible()
    summary.click()
    assert payload.is_visible() and "5500000001" in payload.inner_text()
    assert "collapsed" not in summary.inner_text()
