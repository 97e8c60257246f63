"""The warehouse floor: a warehouse with binned, barcoded products and allocated orders."""
from __future__ import annotations

import pytest

from app.services.inventory import reference
from app.services.inventory import stock as inventory

PACKAGE = [{"weight_kg": "0.8", "length_cm": "25", "width_cm": "18", "height_cm": "8"}]


@pytest.fixture
def floor(session, make, actor):
    """Warehouse EWR with MUG (bin A2-10, barcode 4006381333931), TEE (bin A2-9), CAP (bin B1-1);
    ``floor.order([(sku, qty)...])`` imports (and allocates) an order."""
    warehouse = make.warehouse("EWR", "US")
    channel = make.channel("shop")
    admin = actor("admin")
    products = {}
    for sku, bin_code, barcode in (("MUG", "A2-10", "4006381333931"), ("TEE", "A2-9", "4006381333948"),
                                   ("CAP", "B1-1", "4006381333955")):
        product = make.product(sku, stock={warehouse: 10})
        reference.save(session, "product", {"barcode": barcode}, admin, pk=product.id)
        level = inventory.get_level(session, warehouse.id, product.id)
        inventory.set_bin(session, level.id, bin_code, admin)
        products[sku] = product

    class Floor:
        pass

    f = Floor()
    f.warehouse, f.channel, f.products, f.session = warehouse, channel, products, session
    f.order = lambda lines, **kw: make.order(channel, [(sku, qty, "10.00") for sku, qty in lines], **kw)
    return f
