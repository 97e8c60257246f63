"""Channel and carrier connectors. They speak HTTP and return plain data
(``base.NormalizedOrder``); they never import ``app.models`` or touch the database."""
from __future__ import annotations

from .registry import CHANNEL_KINDS, build_connector, normalizer_for, supports  # noqa: F401
