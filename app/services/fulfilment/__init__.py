"""The warehouse floor: picking, packing and shipments (``shipments``); carrier accounts
(``carriers``), labels bought, reprinted and voided (``labels``), parcels tracked
(``tracking``) and the delivery exceptions queue (``exceptions``); pick lists and scan-verified
picking (``picking``), the pack station (``packing``), their PDFs (``documents``) and the SLA
clocks (``sla``)."""

__all__ = ["carriers", "documents", "exceptions", "floor", "labels", "packing", "picking", "shipments", "sla", "tracking"]
