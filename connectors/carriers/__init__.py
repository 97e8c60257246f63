"""Carrier connectors behind one contract (``base.py``; DESIGN.md "Carriers"): ``manual``,
``ups``, ``fedex``, ``usps``, ``dhl``, ``easypost``. ``module(kind)`` gives a carrier's module; ``connect(account)`` its client."""
from __future__ import annotations

from types import ModuleType

from . import dhl, easypost, fedex, manual, ups, usps
from .base import Account

CARRIERS: dict[str, ModuleType] = {"manual": manual, "ups": ups, "fedex": fedex, "usps": usps, "dhl": dhl,
                                   "easypost": easypost}
KINDS = tuple(CARRIERS)


def module(kind: str) -> ModuleType:
    try:
        return CARRIERS[kind]
    except KeyError:
        raise ValueError(f"unknown carrier {kind!r}") from None


def connect(account: Account):
    return module(account.kind).connect(account)
