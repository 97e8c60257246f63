"""Returns and refunds (``actions``)."""

__all__ = ["actions", "policy", "self_service"]
