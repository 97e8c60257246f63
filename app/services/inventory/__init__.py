"""Stock and what it is of: guarded stock changes, each a ledger movement, and the batch
stock book (``stock``); products and SKU aliases (``catalog``); warehouses and products as
reference data (``reference``)."""

__all__ = ["catalog", "reference", "stock"]
