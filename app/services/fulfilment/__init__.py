"""The warehouse floor: picking, packing and shipments (``shipments``); carrier accounts
(``carriers``), labels bought, reprinted and voided (``labels``), parcels tracked
(``tracking``) and the delivery exceptions queue (``exceptions``)."""

__all__ = ["carriers", "exceptions", "labels", "return_labels", "shipments", "tracking"]
