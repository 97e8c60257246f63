"""Build the connector for a channel kind: the one place that knows the classes."""
from __future__ import annotations

from .amazon import AmazonConnector
from .shopify import ShopifyConnector
from .woocommerce import WooCommerceConnector

CONNECTORS = {
    "shopify": ShopifyConnector,
    "woocommerce": WooCommerceConnector,
    "amazon": AmazonConnector,
}


def supports(kind: str) -> bool:
    return kind in CONNECTORS


def build_connector(kind: str, base_url: str, credentials: dict, **options):
    """``options`` go to the connector (e.g. ``time_scale`` for tests against the sandbox)."""
    try:
        cls = CONNECTORS[kind]
    except KeyError:
        raise ValueError(f"no connector for channel kind '{kind}'") from None
    if not base_url:
        raise ValueError(f"channel kind '{kind}' needs a base URL")
    return cls(base_url, credentials, **options)


def normalizer_for(kind: str):
    """The pure ``normalize_order(raw)`` of a channel whose webhooks carry whole orders."""
    from . import shopify, woocommerce

    normalizers = {"shopify": shopify.normalize_order, "woocommerce": woocommerce.normalize_order}
    try:
        return normalizers[kind]
    except KeyError:
        raise ValueError(f"no webhook normaliser for channel kind '{kind}'") from None
