"""Permission vocabulary, roles in code, and Waybill's security manager."""
