"""What moves an order on by itself: the pipeline after an order is stored (``pipeline``),
business rules and risk checks with the review queue, routing (which warehouse) and
allocation of stock in batches (``allocation``; the queue of waiting orders in
``allocation_queue``), and
the actions that run it again (``order_actions``: re-allocation, bulk actions).
``subscribers`` is what lifecycle does on the lower domains' events."""

__all__ = [
    "allocation", "allocation_queue", "order_actions", "pipeline", "risk", "routing", "rules",
    "subscribers",
]
