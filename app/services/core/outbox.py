"""The outbox: every effect on the outside world is a durable message (DESIGN.md "Outbox").

A service that causes an effect (push a fulfilment, mail a customer, call a webhook) does
not call out: it ``enqueue``s a message in its own transaction, so the message exists if
and only if the change does. The ``send_outbox`` job (``core.outbox_sender``) delivers it
through the handler registered for its topic, retries it with backoff, and marks it dead
when it cannot pass; Operations retry or discard it (``retry``, ``discard``).

What a handler is given and answers:
- a ``Message`` (plain data, no ORM object: handlers run in worker threads);
- it returns ``Sent(remote_id=...)`` (or None), or raises ``RetryableError`` (a failure
  that may pass; ``retry_after`` in seconds wins over the backoff), ``PermanentError``
  (cannot pass: straight to dead) or ``OutcomeUnknown`` (the request may have been
  acted on: a timeout after sending). Any other exception counts as ``OutcomeUnknown``.
- ``message.message_id`` is stable across every attempt: the receiver's idempotency key
  or event id (``core.idempotency`` turns it into "create once" for remote objects).

A topic registered with ``register_batch`` is sent many messages at a time: the sender claims
up to ``claim_size`` due messages of one (topic, target) — one channel's stock pushes — and
the batch handler answers each (``{message id: Sent or an exception}``), so the handler can
send them in the largest calls the remote allows and pace itself by its limits. With
``release_key_on_claim`` a claimed message gives up its dedupe key: it stands for "send the
current figure", so a change made once it is taken needs (and gets) a new message.

A topic registered with ``unknown_outcome="hold"`` (a label purchase on a carrier without
a lookup) is never repeated by itself when its outcome is unknown: the message becomes
``uncertain`` and a person decides (``retry`` sends it again, ``discard`` drops it).
"""
from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Optional

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.models.base import utcnow
from app.models.notifications import OPEN_PREDICATE, OUTBOX_OPEN_STATUSES, OutboxMessage
from app.services.core import audit, batch_writes, events
from app.services.core.actor import Actor
from app.services.core.paging import CappedPage
from app.services.core.bulk import BulkResult, apply_each
from app.services.core.errors import Conflict, NotFound, ValidationFailed
from app.services.core.transaction import transactional

# The topics of DESIGN.md (their handlers come with the issues that need them). Tests and
# later work may register others: a topic is any dotted lower-case name.
TOPICS = (
    "channel.fulfillment", "channel.tracking", "channel.inventory", "channel.cancel",
    "channel.refund", "carrier.void", "notify.customer", "notify.alert", "webhook.deliver",
)
TOPIC_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
UNKNOWN_OUTCOME_POLICIES = ("retry", "hold")


# --- what handlers get and answer ----------------------------------------------------------

@dataclass(frozen=True)
class Message:
    id: int
    message_id: str
    topic: str
    target: str
    payload: dict
    attempts: int  # this attempt included
    dedupe_key: Optional[str] = None
    group_key: Optional[str] = None
    order_id: Optional[int] = None
    created_at: Optional[datetime] = None
    last_error: Optional[str] = None
    # what the topic's ``prepare`` read for this message with the rest of its claim
    prepared: object = None

    @property
    def idempotency_key(self) -> str:
        """Our key for this effect at the remote (reference, note, Idempotency-Key)."""
        return f"waybill-{self.message_id}"

    @property
    def tried_before(self) -> bool:
        """An earlier attempt may have reached the remote (failed, crashed or retried by
        a person): a handler that creates objects looks before creating."""
        return self.attempts > 1 or self.last_error is not None


@dataclass(frozen=True)
class Sent:
    remote_id: Optional[str] = None
    note: Optional[str] = None  # e.g. "found the object an earlier attempt made"
    # A row the handler keeps about the send (a mail's log row): (table, values), inserted
    # by the sender in the transaction that marks the message sent — both or neither —
    # with the rows of the other messages it records at once (one statement per table).
    record: Optional[tuple] = None


class SendError(Exception):
    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class RetryableError(SendError):
    """A failure that may pass (5xx, 408, 409, 429, connection refused): try again later."""


class OutcomeUnknown(RetryableError):
    """The request may have reached the remote and been acted on (a timeout after it
    left, a connection dropped before the answer)."""


class PermanentError(SendError):
    """A failure that cannot pass (a 4xx other than 408/409/429): dead at once."""


# --- the registry --------------------------------------------------------------------------

Handler = Callable[[Message], Optional[Sent]]
BatchHandler = Callable[[list], dict]  # [Message] -> {message id: Sent | Exception}


