"""Stock and what it is of: guarded stock changes, each a ledger movement, and the batch
stock book (``stock``); products and SKU aliases (``catalog``); warehouses and products as
reference data (``reference``); what each channel may sell of it (``atp``)."""

__all__ = ["atp", "catalog", "reference", "stock"]
