"""One action on many records, each in its own transaction: a record that cannot be done
is reported with why and does not stop the others (conflict resolutions, review queue)."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from sqlalchemy.orm import Session

from app.services.core.errors import DomainError

log = logging.getLogger(__name__)


@dataclass
class BulkResult:
    action: str
    succeeded: list = field(default_factory=list)  # labels of the records done
    failed: list[tuple[Any, str]] = field(default_factory=list)  # (label, why)

    @property
    def total(self) -> int:
        return len(self.succeeded) + len(self.failed)


def apply_each(session: Session, result: BulkResult, keys, apply: Callable[[Any], None], *,
               label: Callable[[Any], Any] = lambda key: key) -> BulkResult:
    """``apply(key)`` for every key (each call one service transaction)."""
    for key in keys:
        try:
            apply(key)
        except DomainError as err:
            result.failed.append((label(key), err.message))
        except Exception as exc:  # noqa: BLE001 — one bad record must not stop the rest
            log.exception("bulk %s of %s failed", result.action, key)
            session.rollback()
            result.failed.append((label(key), f"unexpected error ({type(exc).__name__})"))
        else:
            result.succeeded.append(label(key))
    return result
