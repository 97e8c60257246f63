"""A page of a list whose count is capped: counting every row of a large table on each page
view costs more than the page itself, so lists count up to ``cap`` and say "more than"."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class CappedPage:
    rows: list[Any]
    total: int  # capped: more than ``cap`` reads as cap + 1
    page: int
    page_size: int
    cap: int

    @property
    def capped(self) -> bool:
        return self.total > self.cap

    @property
    def pages(self) -> int:
        return max(1, -(-min(self.total, self.cap) // self.page_size))
