"""The warehouse floor: picking, packing and shipments (``shipments``)."""

__all__ = ["shipments"]
