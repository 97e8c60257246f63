"""Who did something. Every order event, stock movement and audit row carries one.

Labels follow DESIGN.md: ``user:<username>``, ``job:<name>``, ``channel:<code>``, ``system``; ``customer:<e-mail>``
for the buyer on the self-service return page.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class Actor:
    label: str
    user_id: Optional[int] = None

    @classmethod
    def for_user(cls, user) -> "Actor":
        return cls(label=f"user:{user.username}", user_id=user.id)

    @classmethod
    def job(cls, name: str) -> "Actor":
        return cls(label=f"job:{name}")

    @classmethod
    def channel(cls, code: str) -> "Actor":
        return cls(label=f"channel:{code}")

    @classmethod
    def customer(cls, email: str | None) -> "Actor":
        """The buyer on a public page (the self-service return page)."""
        return cls(label=f"customer:{(email or '?').lower()}"[:128])

    @classmethod
    def system(cls) -> "Actor":
        return cls(label="system")

    def __str__(self) -> str:
        return self.label
