"""The warehouse floor: picking, packing and shipments (``shipments``); carrier accounts
(``carriers``), labels bought, reprinted and voided (``labels``), parcels tracked
(``tracking``) and the delivery exceptions queue (``exceptions``); rate shopping by shipping
rules (``shipping_rules``, ``dry_run``), box presets and customs lines (``boxes``), carrier
manifests (``manifests``); pick lists and scan-verified picking (``picking``), the pack station
(``packing``), their PDFs (``documents``), the SLA clocks (``sla``) and the Warehouse home
(``floor``); return labels (``return_labels``); ZPL labels to the warehouse's network printer
(``printing``)."""

__all__ = ["boxes", "carriers", "documents", "dry_run", "exceptions", "floor", "labels",
           "manifests", "packing", "picking", "printing", "return_labels", "shipments", "shipping_rules", "sla",
           "tracking"]
