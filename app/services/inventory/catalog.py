"""Catalog look-ups: which product a channel's SKU string means."""
from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.models import Product, SkuAlias, normalize_sku
from app.models.base import utcnow
from app.services.core import audit
from app.services.core.actor import Actor
from app.services.core.errors import AlreadyUsed, NotFound, UnknownRecord, ValidationFailed
from app.services.core.transaction import transactional


def resolve_skus(session: Session, channel_id: int | None, skus) -> dict[str, int]:
    """{normalised sku: product id} for the SKUs that match a product or an alias
    (the channel's own aliases win over global ones). Case-insensitive, one query each."""
    keys = {normalize_sku(s) for s in skus if normalize_sku(s)}
    if not keys:
        return {}
    found = dict(session.execute(select(Product.sku, Product.id).where(Product.sku.in_(keys))).all())
    missing = keys - set(found)
    if missing:
        rows = session.execute(
            select(SkuAlias.alias, SkuAlias.product_id, SkuAlias.channel_id)
            .where(SkuAlias.alias.in_(missing),
                   or_(SkuAlias.channel_id.is_(None), SkuAlias.channel_id == channel_id))
            .order_by(SkuAlias.channel_id.is_(None))  # channel-specific first
        ).all()
        for alias, product_id, _channel in rows:
            found.setdefault(alias, product_id)
    return found


@transactional
def map_sku(session: Session, alias: str, product_id: int, actor: Actor,
            channel_id: int | None = None) -> SkuAlias:
    """Create a lasting alias from a channel SKU to a product."""
    key = normalize_sku(alias)
    if not key:
        raise ValidationFailed.field("alias", "is required")
    if session.get(Product, product_id) is None:
        raise UnknownRecord.field("product_id", f"unknown product {product_id}")
    existing = session.scalar(select(SkuAlias).where(
        SkuAlias.alias == key,
        SkuAlias.channel_id.is_(None) if channel_id is None else SkuAlias.channel_id == channel_id))
    if existing:
        if existing.product_id != product_id:
            raise AlreadyUsed.field("alias", f"'{key}' already maps to product {existing.product_id}")
        return existing
    row = SkuAlias(alias=key, product_id=product_id, channel_id=channel_id,
                   created_by=actor.label, created_at=utcnow())
    session.add(row)
    session.flush()
    audit.record(session, actor, "sku_alias", row.id, "create",
                 {"alias": key, "product_id": product_id, "channel_id": channel_id})
    return row


def product_by_sku(session: Session, sku: str) -> Product:
    product = session.scalar(select(Product).where(Product.sku == normalize_sku(sku)))
    if product is None:
        raise NotFound(f"No product with SKU {sku}")
    return product


def sandbox_catalog(session: Session) -> list[dict]:
    """The active products as the channel sandbox wants them: sku, name, price."""
    rows = session.execute(select(Product.sku, Product.name, Product.price)
                           .where(Product.active.is_(True)).order_by(Product.sku))
    return [{"sku": sku, "name": name, "price": str(price or "10.00")} for sku, name, price in rows]
