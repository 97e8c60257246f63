"""A customer returns one of two items on the self-service page as "too small" and gets the
label; the warehouse scans it in, grade A, restock; Support refunds the calculated amount;
the sandbox's Shopify shows the refund and the order shows partially refunded — in a real
headless Chromium against a live server, the channel and the carrier over real HTTP."""
import pytest
from sqlalchemy import select

from app.models import Order, Return, StockMovement
from app.services.returns import policy
from tests.conftest import PASSWORD, is_postgres
from tests.returns.conftest import label_carrier, policy_set  # noqa: F401 - fixtures
from tests.sync.conftest import _sandbox_server, sandbox, sandbox_channels  # noqa: F401 - fixtures
from tests.sync.writeback_support import deliver, import_order, quiet_risk_checks, ship, sim_order

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not is_postgres(), reason="browser tests run on PostgreSQL")]


def sign_in(browser, live_server, role):
    page = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
    page.set_default_timeout(15000)
    page.goto(f"{live_server}/login/")
    page.fill("input[name=username]", role)
    page.fill("input[name=password]", PASSWORD.format(role=role))
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_load_state("networkidle")
    return page


def test_a_self_service_return_is_received_and_refunded_to_shopify(
        live_server, browser, page, session, actor, sandbox, sandbox_channels, label_carrier, policy_set):
    state, _root = sandbox
    quiet_risk_checks(session, actor("admin"))
    policy_set(return_label_paid_by="us", return_auto_authorize_below="100000")
    sim = sim_order(state, "shopify", min_lines=2)
    order = import_order(session, sandbox_channels["shopify"], sim)
    ship(session, order.id, actor("warehouse"))
    deliver()  # the fulfilment reaches Shopify
    line = order.lines[0]

    # the customer, no login
    page.goto(f"{live_server}/returns/start")
    page.fill("#order_number", order.order_number)
    page.fill("#email", sim.email)
    page.click("button[type=submit]")
    page.fill(f"input[name=qty_{line.id}]", "1")
    page.select_option(f"select[name=reason_{line.id}]", "too_small")
    page.click("button[type=submit]")
    assert "is authorized" in page.inner_text("#rma")
    assert page.locator("#label-link").count() == 1
    ret = session.scalar(select(Return).where(Return.order_id == order.id))
    assert ret.label_tracking

    # the warehouse scans the RMA, then the item; grade A, restock
    warehouse = sign_in(browser, live_server, "warehouse")
    warehouse.goto(f"{live_server}/returns/receiving/")
    warehouse.fill("input[name=code]", ret.rma_number)
    warehouse.press("input[name=code]", "Enter")
    warehouse.wait_for_load_state("networkidle")
    warehouse.fill("input[aria-label='Scan an item']", line.sku)
    warehouse.press("input[aria-label='Scan an item']", "Enter")
    warehouse.wait_for_load_state("networkidle")
    assert "1 of 1" in warehouse.inner_text("body")
    warehouse.select_option(f"select[name=grade_{ret.lines[0].id}]", "A")
    warehouse.select_option(f"select[name=disposition_{ret.lines[0].id}]", "restock")
    warehouse.click("#inspect-button")
    warehouse.wait_for_load_state("networkidle")
    session.expire_all()
    assert session.get(Return, ret.id).status == "inspected"
    assert session.scalar(select(StockMovement.on_hand_delta).where(StockMovement.reason == "return")) == 1

    # Support refunds the calculated amount from the return page
    expected = policy.breakdown(session, session.get(Return, ret.id)).total
    support = sign_in(browser, live_server, "support")
    support.goto(f"{live_server}/returns/show/{ret.id}")
    assert support.input_value("input[name=amount]") == str(expected)
    support.click("#refund-button")
    support.wait_for_load_state("networkidle")
    deliver()  # a send pass: the channel.refund message reaches Shopify
    assert [r.amount for r in sim.refunds] == [expected]
    session.expire_all()
    assert session.get(Order, order.id).financial_status == "partially_refunded"
    support.goto(f"{live_server}/orders/show/{order.id}")
    assert "partially refunded" in support.inner_text("body").lower()
