"""Reference data shipped with Waybill (no network look-ups at run time)."""
