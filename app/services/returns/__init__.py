"""Returns and refunds (``actions``)."""

__all__ = ["actions", "policy"]
