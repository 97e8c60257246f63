"""A support agent signs in, finds an order by the customer's e-mail, opens it and reads
its timeline — in a real headless Chromium against a live server."""
import pytest

from app.services.orders import actions as orders
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_support_finds_an_order_by_email_and_reads_its_timeline(live_server, page, make, actor):
    warehouse = make.warehouse("EWR", "US")
    make.product("MUG-1", stock={warehouse: 5})
    channel = make.channel("shopify-us")
    order = make.order(channel, [("MUG-1", 2, "12.50")], email="zoe.mueller@example.com",
                       name="Zoë Müller")
    make.order(channel, [("MUG-1", 1, "12.50")], email="someone.else@example.com")
    orders.add_note(make.session, order.id, "Customer asked for gift wrap", actor("support"))

    page.goto(f"{live_server}/login/")
    page.fill("input[name=username]", "support")
    page.fill("input[name=password]", PASSWORD.format(role="support"))
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "/login" not in page.url

    search = page.locator("input[name=q]").first
    search.fill("ZOE.MUELLER@example.com")
    search.press("Enter")
    page.wait_for_load_state("networkidle")

    # The order and its customer match the e-mail (the other order does not): open the order.
    results = page.inner_text("body")
    assert "Zoë Müller" in results and "someone.else" not in results
    page.get_by_role("link", name=order.order_number, exact=True).first.click()
    page.wait_for_load_state("networkidle")
    assert f"/{order.id}" in page.url
    timeline = page.locator(".oms-timeline")
    assert "Customer asked for gift wrap" in timeline.inner_text()
    assert "imported from shopify-us" in timeline.inner_text()
    assert "user:support" in timeline.inner_text()
