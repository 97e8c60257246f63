"""The warehouse floor: picking, packing and shipments (``shipments``); carrier accounts
(``carriers``), labels bought, reprinted and voided (``labels``), parcels tracked
(``tracking``) and the delivery exceptions queue (``exceptions``); rate shopping by shipping
rules (``shipping_rules``), box presets and customs lines (``packing``), carrier manifests
(``manifests``)."""

__all__ = ["carriers", "dry_run", "exceptions", "labels", "manifests", "packing", "shipments", "shipping_rules", "tracking"]
