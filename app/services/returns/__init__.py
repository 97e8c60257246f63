"""Returns and refunds (``actions``)."""

__all__ = ["actions", "listing", "policy", "self_service"]
