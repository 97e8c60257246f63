"""The audit log of users, roles and API keys, whatever changes them: FAB's security
pages, our API-key page, ``flask oms`` commands and the role sync.

One ``after_flush`` listener looks at every flushed user, role and API key and writes an
audit row with what changed (passwords and key hashes masked; FAB's sign-in counters are
not changes anyone made). The rows go out on the flush's own connection, so they commit
or roll back with the change itself.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

from flask import g, has_request_context
from flask_appbuilder.security.sqla.models import ApiKey, PermissionView, Role, User
from sqlalchemy import delete, event, inspect, insert
from sqlalchemy.orm import RelationshipProperty, Session

from app.models import AuditLog, LoginSession
from app.models.base import utcnow
from app.services.core.audit import SECRET_MASK
from app.services.core.jsonable import to_jsonable

ENTITIES = {User: "user", Role: "role", ApiKey: "api_key"}
WATCHED = tuple(ENTITIES)
# Not changes anyone made: sign-in counters, FAB's own bookkeeping, use of a key.
IGNORED = {"last_login", "login_count", "fail_login_count", "changed_on", "changed_by_fk",
           "created_on", "created_by_fk", "changed_by", "created_by", "last_used_on", "id",
           "user"}
SECRETS = {"password", "key_hash", "lookup_hash"}
RELATIONS = {"user": {"roles"}, "role": {"permissions"}}

# Set while ``batched`` collects rows instead of writing one per flush.
_BATCH: ContextVar[dict | None] = ContextVar("security_audit_batch", default=None)


@contextmanager
def batched(session: Session):
    """One audit row per changed user, role or key for a whole operation, written when it
    ends. FAB's permission sync commits once per permission: without this, the first
    ``flask oms init`` wrote some ninety rows for the Admin role alone."""
    batch: dict = {}
    token = _BATCH.set(batch)
    try:
        yield
    finally:
        _BATCH.reset(token)
    if batch:
        session.execute(insert(AuditLog.__table__), list(batch.values()))
        session.commit()


def _merge(into: dict, row: dict) -> None:
    changes = into["changes"] = into["changes"] or {}
    for key, change in (row["changes"] or {}).items():
        before = changes.get(key)
        if before is None:
            changes[key] = change
        elif "added" in change:
            for side in ("added", "removed"):
                before[side] = sorted(set(before[side]) | set(change[side]))
        else:
            before["new"] = change.get("new")
    if row["action"] == "deleted":
        into["action"] = "deleted"


def _label(item) -> str:
    if isinstance(item, Role):
        return item.name
    if isinstance(item, PermissionView):
        return f"{item.permission.name} on {item.view_menu.name}"
    return str(item)


def _entity_id(obj, entity: str) -> str | None:
    if entity == "user":
        return obj.username
    if entity == "role":
        return obj.name
    return f"{obj.name} ({obj.uuid})" if obj.uuid else obj.name


def _changes(obj, entity: str, created: bool) -> dict:
    state = inspect(obj)
    changes = {}
    for prop in state.mapper.attrs:
        key = prop.key
        if key in IGNORED:
            continue
        is_relation = isinstance(prop, RelationshipProperty)
        if is_relation and key not in RELATIONS.get(entity, ()):
            continue
        history = state.attrs[key].history
        if not history.has_changes():
            continue
        if is_relation:
            added = sorted(_label(x) for x in history.added)
            removed = sorted(_label(x) for x in history.deleted)
            changes[key] = {"added": added, "removed": removed}
        elif key in SECRETS:
            changes[key] = {"old": None if created else SECRET_MASK, "new": SECRET_MASK}
        else:
            old = history.deleted[0] if history.deleted else None
            new = history.added[0] if history.added else None
            changes[key] = {"new": new} if created else {"old": old, "new": new}
    return changes


def _actor() -> tuple[str, int | None]:
    user = getattr(g, "user", None) if has_request_context() else None
    try:
        if user is not None and user.is_authenticated:
            return f"user:{user.username}", user.id
    except Exception:  # noqa: BLE001 — a detached or anonymous user: the system acted
        pass
    return "system", None


def _action(entity: str, changes: dict, created: bool, deleted: bool) -> str:
    if created or deleted:
        return "created" if created else "deleted"
    if entity == "api_key" and "revoked_on" in changes:
        return "revoked"
    return "updated"


@event.listens_for(Session, "after_flush")
def _audit_security_changes(session: Session, _flush_context) -> None:
    rows, deactivated = [], []
    # One isinstance per flushed object: an import's flush holds thousands of rows.
    watched = [(obj, kind) for kind, objs in (("new", session.new), ("dirty", session.dirty),
                                              ("deleted", session.deleted))
               for obj in objs if isinstance(obj, WATCHED)]
    for obj, kind in watched:
        entity = next(name for cls, name in ENTITIES.items() if isinstance(obj, cls))
        created, deleted = kind == "new", kind == "deleted"
        with session.no_autoflush:
            changes = {} if deleted else _changes(obj, entity, created)
            if not (changes or created or deleted):
                continue
            if entity == "user" and changes.get("active", {}).get("new") is False:
                deactivated.append(obj.id)
            label, user_id = _actor()
            rows.append(dict(created_at=utcnow(), actor=label, user_id=user_id, entity=entity,
                             entity_id=_entity_id(obj, entity)[:64],
                             action=_action(entity, changes, created, deleted),
                             changes=to_jsonable(changes) or None))
    batch = _BATCH.get()
    if batch is not None:
        for row in rows:
            key = (row["entity"], row["entity_id"])
            if key in batch:
                _merge(batch[key], row)
            else:
                batch[key] = row
        rows = []
    connection = session.connection() if rows or deactivated else None
    if rows:
        connection.execute(insert(AuditLog.__table__), rows)
    if deactivated:  # a deactivated user is signed out everywhere at once
        connection.execute(delete(LoginSession.__table__)
                           .where(LoginSession.__table__.c.user_id.in_(deactivated)))
