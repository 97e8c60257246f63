"""The demo's parcels move (issue 16, point 7): once the sandbox runs, `flask oms demo-labels`
ships packed demo orders with real sandbox labels, and a tracking pass follows them."""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import CarrierAccount, Order, Shipment


def test_demo_labels_ship_packed_orders_whose_parcels_then_move(app, carrier_sandbox):
    app.config["OMS_SANDBOX_URL"] = carrier_sandbox.root  # where the demo's carrier accounts point
    runner = app.test_cli_runner()
    assert runner.invoke(args=["oms", "init", "--demo", "--orders", "120"]).exit_code == 0
    packed = db.session.scalars(select(Order.id).where(Order.status == "packed")).all()
    db.session.remove()
    assert len(packed) >= 2

    result = runner.invoke(args=["oms", "demo-labels", "--count", "2"])
    assert result.exit_code == 0, result.output
    assert "demo labels: 2 bought from the carrier sandbox" in result.output
    shipped = db.session.execute(
        select(Shipment.order_id, Shipment.status, Shipment.tracking_number, CarrierAccount.code)
        .join(CarrierAccount, Shipment.carrier_account_id == CarrierAccount.id)
        .where(CarrierAccount.code.in_(["ups-sandbox", "easypost-sandbox"]))).all()
    assert len(shipped) == 2 and {s.order_id for s in shipped} <= set(packed)
    assert {s.code for s in shipped} == {"ups-sandbox", "easypost-sandbox"}  # one each
    assert {s.status for s in shipped} == {"label_created"} and all(s.tracking_number for s in shipped)
    before = {s.order_id: db.session.get(Order, s.order_id).status for s in shipped}
    assert set(before.values()) <= {"shipped", "partially_shipped"}  # a demo order may be part-reserved
    db.session.remove()

    carrier_sandbox.control("advance", hours=400)  # past any delivery of the sandbox's timeline
    tracked = runner.invoke(args=["oms", "track"])
    assert tracked.exit_code == 0 and "2 asked" in tracked.output, tracked.output
    numbers = [s.tracking_number for s in shipped]
    assert set(db.session.scalars(select(Shipment.status).where(Shipment.tracking_number.in_(numbers)))) \
        == {"delivered"}
    for order_id, status in before.items():  # an order all shipped is delivered now
        assert db.session.get(Order, order_id).status == ("delivered" if status == "shipped" else status)
