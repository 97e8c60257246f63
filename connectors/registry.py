"""The one place that knows which connector serves which channel kind."""
from __future__ import annotations

from typing import Any

CHANNEL_KINDS = ("shopify", "woocommerce", "amazon")

# The API versions each connector can read, its default first (a channel's ``api_version``).
API_VERSIONS = {
    "amazon": ("2026-01-01", "v0"),
    "shopify": ("2026-10", "2026-07", "2026-04", "2026-01"),
}


def supports(kind: str) -> bool:
    return kind in CHANNEL_KINDS


def build_connector(kind: str, base_url: str, credentials: dict, **options: Any):
    """The order connector for a channel kind, e.g.
    ``build_connector("shopify", channel.base_url, channel_credentials, time_scale=1.0)``.

    Options by kind: all take ``time_scale``, ``page_size``, ``max_retries``, ``timeout``;
    WooCommerce ``auth`` ("auto", "basic", "query", "oauth1"); Amazon ``marketplace_ids``, ``token_url``.
    """
    if kind == "shopify":
        from .shopify import ShopifyConnector as cls
    elif kind == "woocommerce":
        from .woocommerce import WooCommerceConnector as cls
    elif kind == "amazon":
        from .amazon import AmazonConnector as cls
    else:
        raise ValueError(f"no order connector for channel kind {kind!r}")
    if not base_url:
        raise ValueError(f"a {kind} channel needs a base URL")
    if options.get("api_version") is None:
        options.pop("api_version", None)  # the connector's default
    return cls(base_url, credentials, **options)


def normalizer_for(kind: str):
    """The pure ``normalize_order(raw)`` of a channel whose webhooks carry whole orders."""
    if kind == "shopify":
        from .shopify import normalize_order
    elif kind == "woocommerce":
        from .woocommerce import normalize_order
    else:
        raise ValueError(f"no webhook normaliser for channel kind {kind!r}")
    return normalize_order
