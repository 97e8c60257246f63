"""The audit log of reference-data changes (settings, rates, channels, warehouses, ...)."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.models import AuditLog
from app.models.base import utcnow
from app.services.core.actor import Actor
from app.services.core.jsonable import to_jsonable

SECRET_MASK = "********"


def record(session: Session, actor: Actor, entity: str, entity_id: Any, action: str,
           changes: dict | None = None) -> AuditLog:
    row = AuditLog(
        created_at=utcnow(), actor=actor.label, user_id=actor.user_id, entity=entity,
        entity_id=None if entity_id is None else str(entity_id), action=action,
        changes=to_jsonable(changes),
    )
    session.add(row)
    return row


def diff(before: dict, after: dict, secret_fields: tuple[str, ...] = ()) -> dict:
    """{field: {"old": .., "new": ..}} for the fields that changed; secrets masked."""
    changes = {}
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old != new:
            if key in secret_fields:
                old, new = SECRET_MASK if old else None, SECRET_MASK if new else None
            changes[key] = {"old": old, "new": new}
    return changes
