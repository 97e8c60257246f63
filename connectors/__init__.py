"""Channel and carrier connectors. They speak HTTP and return plain data
(``base.NormalizedOrder``); they never import ``app.models`` or touch the database."""
from __future__ import annotations

from typing import Any

CHANNEL_KINDS = ("shopify", "woocommerce", "amazon")


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
    return cls(base_url, credentials, **options)
