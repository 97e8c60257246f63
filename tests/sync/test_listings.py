"""Listings synced from every channel over real HTTP (Shopify GraphQL, WooCommerce products and
variations, Amazon Listings Items), matched to products by SKU or alias; unmatched ones mapped by
Operations; a failing channel leaves what was stored."""
import pytest
from sqlalchemy import select

from app.models import Listing, SkuAlias, SyncRun
from app.services.channels import listings
from jobs import sync_listings


def _rows(session, channel):
    session.expire_all()
    return {row.external_key: row for row in session.scalars(select(Listing).where(Listing.channel_id == channel.id))}


@pytest.mark.parametrize("kind", ["shopify", "woocommerce", "amazon"])
def test_listings_are_synced_and_matched_by_sku(session, sandbox, sandbox_channels, kind):
    state, _root = sandbox
    big = state.add_product(kind, None, "Big Tee", 130 if kind == "shopify" else 3, "BIG")
    channel = sandbox_channels[kind]
    run = sync_listings.run(channel.code)
    assert run.status == "succeeded", run.error_message
    rows = _rows(session, channel)
    assert len(rows) == 12 + len(big["variants"]) == run.fetched
    matched = [r for r in rows.values() if r.product_id is not None]
    assert len(matched) == 12 and all(r.matched_by == "sku" for r in matched)
    unmatched = [r for r in rows.values() if r.product_id is None]
    assert sorted(r.sku for r in unmatched) == [v["sku"] for v in big["variants"]]
    assert run.conflicts == len(unmatched) == listings.unmatched_count(session, channel.id)
    if kind == "shopify":  # the ids a stock push needs, a product with more than 100 variants too
        assert all(r.inventory_item_id.startswith("gid://shopify/InventoryItem/") for r in rows.values())
        assert {r.external_id for r in unmatched} == {f"gid://shopify/Product/{big['id']}"}
        session.refresh(channel)
        assert [loc["name"] for loc in channel.locations] == ["Main warehouse", "Retail store", "Old depot (closed)"]
    elif kind == "woocommerce":
        assert all("/" in r.external_key and r.external_variant_id for r in unmatched)  # variations
    else:
        assert all(r.asin and r.product_type for r in rows.values())
    again = sync_listings.run(channel.code)  # idempotent
    assert again.created == 0 and again.updated == len(rows) and len(_rows(session, channel)) == len(rows)


def test_operations_map_an_unmatched_listing_and_the_alias_holds(session, sandbox, sandbox_channels, make):
    state, _root = sandbox
    state.add_product("amazon", None, "Blue Mug", 1, "MUG-BLUE")
    channel = sandbox_channels["amazon"]
    sync_listings.run(channel.code)
    (row,) = [r for r in _rows(session, channel).values() if r.product_id is None]
    listings.map_listing(session, row.id, "mug-01", make.actor)
    alias = session.scalar(select(SkuAlias).where(SkuAlias.alias == "MUG-BLUE-001"))
    assert alias.channel_id == channel.id and alias.product_id == row.product_id
    sync_listings.run(channel.code)
    row = _rows(session, channel)[row.external_key]
    assert row.product_id == alias.product_id and listings.unmatched_count(session, channel.id) == 0
    with pytest.raises(Exception, match="no product has the SKU"):
        listings.map_listing(session, row.id, "NOPE", make.actor)


def test_a_channel_that_cannot_be_read_keeps_its_listings(session, sandbox, sandbox_channels):
    state, _root = sandbox
    channel = sandbox_channels["woocommerce"]
    assert sync_listings.run(channel.code).status == "succeeded"
    before = set(_rows(session, channel))
    state.set_faults("woocommerce", {"script": ["500"] * 10})
    run = sync_listings.run(channel.code)
    assert run.status == "failed" and "500" in run.error_message
    assert set(_rows(session, channel)) == before
    runs = session.scalars(select(SyncRun.status).where(SyncRun.job == "sync_listings")).all()
    assert runs == ["succeeded", "failed"]
