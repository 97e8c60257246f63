from app.models import Order


def test_order_imports_and_allocates(session, make):
    wh = make.warehouse()
    make.product("SKU-1", stock={wh: 5})
    channel = make.channel()
    order = make.order(channel, [("sku-1", 2, "9.99")])
    assert order.status == "allocated"
    assert order.lines[0].quantity_allocated == 2
    assert session.query(Order).count() == 1
