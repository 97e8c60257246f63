"""Closing sync conflicts: a person says what was done about one (resolved) or that it
needs nothing (discarded), with a note; the conflict keeps its payload for the record."""
from __future__ import annotations

from sqlalchemy.orm import Session

from ..models import SyncConflict
from ..models.base import utcnow
from . import audit, validation
from .actor import Actor
from .errors import InvalidTransition, NotFound, ValidationFailed
from .transaction import transactional

OUTCOMES = ("resolved", "discarded")


@transactional
def close(session: Session, conflict_id: int, outcome: str, note: str | None,
          actor: Actor) -> SyncConflict:
    if outcome not in OUTCOMES:
        raise ValidationFailed.field("status", f"must be one of {', '.join(OUTCOMES)}")
    note = validation.text(note, "note", max_length=2000, required=outcome == "discarded")
    conflict = session.get(SyncConflict, conflict_id, with_for_update=True)
    if conflict is None:
        raise NotFound(f"Sync conflict {conflict_id} not found")
    if conflict.status != "open":
        raise InvalidTransition(f"Sync conflict {conflict_id} is already {conflict.status}",
                                errors={"status": [f"is {conflict.status}"]})
    conflict.status, conflict.resolution = outcome, outcome
    conflict.resolution_note = note
    conflict.resolved_by, conflict.resolved_at = actor.label, utcnow()
    audit.record(session, actor, "sync_conflict", conflict.id, outcome,
                 {"status": {"old": "open", "new": outcome}, "note": note})
    return conflict