@dataclass(frozen=True)
class Topic:
    name: str
    handler: Optional[Handler]
    unknown_outcome: str = "retry"  # "hold": never repeated by itself when unknown
    on_uncertain: Optional[Callable[[Session, Message], None]] = None  # e.g. label_uncertain
    batch_handler: Optional[BatchHandler] = None
    claim_size: object = 0  # batch topics: messages of one target claimed together (or f(target))
    release_key_on_claim: bool = False
    prepare: Optional[Callable[[list], dict]] = None  # [Message] -> {message id: anything}


_topics: dict[str, Topic] = {}


def register(name: str, handler: Handler, *, unknown_outcome: str = "retry",
             on_uncertain: Callable[[Session, Message], None] | None = None,
             prepare: Callable[[list], dict] | None = None) -> Topic:
    """Deliver messages of ``name`` with ``handler`` (registering again replaces it).
    ``prepare``, when given, is called once per claim with the claim's messages of this
    topic, before they are handed out one by one: it reads what they all need in a few
    queries rather than a few per message, and answers ``{message id: what it read}``
    (``message.prepared`` for the handler; a message it does not answer for is read by
    the handler itself)."""
    if not TOPIC_RE.match(name):
        raise ValueError(f"bad outbox topic {name!r}")
    if unknown_outcome not in UNKNOWN_OUTCOME_POLICIES:
        raise ValueError(f"unknown_outcome must be one of {UNKNOWN_OUTCOME_POLICIES}")
    topic = Topic(name, handler, unknown_outcome, on_uncertain, prepare=prepare)
    _topics[name] = topic
    return topic


def register_batch(name: str, handler: BatchHandler, *, claim_size=500,
                   release_key_on_claim: bool = False) -> Topic:
    """Deliver messages of ``name`` many at a time, per target, with ``handler`` (see the
    module doc); a message the handler does not answer is tried again later.
    ``claim_size``: a number, or a function of the target (a slow remote gets smaller claims,
    so that a claim is sent within a pass)."""
    if not TOPIC_RE.match(name):
        raise ValueError(f"bad outbox topic {name!r}")
    if not callable(claim_size) and claim_size < 1:
        raise ValueError("claim_size must be at least 1")
    topic = Topic(name, None, batch_handler=handler, claim_size=claim_size,
                  release_key_on_claim=release_key_on_claim)
    _topics[name] = topic
    return topic


def claim_size_for(topic: Topic, target: str) -> int:
    size = topic.claim_size(target) if callable(topic.claim_size) else topic.claim_size
    return max(1, int(size))


def batch_topics() -> tuple[str, ...]:
    return tuple(sorted(name for name, t in _topics.items() if t.batch_handler is not None))


def unregister(name: str) -> None:
    _topics.pop(name, None)


def topic(name: str) -> Topic | None:
    return _topics.get(name)


def registered_topics() -> tuple[str, ...]:
    return tuple(sorted(_topics))


# --- writing a message ---------------------------------------------------------------------

def _keyed(statement):
    """``statement`` that skips a row whose dedupe key already has an open message."""
    if not hasattr(statement, "on_conflict_do_nothing"):
        return statement
    # The index's predicate as literal SQL: with bound parameters PostgreSQL cannot match it
    # once psycopg prepares the statement (its 6th execution on a connection)
    return statement.on_conflict_do_nothing(index_elements=["dedupe_key"],
                                            index_where=text(OPEN_PREDICATE))


# Built once, the values passed as parameters: building an INSERT per call cost more than
# the database's own work (bench/outbox.py (a), the write path).
_TABLE = OutboxMessage.__table__
_SQLITE_INSERT = sqlite.insert(_TABLE).returning(_TABLE.c.id)  # PostgreSQL: _PG_INSERT below
_INSERT_KEYED = {name: _keyed(make(_TABLE)).returning(_TABLE.c.id)
                 for name, make in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))}
_OPEN_WITH_KEY = select(_TABLE.c.id).where(_TABLE.c.dedupe_key == bindparam("dedupe_key"),
                                           _TABLE.c.status.in_(OUTBOX_OPEN_STATUSES))


# The plain message on PostgreSQL, through the driver's cursor: SQLAlchemy's execution and
# result objects cost a third of a message's whole price on the write path (bench/outbox.py
# (a): a bare psycopg INSERT of the same row adds 0.25 ms to a 2.7 ms order change, this
# path 0.30, Core's 0.37). The row's values are ours alone (no user text reaches the SQL).
_PG_INSERT = ("INSERT INTO outbox (message_id, topic, target, payload, dedupe_key, group_key, order_id, status, "
              "attempts, created_at, next_attempt_at) VALUES (%s, %s, %s, %s, NULL, %s, %s, 'pending', 0, %s, %s) "
              "RETURNING id")


