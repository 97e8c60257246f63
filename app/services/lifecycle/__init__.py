"""What moves an order on by itself: the pipeline after an order is stored (``pipeline``),
business rules and risk checks with the review queue, allocation of stock in batches, and
the actions that run it again (``order_actions``: re-allocation, bulk actions).
``subscribers`` is what lifecycle does on the lower domains' events."""

__all__ = ["allocation", "order_actions", "pipeline", "risk", "rules", "subscribers"]
