"""The sales channels: their configuration and credentials (``config``), the idempotent
import of their orders (``importing``, ``bulk_import``), polling and webhooks (``sync``),
sync conflicts, and the Operations pages' actions and health (``ops``, ``health``); what the
database can hold, checked before an import writes (``storable``); the channels' listings.
"""

__all__ = ["bulk_import", "config", "conflicts", "health", "importing", "listings", "ops",
           "storable", "sync"]