def _insert_plain(connection, values: dict, payload_json: str) -> int:
    if connection.dialect.name != "postgresql":
        return connection.execute(_SQLITE_INSERT, values).scalar_one()
    cursor = connection.connection.dbapi_connection.cursor()
    cursor.execute(_PG_INSERT, (values["message_id"], values["topic"], values["target"], payload_json,
                                values["group_key"], values["order_id"], values["created_at"],
                                values["next_attempt_at"]))
    return cursor.fetchone()[0]


def _check(topic_name: str, target: str, payload: dict) -> str:
    """The message's payload as JSON text, once it is checked."""
    if not TOPIC_RE.match(topic_name or ""):
        raise ValidationFailed.field("topic", f"{topic_name!r} is not a topic name")
    if not target:
        raise ValidationFailed.field("target", "say where the message goes")
    if not isinstance(payload, dict):
        raise ValidationFailed.field("payload", "must be a JSON object")
    try:
        return json.dumps(payload)
    except (TypeError, ValueError) as exc:
        raise ValidationFailed.field("payload", f"is not JSON: {exc}") from None


def enqueue(session: Session, topic: str, target: str, payload: dict,
            dedupe_key: str | None = None, group_key: str | None = None, *,
            order_id: int | None = None, delay: timedelta | None = None) -> int:
    """Write a message in the caller's transaction (no commit) and return its id.

    ``dedupe_key``: the same effect queued again while an earlier message for it is not
    yet sent is that message (its id is returned, nothing is written). ``group_key``:
    messages of one group are delivered in the order they were written."""
    payload_json = _check(topic, target, payload)
    now = utcnow()
    values = dict(message_id=str(uuid.uuid4()), topic=topic, target=target[:128],
                  payload=payload, dedupe_key=dedupe_key, group_key=group_key,
                  order_id=order_id, status="pending", attempts=0, created_at=now,
                  next_attempt_at=now + (delay or timedelta(0)))
    connection = session.connection()
    dialect = connection.dialect.name
    if dedupe_key is None:
        return _insert_plain(connection, values, payload_json)
    for _ in range(3):
        new_id = connection.execute(_INSERT_KEYED[dialect], values).scalar()
        if new_id is not None:
            return new_id
        existing = connection.execute(_OPEN_WITH_KEY, {"dedupe_key": dedupe_key}).scalar()
        if existing is not None:
            return existing
        # The open one was sent between our insert and our look: write ours now.
    raise Conflict(f"could not queue the message {dedupe_key!r}: it keeps changing")


def enqueue_many(session: Session, topic: str, messages: list[tuple]) -> None:
    """Write many messages of one topic in one statement in the caller's transaction (no
    commit): ``messages`` = [(target, payload, dedupe_key[, group_key[, order_id]])], in the
    order the caller wants them written (concurrent writers that use one order never wait on
    each other in a circle; a group's messages leave in that order). A key that already has
    a message not yet sent is that message, as with ``enqueue``."""
    now, rows = utcnow(), []
    for target, payload, dedupe_key, *rest in messages:
        group_key, order_id = (*rest, None, None)[:2]
        _check(topic, target, payload)
        rows.append(dict(message_id=str(uuid.uuid4()), topic=topic, target=target[:128], payload=payload,
                         dedupe_key=dedupe_key, group_key=group_key, order_id=order_id, status="pending",
                         attempts=0, created_at=now, next_attempt_at=now))
    batch_writes.insert_many(session, OutboxMessage.__table__, rows, conflict=("dedupe_key",),
                             conflict_where=OPEN_PREDICATE)


# --- what a person does ---------------------------------------------------------------------

RETRYABLE_BY_HAND = ("pending", "dead", "uncertain")
DISCARDABLE = ("pending", "dead", "uncertain")


def _load(session: Session, pk) -> OutboxMessage:
    try:
        message = session.get(OutboxMessage, int(pk), with_for_update=True)
    except (TypeError, ValueError):
        message = None
    if message is None:
        raise NotFound(f"Outbox message {pk} not found")
    return message


def _by_hand(session: Session, message: OutboxMessage, actor: Actor, action: str,
             old: str, note: str | None) -> None:
    done = {"retry": "retried", "discard": "discarded"}[action]
    audit.record(session, actor, "outbox", message.id, action,
                 {"status": {"old": old, "new": message.status}, "topic": message.topic,
                  "target": message.target, "note": note})
    if message.order_id is not None:
        events.outbox_message(session, message.order_id, actor, f"outbox_{action}",
                              f"Outbox message #{message.id} ({message.topic} → "
                              f"{message.target}) {done} by hand" + (f": {note}" if note else ""),
                              {"outbox_id": message.id, "topic": message.topic})


