"""Returns and refunds (``actions``; refunds above a limit: ``approvals``)."""

__all__ = ["actions", "approvals", "channel_returns", "exchanges", "listing", "parcels", "policy", "self_service",
           "subscribers"]
