"""Where an order goes: the address key the velocity check counts by (risk) and that every
write of a shipping address keeps up to date (import, staff edit, channel update)."""
from __future__ import annotations

import hashlib

from app.models import Order


def address_key(address: dict | None) -> str | None:
    """A digest of the parts of a shipping address that say where it goes (case, spaces
    and punctuation ignored), for the velocity check."""
    if not address or not address.get("line1"):
        return None
    parts = []
    for name in ("line1", "line2", "postcode", "city", "country"):
        value = str(address.get(name) or "")
        parts.append("".join(ch for ch in value.casefold() if ch.isalnum()))
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def refresh_address_key(order: Order) -> str | None:
    """Set ``order.ship_address_key`` from its shipping address as it is now: called when
    screened and whenever the shipping address changes (staff edit, channel update), so
    that the velocity check counts the order at the address it now goes to. No commit."""
    order.ship_address_key = address_key(order.shipping_address)
    return order.ship_address_key
