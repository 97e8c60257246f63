"""Returns and refunds (``actions``)."""

__all__ = ["actions", "exchanges", "listing", "policy", "self_service"]
