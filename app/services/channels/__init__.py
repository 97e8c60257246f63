"""The sales channels: their configuration and credentials (``config``), the idempotent
import of their orders (``importing``; a page of new orders in bulk: ``bulk_import``, which
``bulk_prepare`` prepares and ``bulk_write`` writes), polling and webhooks (``sync``),
sync conflicts, and the Operations pages' actions and health (``ops``, ``health``); what the
database can hold, checked before an import writes (``storable``); the channels' listings;
stock pushed to them (``stock_push``) and read back for drift (``stock_drift``);
fulfilments, cancellations and refunds written back to the channels (``writeback``).
"""

__all__ = ["bulk_import", "bulk_prepare", "bulk_write", "config", "conflicts", "health",
           "importing", "listings", "ops", "stock_drift", "stock_push", "storable", "sync",
           "writeback"]
