"""Available to promise per channel (inventory/atp.py): serving warehouses, buffers in units
and percent (rounded up), never below zero, a cap, per location."""
from app.services.inventory import atp
from app.services.inventory import stock as inventory
from app.services.inventory import reference


def test_atp_follows_the_channels_rules(session, make):
    a, b, closed = make.warehouse("A"), make.warehouse("B"), make.warehouse("C")
    product = make.product("ATP-1", stock={a: 8, b: 10, closed: 50})
    reference.save(session, "warehouse", {"active": False}, make.actor, closed.id)
    order = make.order(make.channel("atp-shop"), [("ATP-1", 3, "5.00")])  # reserved: not available
    assert order.status == "allocated"
    available = atp.available_by_warehouse(session, [product.id], None)[product.id]
    assert sum(available.values()) == 15 and closed.id not in available
    in_a, in_b = available[a.id], available[b.id]

    def promise(**rules):
        return atp.promises(session, atp.StockRules(**rules), [product.id])[product.id]

    assert promise().quantity == 15
    assert promise(buffer=2).quantity == 13
    assert promise(buffer_percent=10).quantity == 13  # 10 % of 15 = 1.5, held back as 2
    assert promise(buffer=20).quantity == 0  # never below zero
    assert promise(cap=4).quantity == 4
    assert promise(warehouse_ids=(b.id,)).quantity == in_b
    split = promise(buffer=1, locations={"L1": (a.id,), "L2": (b.id,)})
    assert split.by_location == {"L1": in_a - 1, "L2": in_b - 1} and split.quantity == 13
    inventory.adjust(session, b.id, product.id, -in_b, "lost", make.actor)
    assert promise(locations={"L1": (a.id,), "L2": (b.id,)}).by_location == {"L1": in_a, "L2": 0}
    assert atp.promises(session, atp.StockRules(), [make.product("ATP-NONE").id])  # no stock: 0
