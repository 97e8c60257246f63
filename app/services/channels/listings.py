"""Listings: what each channel sells, with the ids a stock push needs, matched to our products.

``store_snapshot`` writes what a connector's ``fetch_listings`` found (the job ``sync_listings``
and "sync now" on the Listings page both end here): one row per channel item (keyed by the
channel's own id), matched by SKU, then by SKU alias (the channel's own aliases first); a
listing the channel no longer has is removed; the channel's locations are kept on the channel.
Unmatched listings (``product_id`` None) wait for Operations, who map them (``map_listing``:
an alias for the channel, so that orders with that SKU match too). Each sync and each mapping
leaves an audit row.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.base import ListingSnapshot

from app.models import Channel, Listing, Product, normalize_sku
from app.models.base import utcnow
from app.services.core import audit
from app.services.inventory import catalog
from app.services.core.actor import Actor
from app.services.core.errors import NotFound, ValidationFailed
from app.services.core.transaction import transactional


@dataclass
class ListingSyncResult:
    created: int = 0
    updated: int = 0
    removed: int = 0
    matched: int = 0
    unmatched: int = 0


def _match(session: Session, channel_id: int, skus: list) -> dict[str, tuple[int, str]]:
    """{normalised sku: (product id, "sku" | "alias")}."""
    keys = {normalize_sku(s) for s in skus if normalize_sku(s)}
    direct = dict(session.execute(select(Product.sku, Product.id).where(Product.sku.in_(keys))).all()) if keys else {}
    found = catalog.resolve_skus(session, channel_id, list(keys - set(direct)))
    return {**{k: (v, "alias") for k, v in found.items()}, **{k: (v, "sku") for k, v in direct.items()}}


@transactional
def store_snapshot(session: Session, channel: Channel, snapshot: ListingSnapshot, actor: Actor) -> ListingSyncResult:
    now = utcnow()
    result = ListingSyncResult()
    existing = {row.external_key: row for row in session.scalars(
        select(Listing).where(Listing.channel_id == channel.id))}
    matches = _match(session, channel.id, [item.sku for item in snapshot.listings])
    seen = set()
    for item in snapshot.listings:
        if item.external_key in seen:
            continue  # a channel that lists an item twice: the first one counts
        seen.add(item.external_key)
        row = existing.get(item.external_key)
        if row is None:
            row = Listing(channel_id=channel.id, external_key=item.external_key)
            session.add(row)
            result.created += 1
        else:
            result.updated += 1
        product_id, how = matches.get(normalize_sku(item.sku), (None, None))
        if row.matched_by == "manual" and row.product_id is not None and normalize_sku(item.sku) == normalize_sku(row.sku):
            product_id, how = row.product_id, "manual"  # a person's mapping stands while the SKU does
        row.sku, row.title = item.sku, (item.title or "")[:255]
        row.external_id, row.external_variant_id = item.external_id, item.external_variant_id
        row.inventory_item_id, row.asin, row.product_type = item.inventory_item_id, item.asin, item.product_type
        row.product_id, row.matched_by, row.synced_at = product_id, how or "unmatched", now
        if product_id is None:
            result.unmatched += 1
        else:
            result.matched += 1
    for key, row in existing.items():
        if key not in seen:
            session.delete(row)
            result.removed += 1
    if snapshot.locations:
        channel.locations = snapshot.locations
    session.flush()
    audit.record(session, actor, "channel", channel.id, "sync_listings", result.__dict__)
    return result


@transactional
def map_listing(session: Session, listing_id: int, product_sku: str, actor: Actor) -> Listing:
    """Map an unmatched (or wrongly matched) listing to one of our products: the listing's SKU
    becomes an alias of the product for this channel, so that its orders match too."""
    listing = session.get(Listing, listing_id)
    if listing is None:
        raise NotFound(f"Listing {listing_id} not found")
    product = session.scalar(select(Product).where(Product.sku == normalize_sku(product_sku)))
    if product is None:
        raise ValidationFailed.field("product_sku", f"no product has the SKU {product_sku!r}")
    if listing.sku and normalize_sku(listing.sku) != product.sku:
        catalog.map_sku(session, listing.sku, product.id, actor, channel_id=listing.channel_id)
    before = listing.product_id
    listing.product_id, listing.matched_by = product.id, "manual"
    session.flush()
    audit.record(session, actor, "listing", listing.id, "map",
                 {"product_id": {"old": before, "new": product.id}, "sku": listing.sku})
    return listing


def unmatched_count(session: Session, channel_id: int | None = None) -> int:
    query = select(func.count(Listing.id)).where(Listing.product_id.is_(None))
    if channel_id is not None:
        query = query.where(Listing.channel_id == channel_id)
    return session.scalar(query) or 0
