"""Orders: status transitions, holds, cancellation, notes and address edits (``actions``);
line edits before picking (``edits``); addresses' keys (``addresses``); customers; the read
side of the pages (``queries``) and of the API (``api_reads``); support search; the refund's
state machine (``refunds``)."""

__all__ = ["actions", "addresses", "api_reads", "customers", "edits", "queries", "refunds", "search", "ship_by"]
