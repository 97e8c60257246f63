"""Read-side helpers for stock: levels with their warehouse and product, and look-ups of
warehouses and products by the keys people type (code, SKU)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from ..models import Product, StockLevel, Warehouse, normalize_sku


def level_detail(session: Session, level_id: int) -> StockLevel | None:
    return session.scalar(
        select(StockLevel).where(StockLevel.id == level_id)
        .options(joinedload(StockLevel.warehouse), joinedload(StockLevel.product))
        .execution_options(populate_existing=True)
    )


def warehouse_id_by_code(session: Session, code: str) -> int | None:
    return session.scalar(select(Warehouse.id).where(Warehouse.code == (code or "").strip().upper()))


def product_id_by_sku(session: Session, sku: str) -> int | None:
    return session.scalar(select(Product.id).where(Product.sku == normalize_sku(sku)))
