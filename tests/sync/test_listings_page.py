"""Channels & Sync → Listings: everyone who reads the catalog sees what each channel lists and
what is unmatched; Operations sync a channel now and map an unmatched listing (CSRF, roles)."""
from sqlalchemy import select

from app.extensions import db
from app.models import Listing
from tests.views.conftest import post


def test_operations_sync_and_map_listings_others_only_read(client_for, sandbox, sandbox_channels):
    state, _root = sandbox
    state.add_product("woocommerce", None, "Gift Card", 1, "GIFT")
    channel = sandbox_channels["woocommerce"]
    ops = client_for("operations")
    response = post(ops, f"/listings/sync/{channel.id}", {})
    assert response.status_code == 302
    page = ops.get(response.headers["Location"]).get_data(as_text=True)
    assert "Listings sync succeeded: 13 listings, 13 new, 1 unmatched" in page
    unmatched = db.session.scalar(select(Listing).where(Listing.product_id.is_(None)))
    listing_page = ops.get(f"/listings/show/{unmatched.id}").get_data(as_text=True)
    assert "GIFT-001" in listing_page and "unmatched" in listing_page and "Map to a product" in listing_page
    listed = ops.get("/listings/list/?_flt_0_matched_by=unmatched").get_data(as_text=True)
    assert "GIFT-001" in listed and "TEE-BLK-M" not in listed

    for role in ("support", "viewer", "warehouse"):  # catalog readers: read, not write
        client = client_for(role)
        assert client.get(f"/listings/show/{unmatched.id}").status_code == 200
        assert "Map to a product" not in client.get(f"/listings/show/{unmatched.id}").get_data(as_text=True)
        assert post(client, f"/listings/{unmatched.id}/map", {"product_sku": "MUG-01"}).status_code == 403
        assert post(client, f"/listings/sync/{channel.id}", {}).status_code == 403
    assert ops.post(f"/listings/{unmatched.id}/map", data={"product_sku": "MUG-01"}).status_code == 400  # no CSRF

    response = post(ops, f"/listings/{unmatched.id}/map", {"product_sku": "mug-01"})
    assert "mapped to mug-01" in ops.get(response.headers["Location"]).get_data(as_text=True)
    db.session.expire_all()
    row = db.session.get(Listing, unmatched.id)
    assert row.product.sku == "MUG-01" and row.matched_by == "manual"
