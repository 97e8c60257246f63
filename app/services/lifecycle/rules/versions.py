"""Rules changed only here: create, update, enable, reorder, move, delete; each change writes a
``RuleVersion`` (who, when, before, after)."""
from __future__ import annotations

from typing import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Rule, RuleVersion
from app.models.base import utcnow
from app.services.core import validation
from app.services.core.actor import Actor
from app.services.core.errors import NotFound, StaleVersion, ValidationFailed
from app.services.core.transaction import transactional
from app.services.lifecycle.rules.validation import clean_definition
from app.services.lifecycle.rules.vocabulary import POSITION_STEP

SNAPSHOT_FIELDS = ("name", "description", "stage", "match", "conditions", "actions",
                   "stop_processing", "enabled", "position")


def snapshot(rule: Rule) -> dict:
    return {name: getattr(rule, name) for name in SNAPSHOT_FIELDS}


def _record_version(session: Session, rule: Rule, change: str, before: dict | None,
                    actor: Actor) -> RuleVersion:
    if before is not None:
        rule.version = (rule.version or 1) + 1
    rule.updated_at = utcnow()
    row = RuleVersion(rule=rule, version=rule.version, actor=actor.label, created_at=utcnow(),
                      change=change, before=before,
                      after=None if change == "delete" else snapshot(rule))
    session.add(row)
    return row


def _get(session: Session, rule_id, *, for_update: bool = False) -> Rule:
    try:
        rule_id = int(rule_id)
    except (TypeError, ValueError):
        raise NotFound(f"Rule {rule_id} not found") from None
    query = select(Rule).where(Rule.id == rule_id, Rule.deleted_at.is_(None))
    if for_update:
        query = query.with_for_update()
    rule = session.scalar(query)
    if rule is None:
        raise NotFound(f"Rule {rule_id} not found")
    return rule


def get_rule(session: Session, rule_id) -> Rule:
    return _get(session, rule_id)


def list_rules(session: Session, stage: str | None = None) -> list[Rule]:
    query = select(Rule).where(Rule.deleted_at.is_(None)).order_by(Rule.position, Rule.id)
    if stage:
        query = query.where(Rule.stage == stage)
    return list(session.scalars(query))


def versions(session: Session, rule_id: int) -> list[RuleVersion]:
    return list(session.scalars(select(RuleVersion).where(RuleVersion.rule_id == rule_id)
                                .order_by(RuleVersion.version.desc())))


def changed_fields(version: RuleVersion) -> list[str]:
    before, after = version.before or {}, version.after or {}
    return [name for name in SNAPSHOT_FIELDS if before.get(name) != after.get(name)]


@transactional
def create_rule(session: Session, data: dict, actor: Actor) -> Rule:
    """A new rule, disabled (enable it after a dry run), at the end of the order."""
    clean = clean_definition(session, data)
    last = session.scalar(select(func.max(Rule.position)).where(Rule.deleted_at.is_(None)))
    rule = Rule(**clean, enabled=False, version=1,
                position=(last or 0) + POSITION_STEP)
    session.add(rule)
    session.flush()
    _record_version(session, rule, "create", None, actor)
    return rule


@transactional
def update_rule(session: Session, rule_id, data: dict, actor: Actor,
                expected_version=None) -> Rule:
    rule = _get(session, rule_id, for_update=True)
    if expected_version not in (None, ""):
        expected = validation.quantity(expected_version, "version")
        if expected != rule.version:
            message = (f"Someone else changed rule {rule.name} (now version {rule.version}, "
                       f"you had {expected}); reload it and try again")
            raise StaleVersion(message, errors={"version": [message]})
    clean = clean_definition(session, data, rule_id=rule.id)
    before = snapshot(rule)
    for name, value in clean.items():
        setattr(rule, name, value)
    if snapshot(rule) == before:
        return rule
    _record_version(session, rule, "update", before, actor)
    return rule


@transactional
def set_enabled(session: Session, rule_id, enabled: bool, actor: Actor) -> Rule:
    rule = _get(session, rule_id, for_update=True)
    if rule.enabled == bool(enabled):
        return rule
    before = snapshot(rule)
    rule.enabled = bool(enabled)
    _record_version(session, rule, "enable" if enabled else "disable", before, actor)
    return rule


@transactional
def reorder(session: Session, rule_ids: Iterable, actor: Actor) -> list[Rule]:
    """Put the given rules in the given order. They take the positions they held between
    them (sorted), so rules not listed keep theirs; each moved rule gets a version."""
    try:
        ids = [int(i) for i in rule_ids]
    except (TypeError, ValueError):
        raise ValidationFailed.field("rule_ids", "must be rule ids") from None
    if not ids or len(set(ids)) != len(ids):
        raise ValidationFailed.field("rule_ids", "give each rule once")
    rules = {r.id: r for r in session.scalars(
        select(Rule).where(Rule.id.in_(ids), Rule.deleted_at.is_(None))
        .order_by(Rule.id).with_for_update())}
    missing = [i for i in ids if i not in rules]
    if missing:
        raise NotFound(f"Rule {missing[0]} not found")
    positions = sorted(r.position for r in rules.values())
    for i in range(1, len(positions)):  # equal positions: make room so the order holds
        if positions[i] <= positions[i - 1]:
            positions[i] = positions[i - 1] + 1
    for rule_id, position in zip(ids, positions):
        rule = rules[rule_id]
        if rule.position != position:
            before = snapshot(rule)
            rule.position = position
            _record_version(session, rule, "reorder", before, actor)
    return [rules[i] for i in ids]


@transactional
def move(session: Session, rule_id, direction: str, actor: Actor) -> Rule:
    """Swap a rule with its neighbour above ("up") or below ("down")."""
    if direction not in ("up", "down"):
        raise ValidationFailed.field("direction", "must be up or down")
    rule = _get(session, rule_id)
    ordered = list_rules(session)
    index = next(i for i, r in enumerate(ordered) if r.id == rule.id)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(ordered):
        neighbour = ordered[other]
        reorder(session, [rule.id, neighbour.id] if direction == "up"
                else [neighbour.id, rule.id], actor)
    return rule


@transactional
def delete_rule(session: Session, rule_id, actor: Actor) -> Rule:
    """Delete a rule: it stops being evaluated and leaves the list; its history stays (the
    name is freed for a new rule)."""
    rule = _get(session, rule_id, for_update=True)
    before = snapshot(rule)
    rule.enabled = False
    rule.deleted_at = utcnow()
    suffix = f" (deleted #{rule.id})"
    rule.name = rule.name[:128 - len(suffix)] + suffix
    _record_version(session, rule, "delete", before, actor)
    return rule
