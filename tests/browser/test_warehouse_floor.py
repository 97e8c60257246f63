"""The warehouse floor in a real headless Chromium, a scanner being a keyboard that ends each
code with Enter (real key events): a Warehouse user lands on the floor, creates a pick list,
picks it with one wrong scan (red) and one short pick, packs the order, ships it (label and
ship confirm in one action) and finds the shipment and the ledger's shipment movements on the
order page. PostgreSQL only."""
import pytest
from playwright.sync_api import expect

from app.services.inventory import reference
from app.services.inventory import stock as inventory
from tests.conftest import PASSWORD, is_postgres

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not is_postgres(), reason="browser tests run on PostgreSQL")]


def scan(page, code: str) -> None:
    page.locator(".oms-scan").press_sequentially(code, delay=5)
    page.keyboard.press("Enter")


def test_pick_short_pick_pack_and_ship_from_a_scanner(live_server, page, make, actor):
    admin = actor("admin")
    warehouse = make.warehouse("EWR", "US")
    for sku, bin_code, barcode, stock in (("MUG", "A2-10", "4006381333931", 10), ("TEE", "A2-9", "4006381333948", 3)):
        product = make.product(sku, stock={warehouse: stock})
        reference.save(make.session, "product", {"barcode": barcode}, admin, pk=product.id)
        inventory.set_bin(make.session, inventory.get_level(make.session, warehouse.id, product.id).id, bin_code, admin)
    order = make.order(make.channel("shop"), [("MUG", 2, "9.00"), ("TEE", 3, "12.00")])
    make.session.commit()

    page.goto(f"{live_server}/login/")
    page.fill("input[name=username]", "warehouse")
    page.fill("input[name=password]", PASSWORD.format(role="warehouse"))
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_url("**/fulfillment/")
    page.click("[data-pick-preview]")
    expect(page.locator(".oms-preview")).to_contain_text(f"1 orders, 5 units: {order.order_number}")
    page.click("form.oms-new-pick-list button[type=submit]")
    page.wait_for_url("**/fulfillment/pick/*")
    assert [b.strip() for b in page.locator(".oms-stop-bin").all_inner_texts()] == ["A2-9", "A2-10"]

    message = page.locator(".oms-floor-message")
    scan(page, "A2-10")
    scan(page, "4006381333948")  # a TEE at the MUG bin: refused, red
    page.wait_for_selector(".oms-floor-message.oms-error")
    assert "not to be picked" in message.inner_text()
    assert page.evaluate("document.activeElement.classList.contains('oms-scan')")
    scan(page, "4006381333931")
    expect(message).to_contain_text("slot 1")
    scan(page, "4006381333931")
    expect(page.locator("tr[data-sku=MUG] .oms-stop-count")).to_have_text("2 / 2")
    scan(page, "A2-9")
    scan(page, "4006381333948")  # found 1 of 3 TEE
    expect(page.locator("tr[data-sku=TEE] .oms-stop-count")).to_have_text("1 / 3")
    page.click(".oms-short")
    expect(page.locator(".oms-pick-status")).to_have_text("done")
    assert "2 × TEE counted missing" in message.inner_text()

    page.goto(f"{live_server}/fulfillment/pack")
    scan(page, order.order_number)
    page.wait_for_selector(".oms-pack-lines tbody tr")
    scan(page, "CAP-9")  # not in the order
    page.wait_for_selector(".oms-floor-message.oms-error")
    for code in ("4006381333931", "4006381333931", "4006381333948"):
        scan(page, code)
    scan(page, "4006381333948")  # one TEE too many
    expect(message).to_contain_text("already complete")
    page.fill("input[name=weight_kg]", "1.1")
    page.fill("input[name=tracking_number]", "1ZMANUAL0001")
    page.click(".oms-ship")
    page.wait_for_selector(".oms-pack-link")
    assert "Shipped: shipment" in message.inner_text()
    page.screenshot(path="/tmp/waybill-pack-station.png", full_page=True)

    page.goto(f"{live_server}/orders/show/{order.id}")
    body = page.inner_text("body")
    assert "1ZMANUAL0001" in body and "partially shipped" in body.lower()
    ledger = page.locator(".oms-order-ledger")
    shipments = ledger.locator("tr.oms-movement-shipment")
    assert shipments.count() == 2
    assert "-2" in shipments.all_inner_texts()[0] + shipments.all_inner_texts()[1]
    assert ledger.locator("tr.oms-movement-count").count() == 1
