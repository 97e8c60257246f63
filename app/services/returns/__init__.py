"""Returns and refunds (``actions``)."""

__all__ = ["actions", "exchanges", "listing", "parcels", "policy", "self_service", "subscribers"]
