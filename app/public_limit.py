"""A per-client-address request limit for the public pages (the mail opt-out link, the
self-service return page): enough for a person, not for someone walking tokens or guessing
order numbers. Per process, in memory."""
from __future__ import annotations

import threading
import time
from collections import deque

WINDOW_SECONDS = 60


class PerAddressLimit:
    def __init__(self):
        self._hits: dict[str, deque] = {}
        self._lock = threading.Lock()

    def hit(self, address: str, limit: int) -> bool:
        """Count one request; False when this address is over ``limit`` a minute."""
        now = time.monotonic()
        with self._lock:
            if len(self._hits) > 10_000:  # a flood of addresses: forget the quiet ones
                for key in [k for k, v in self._hits.items() if not v or now - v[-1] > WINDOW_SECONDS]:
                    del self._hits[key]
            hits = self._hits.setdefault(address, deque())
            while hits and now - hits[0] > WINDOW_SECONDS:
                hits.popleft()
            if len(hits) >= limit:
                return False
            hits.append(now)
            return True

    def clear(self) -> None:
        with self._lock:
            self._hits.clear()