@transactional
def retry(session: Session, pk, actor: Actor, note: str | None = None) -> OutboxMessage:
    """Send a pending, dead or uncertain message at the next pass, with a fresh attempt
    budget and the same message id (so a receiver can still drop a repeat)."""
    message = _load(session, pk)
    if message.status not in RETRYABLE_BY_HAND:
        raise Conflict(f"Outbox message #{message.id} is {message.status}: only pending, dead "
                       "or uncertain messages can be retried")
    old = message.status
    message.status = "pending"
    message.attempts = 0
    message.next_attempt_at = utcnow()
    # last_error stays: it tells the handler an earlier attempt may have reached the remote
    _by_hand(session, message, actor, "retry", old, note)
    return message


@transactional
def discard(session: Session, pk, actor: Actor, note: str | None = None) -> OutboxMessage:
    """Drop a message that will not be sent (it no longer holds its group back)."""
    message = _load(session, pk)
    if message.status not in DISCARDABLE:
        raise Conflict(f"Outbox message #{message.id} is {message.status}: only pending, dead "
                       "or uncertain messages can be discarded")
    old = message.status
    message.status = "discarded"
    _by_hand(session, message, actor, "discard", old, note)
    return message


BULK_ACTIONS = {"retry": retry, "discard": discard}
MAX_BULK = 500  # messages one bulk action takes (each its own transaction)


def bulk(session: Session, action: str, ids, actor: Actor, note: str | None = None) -> BulkResult:
    """Retry or discard many messages, each in its own transaction."""
    if action not in BULK_ACTIONS:
        raise ValidationFailed.field("action", "must be retry or discard")
    try:
        keys = sorted({int(i) for i in ids})
    except (TypeError, ValueError):
        raise ValidationFailed.field("ids", "must be message ids") from None
    if not keys or len(keys) > MAX_BULK:
        raise ValidationFailed.field("ids", f"choose 1 to {MAX_BULK} messages")
    fn = BULK_ACTIONS[action]
    return apply_each(session, BulkResult(action), keys,
                      lambda pk: fn(session, pk, actor, note))


# --- reading ---------------------------------------------------------------------------------

AGES = {"1h": timedelta(hours=1), "1d": timedelta(days=1), "7d": timedelta(days=7)}


def order_id_for(session: Session, reference: str | None) -> int | None:
    """An order named by its number (``#1001``) or id; None when there is no such order."""
    from app.models import Order

    reference = (reference or "").strip()
    if not reference:
        return None
    found = session.scalar(select(Order.id).where(Order.order_number == reference).limit(1))
    if found is None and reference.isdigit():
        found = session.scalar(select(Order.id).where(Order.id == int(reference)))
    return found if found is not None else -1  # -1: nothing matches


def page(session: Session, *, topic: str | None = None, target: str | None = None,
         status: str | None = None, order_id: int | None = None, older_than: str | None = None,
         page: int = 0, page_size: int = 50, cap: int = 10_000) -> CappedPage:
    """Messages newest first, filtered by topic, target, status, order and age (older than
    1 hour, 1 day, 7 days: what is stuck); the count stops after ``cap`` rows."""
    query = select(OutboxMessage)
    if topic:
        query = query.where(OutboxMessage.topic == topic)
    if target:
        query = query.where(OutboxMessage.target == target)
    if status:
        query = query.where(OutboxMessage.status == status)
    if order_id is not None:
        query = query.where(OutboxMessage.order_id == order_id)
    if older_than in AGES:
        query = query.where(OutboxMessage.created_at <= utcnow() - AGES[older_than])
    counted = query.with_only_columns(OutboxMessage.id).order_by(None).limit(cap + 1).subquery()
    total = session.scalar(select(func.count()).select_from(counted))
    page = max(0, int(page))
    rows = session.scalars(query.order_by(OutboxMessage.id.desc())
                           .offset(page * page_size).limit(page_size)).all()
    return CappedPage(list(rows), total, page, page_size, cap)


def known_topics(session: Session) -> list[str]:
    """Topics to filter by: DESIGN's, the registered ones and any stored."""
    stored = session.scalars(select(OutboxMessage.topic).distinct().limit(200)).all()
    return sorted(set(TOPICS) | set(registered_topics()) | set(stored))


def counts_by_status(session: Session) -> dict[str, int]:
    rows = session.execute(select(OutboxMessage.status, func.count())
                           .group_by(OutboxMessage.status)).all()
    return {status: n for status, n in rows}
