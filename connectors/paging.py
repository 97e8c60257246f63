"""What the three order connectors share: one page loop with replay detection.

``next_page`` tokens are opaque to the services. They carry the channel's cursor and a short
digest of the ids of the page just returned: if the channel answers the next request with that
same page again (a replayed or cached response), the connector notices and asks again instead of
returning duplicates, or, with offset paging, silently skipping a page.
"""
from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timezone
from typing import Any, Optional, Sequence

from .base import NormalizedOrder, OrderPage
from .errors import ChannelUnavailable, InvalidPayload

log = logging.getLogger("connectors")

MAX_REPLAYS = 5


def ids_digest(ids: Sequence[str]) -> str:
    return hashlib.sha1("\x1f".join(ids).encode()).hexdigest()[:12]


def make_page_token(cursor: str, ids: Sequence[str]) -> str:
    return f"{ids_digest(ids)}~{cursor}"


def split_page_token(token: str) -> tuple[str, Optional[str]]:
    digest, sep, cursor = token.partition("~")
    if not sep:  # a bare cursor (e.g. handed over by hand): no replay check
        return token, None
    return cursor, digest


def utc(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        raise ValueError("updated_since must be an aware datetime")
    return dt.astimezone(timezone.utc)


class PagedOrderConnector:
    """Base for the channel connectors: subclasses fetch one raw page and normalise one raw order."""

    channel = "channel"

    def _fetch_raw_page(self, updated_since: datetime, cursor: Optional[str]) -> tuple[list, Optional[str]]:
        raise NotImplementedError

    def _raw_id(self, raw: Any) -> str:
        raise NotImplementedError

    def _normalize_raw(self, raw: Any) -> NormalizedOrder:
        raise NotImplementedError

    def _began_again(self) -> bool:
        """Whether the page just fetched is the first page of the pass begun again (an expired
        pagination token): then it is expected to repeat an earlier page. Asking clears it."""
        began, self._restarted = getattr(self, "_restarted", False), False
        return began

    def _safe_id(self, raw: Any) -> str:
        try:
            return str(self._raw_id(raw))
        except Exception:
            return repr(raw)[:80]

    def fetch_orders(self, updated_since: datetime, page: Optional[str] = None) -> OrderPage:
        updated_since = utc(updated_since)
        cursor, previous = split_page_token(page) if page else (None, None)
        for _ in range(MAX_REPLAYS + 1):
            raws, next_cursor = self._fetch_raw_page(updated_since, cursor)
            ids = [self._safe_id(r) for r in raws]
            if previous and ids and ids_digest(ids) == previous and not self._began_again():
                log.warning("%s: the previous page was served again for %r; asking again", self.channel, cursor)
                continue
            break
        else:
            raise ChannelUnavailable(f"{self.channel}: the previous page was served again {MAX_REPLAYS + 1} times",
                                     channel=self.channel)
        orders: list[NormalizedOrder] = []
        invalid: list[tuple[Any, str]] = []
        for raw in raws:
            try:
                orders.append(self._normalize_raw(raw))
            except InvalidPayload as exc:
                log.warning("%s: invalid order payload %s: %s", self.channel, self._safe_id(raw), exc)
                invalid.append((raw, str(exc)))
        next_page = make_page_token(next_cursor, ids) if next_cursor else None
        return OrderPage(orders=orders, next_page=next_page, invalid=invalid)
