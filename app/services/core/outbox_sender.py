"""Delivering the outbox: one send pass (the ``send_outbox`` job, ``flask oms send-outbox``).

A pass:
1. recovers the messages an earlier runner left in ``sending`` (it died mid-send): sent
   again with the same message id, or ``uncertain`` for a topic that must not repeat;
2. claims due messages in batches (what is due at each claim, not tried yet in this
   pass) and marks them ``sending`` — committed *before* any
   call, so a crash never leaves a send unrecorded. Claims take ``FOR UPDATE SKIP
   LOCKED`` on PostgreSQL, so several runners share the work and never claim one message
   twice; on SQLite the caller holds the job lease (one runner at a time). Only the head
   of a group is due: a message waits while an earlier one of its group is not sent (a
   dead one holds its group until a person retries or discards it);
3. lets each topic that asks ``prepare`` what the claim's messages need in one go (a
   mail's order, parcel and template for the whole claim), sends each claimed message
   through its topic's handler (worker threads: the time is spent waiting for remotes)
   and records the outcome at once: successes by group commit
   (one transaction records every success finished by then: sent, with the remote id), a
   failure in a transaction of its own — back to
   pending after a backoff with jitter (a Retry-After wins), or dead (after
   ``max_attempts`` or at once on a permanent failure);
4. records itself as a sync run (job ``send_outbox``) when it did anything.

Who runs is known on PostgreSQL by a session advisory lock per runner, held for the
pass: a ``sending`` message whose runner's lock is free belongs to a dead runner. Time
goes through ``models.base.utcnow`` and waits through ``Policy.time_scale`` (tests and
benchmarks shrink the backoff; nothing here sleeps).
"""
from __future__ import annotations

import contextvars
import hashlib
import logging
import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy import Integer, any_, bindparam, case, insert, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from app.models import OrderEvent, SyncRun
from app.models.base import utcnow
from app.models.notifications import OUTBOX_OPEN_STATUSES, OutboxMessage
from app.services.core import domain_events, events
from app.services.core import outbox
from app.services.core.actor import Actor
from app.services.core.outbox import (
    Message, OutcomeUnknown, PermanentError, RetryableError, Sent,
)
from app.services.core.transaction import write_intent

log = logging.getLogger(__name__)

ACTOR = Actor.job("send_outbox")
_ASYNC_COMMIT = "SET LOCAL synchronous_commit TO OFF"
_ID_ARRAY = ARRAY(Integer)
ERROR_MAX = 2000  # characters of an error kept on the message


@dataclass(frozen=True)
class Policy:
    max_attempts: int = 10
    backoff_base: float = 10.0  # seconds before the 2nd attempt; doubles each time
    backoff_cap: float = 3600.0
    time_scale: float = 1.0  # tests and benchmarks: 0.001 turns a minute into 60 ms
    batch_size: int = 200
    workers: int = 8
    max_seconds: float = 50.0  # a pass stops claiming after this long (the next goes on)

    @classmethod
    def from_config(cls, config) -> "Policy":
        return cls(
            max_attempts=int(config.get("OMS_OUTBOX_MAX_ATTEMPTS", cls.max_attempts)),
            backoff_base=float(config.get("OMS_OUTBOX_BACKOFF_BASE", cls.backoff_base)),
            backoff_cap=float(config.get("OMS_OUTBOX_BACKOFF_CAP", cls.backoff_cap)),
            time_scale=float(config.get("OMS_OUTBOX_TIME_SCALE", cls.time_scale)),
            batch_size=int(config.get("OMS_OUTBOX_BATCH", cls.batch_size)),
            workers=int(config.get("OMS_OUTBOX_WORKERS", cls.workers)),
            max_seconds=float(config.get("OMS_OUTBOX_PASS_SECONDS", cls.max_seconds)),
        )

    def backoff(self, attempts: int, retry_after: float | None = None,
                rng: random.Random | None = None) -> timedelta:
        """The wait before the next attempt: the remote's Retry-After when it gave one,
        else exponential with "equal jitter" (half fixed, half random) so that messages
        failing together do not come back together."""
        if retry_after is not None:
            seconds = max(0.0, float(retry_after))
        else:
            full = min(self.backoff_cap, self.backoff_base * 2 ** max(0, attempts - 1))
            seconds = full / 2 + (rng or random).uniform(0, full / 2)
        return timedelta(seconds=seconds * self.time_scale)


@dataclass
class PassSummary:
    runner: str
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    dead: int = 0
    uncertain: int = 0
    recovered: int = 0
    errors: list[str] = field(default_factory=list)
    sync_run_id: int | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, what: str, error: str | None = None) -> None:
        """Worker threads count here (``+=`` on an attribute is not atomic)."""
        with self._lock:
            setattr(self, what, getattr(self, what) + 1)
            if error and len(self.errors) < 5:
                self.errors.append(error)

    def count_many(self, what: str, amount: int) -> None:
        with self._lock:
            setattr(self, what, getattr(self, what) + amount)

    @property
    def status(self) -> str:
        failed = self.retried + self.dead + self.uncertain
        if not failed:
            return "succeeded"
        return "partial" if self.sent else "failed"

    def line(self) -> str:
        return (f"claimed {self.claimed}, sent {self.sent}, retry later {self.retried}, "
                f"dead {self.dead}, uncertain {self.uncertain}, recovered {self.recovered}")


# --- who is running ---------------------------------------------------------------------------

def _runner_key(runner: str) -> int:
    return int.from_bytes(hashlib.sha256(f"outbox-runner:{runner}".encode()).digest()[:8],
                          "big", signed=True)


@contextmanager
def _runner_alive(engine, runner: str):
    """PostgreSQL: hold this runner's advisory lock for the pass (see the module doc)."""
    if engine.dialect.name != "postgresql":
        yield
        return
    key = _runner_key(runner)
    connection = engine.connect()
    try:
        connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
        connection.commit()
        yield
    finally:
        # A pooled connection keeps its session's locks: unlock before giving it back
        # (or drop the connection if that fails), else every pass leaves one behind.
        try:
            connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            connection.commit()
        except Exception:  # noqa: BLE001
            connection.invalidate()
        connection.close()


def _runner_is_gone(connection, runner: str | None) -> bool:
    if runner is None:
        return True
    key = _runner_key(runner)
    got = connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
    if got:
        connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
    return bool(got)


@contextmanager
def _tx(engine):
    """A short write transaction of its own (BEGIN IMMEDIATE on SQLite)."""
    with write_intent(), Session(engine) as session, session.begin():
        yield session


# --- 1. recovery -------------------------------------------------------------------------------

def recover_abandoned(engine, policy: Policy, summary: PassSummary) -> None:
    """Messages left in ``sending`` by a runner that is gone. SQLite: the caller holds
    the lease, so every ``sending`` row is such a one."""
    with _tx(engine) as session:
        rows = session.execute(select(OutboxMessage.id, OutboxMessage.claimed_by)
                               .where(OutboxMessage.status == "sending")
                               .with_for_update(skip_locked=True)).all()
        if not rows:
            return
        if engine.dialect.name == "postgresql":
            connection = session.connection()
            gone = {r for r in {row.claimed_by for row in rows} if _runner_is_gone(connection, r)}
            ids = [row.id for row in rows if row.claimed_by in gone]
        else:
            ids = [row.id for row in rows]
        for message in session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids))):
            _recover_one(session, message, policy, summary)


def _recover_one(session: Session, row: OutboxMessage, policy: Policy,
                 summary: PassSummary) -> None:
    summary.count("recovered")
    claimed = row.claimed_at.strftime("%Y-%m-%d %H:%M:%S") if row.claimed_at else "?"
    why = (f"the sender stopped during attempt {row.attempts} (claimed {claimed} UTC by "
           f"{row.claimed_by}): the outcome is unknown")
    topic = outbox.topic(row.topic)
    if topic is not None and topic.unknown_outcome == "hold":
        _to_uncertain(session, row, why, summary)
    elif row.attempts >= policy.max_attempts:
        _to_dead(session, row, why, summary)
    else:
        row.status, row.next_attempt_at = "pending", utcnow()
        row.last_error, row.claimed_by = f"{why}; sent again with the same id", None


# --- 2. claiming ---------------------------------------------------------------------------------

def _due_heads(due: datetime, topics: tuple[str, ...], limit: int,
               not_tried_since: datetime | None = None, target: str | None = None):
    """Ids of pending messages due by ``due`` whose group has no earlier open message
    (with ``not_tried_since``: not claimed since then; with ``target``: of that target)."""
    earlier = OutboxMessage.__table__.alias("earlier")
    me = OutboxMessage.__table__
    blocked = (select(earlier.c.id)
               .where(earlier.c.group_key == me.c.group_key, earlier.c.id < me.c.id,
                      earlier.c.status.in_(OUTBOX_OPEN_STATUSES)).exists())
    query = (select(me.c.id)
             .where(me.c.status == "pending", me.c.next_attempt_at <= due,
                    me.c.topic.in_(topics), (me.c.group_key.is_(None)) | ~blocked))
    if not_tried_since is not None:
        query = query.where(me.c.claimed_at.is_(None) | (me.c.claimed_at < not_tried_since))
    if target is not None:
        query = query.where(me.c.target == target)
    return query.order_by(me.c.id).limit(limit).with_for_update(skip_locked=True)


def _single_topics() -> tuple[str, ...]:
    batched = set(outbox.batch_topics())
    return tuple(t for t in outbox.registered_topics() if t not in batched)


def claim(engine, runner: str, due: datetime, limit: int,
          not_tried_since: datetime | None = None, *, topic: str | None = None,
          target: str | None = None, only: tuple[str, ...] | None = None) -> list[Message]:
    """Mark up to ``limit`` due messages ``sending`` for this runner and commit: of the
    one-at-a-time topics (those in ``only``, when given), or of one batch ``topic`` for
    one ``target``."""
    topics = (topic,) if topic else tuple(t for t in _single_topics()
                                          if only is None or t in only)
    if not topics:
        return []
    registered = outbox.topic(topic) if topic else None
    release = {"dedupe_key": None} if registered and registered.release_key_on_claim else {}
    table = OutboxMessage.__table__
    with _tx(engine) as session:
        ids = session.execute(_due_heads(due, topics, limit, not_tried_since,
                                          target)).scalars().all()
        if not ids:
            return []
        rows = session.execute(
            update(table).where(table.c.id.in_(ids), table.c.status == "pending")
            .values(status="sending", claimed_at=utcnow(), claimed_by=runner,
                    attempts=table.c.attempts + 1, **release)
            .returning(table.c.id, table.c.message_id, table.c.topic, table.c.target,
                       table.c.payload, table.c.attempts, table.c.dedupe_key,
                       table.c.group_key, table.c.order_id, table.c.created_at,
                       table.c.last_error)).all()
    return sorted((Message(**row._mapping) for row in rows), key=lambda m: m.id)


# --- 3. sending and recording -----------------------------------------------------------------

def _classify(exc: BaseException) -> RetryableError | PermanentError:
    """Typed errors stay; a timeout or dropped connection after the request left means
    the outcome is unknown; a refused connection never reached the remote."""
    if isinstance(exc, (RetryableError, PermanentError)):
        return exc
    import requests

    if isinstance(exc, requests.ConnectTimeout) or (
            isinstance(exc, requests.ConnectionError) and "refused" in str(exc).lower()):
        return RetryableError(f"could not connect: {exc}")
    return OutcomeUnknown(f"{type(exc).__name__}: {exc}")


def send_one(engine, message: Message, runner: str, policy: Policy, summary: PassSummary,
             rng: random.Random, recorder: "GroupCommit") -> None:
    """Call the handler and record what happened: a success through the pass's group
    commit (the hot path), a failure at once in a transaction of its own."""
    topic = outbox.topic(message.topic)
    if topic is None:  # unregistered since the claim: give it back, no attempt counted
        with _tx(engine) as session:
            row = _mine(session, message, runner)
            if row is not None:
                row.status, row.claimed_by, row.attempts = "pending", None, row.attempts - 1
        return
    try:
        result = topic.handler(message) or Sent()
    except BaseException as exc:  # noqa: BLE001 — every failure is recorded on the message
        if not isinstance(exc, Exception):
            raise
        _record_failure(engine, message, runner, policy, summary, _classify(exc), rng)
        return
    recorder.add(message, result)


def _mine(session: Session, message: Message, runner: str) -> OutboxMessage | None:
    """The row, if it is still ours (a runner that lost its lock may have been recovered)."""
    row = session.get(OutboxMessage, message.id, with_for_update=True)
    if row is None or row.status != "sending" or row.claimed_by != runner:
        log.warning("outbox #%s is no longer claimed by %s: outcome not recorded", message.id,
                    runner)
        return None
    return row


def record_sent(engine, done: list[tuple[Message, Sent]], runner: str,
                summary: PassSummary) -> None:
    """Record several deliveries as sent in one transaction (and their orders' events).

    Until this commits the messages read ``sending``: if the runner dies first, the next
    pass recovers them and sends them again with the same id (mails, webhooks), looks
    the remote object up first (channel objects), or holds them (labels) — the same
    cases as a crash just after the remote answered, so batching widens no guarantee."""
    if not done:
        return
    table = OutboxMessage.__table__
    by_id = {message.id: (message, result) for message, result in done}
    # one statement for them all: each message's remote id and note by CASE on its id
    # (remote ids differ per message: grouping by them was one UPDATE per message)
    remote_ids = {i: _remote_id(r) for i, (_, r) in by_id.items() if r.remote_id is not None}
    notes = {i: r.note for i, (_, r) in by_id.items() if r.note is not None}
    with write_intent(), engine.begin() as connection:
        postgres = connection.dialect.name == "postgresql"
        if postgres:
            # Not waiting for this commit's flush to disk: if the database itself crashed
            # before it, the messages would read `sending` and go again with the same id —
            # at least once still holds, and a batch costs one fsync less.
            connection.exec_driver_sql(_ASYNC_COMMIT)
        # PostgreSQL: one array parameter, so the statement's text is the same whatever
        # the group's size (an IN list is rendered again for each size, and each new text
        # is parsed again by the driver and the server)
        ids = table.c.id == any_(bindparam("ids", list(by_id), type_=_ID_ARRAY)) \
            if postgres else table.c.id.in_(list(by_id))
        mine = connection.execute(
            update(table).where(ids, table.c.status == "sending",
                                table.c.claimed_by == runner)
            .values(status="sent", sent_at=utcnow(), claimed_by=None,
                    remote_id=case(remote_ids, value=table.c.id) if remote_ids else None,
                    last_error=case(notes, value=table.c.id) if notes else None)
            .returning(table.c.id)).scalars().all()
        for lost in sorted(set(by_id) - set(mine)):
            log.warning("outbox #%s is no longer claimed by %s: its send is not recorded",
                        lost, runner)
        records: dict = {}  # what the handlers keep about their sends (mails' log rows)
        for i in sorted(mine):
            if by_id[i][1].record is not None:
                kept, values = by_id[i][1].record
                records.setdefault(kept, []).append(values)
        for kept, rows in records.items():
            connection.execute(insert(kept), rows)
        event_rows = [_sent_event_row(*by_id[i]) for i in sorted(mine)
                      if by_id[i][0].order_id is not None]
        if event_rows:
            connection.execute(insert(OrderEvent.__table__), event_rows)
    summary.count_many("sent", len(mine))


def _remote_id(result: Sent) -> str | None:
    return None if result.remote_id is None else str(result.remote_id)[:255]


def _sent_event_row(message: Message, result: Sent) -> dict:
    remote_id = _remote_id(result)
    return events.outbox_event_row(
        message.order_id, ACTOR, "outbox_sent",
        f"{message.topic} sent to {message.target}"
        + (f" (remote id {remote_id})" if remote_id else ""),
        {"outbox_id": message.id, "topic": message.topic, "remote_id": remote_id,
         "attempts": message.attempts})


# --- 3b. batch topics ---------------------------------------------------------------------------

def _batch_targets(engine, due: datetime) -> list[tuple[str, str]]:
    names = outbox.batch_topics()
    if not names:
        return []
    table = OutboxMessage.__table__
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(
            select(table.c.topic, table.c.target).distinct()
            .where(table.c.status == "pending", table.c.next_attempt_at <= due,
                   table.c.topic.in_(names))
            .order_by(table.c.topic, table.c.target))]


def send_batches(engine, name: str, target: str, summary: PassSummary, policy: Policy,
                 rng: random.Random, due: datetime, started: float) -> None:
    """Claim this target's due messages ``claim_size`` at a time and hand each claim to the
    topic's batch handler, until none is left or the pass is out of time."""
    runner = summary.runner
    while time.monotonic() - started <= policy.max_seconds:
        topic = outbox.topic(name)
        if topic is None or topic.batch_handler is None:
            return
        claimed = claim(engine, runner, due, outbox.claim_size_for(topic, target), topic=name,
                        target=target)
        if not claimed:
            return
        summary.count_many("claimed", len(claimed))
        try:
            answers = topic.batch_handler(claimed) or {}
        except Exception as exc:  # noqa: BLE001 — every message of the claim gets the failure
            answers = {message.id: exc for message in claimed}
        record_sent(engine, [(m, answers[m.id]) for m in claimed
                             if isinstance(answers.get(m.id), Sent)], runner, summary)
        for message in claimed:
            answer = answers.get(message.id)
            if isinstance(answer, Sent):
                continue
            error = _classify(answer) if isinstance(answer, BaseException) else \
                RetryableError("the batch handler did not answer for this message")
            _record_failure(engine, message, runner, policy, summary, error, rng)


def _record_failure(engine, message: Message, runner: str, policy: Policy,
                    summary: PassSummary, error: Exception, rng: random.Random) -> str:
    why = f"attempt {message.attempts}: {type(error).__name__}: {error}"[:ERROR_MAX]
    topic = outbox.topic(message.topic)
    with _tx(engine) as session:
        row = _mine(session, message, runner)
        if row is None:
            return "lost"
        if isinstance(error, OutcomeUnknown) and topic is not None \
                and topic.unknown_outcome == "hold":
            _to_uncertain(session, row, why, summary)
            return "uncertain"
        if isinstance(error, PermanentError) or row.attempts >= policy.max_attempts:
            _to_dead(session, row, why, summary)
            return "dead"
        row.status, row.claimed_by, row.last_error = "pending", None, why
        row.next_attempt_at = utcnow() + policy.backoff(row.attempts, error.retry_after, rng)
    summary.count("retried", f"#{message.id} {message.topic}: {why}")
    return "pending"


def _snapshot(row: OutboxMessage) -> Message:
    return Message(id=row.id, message_id=row.message_id, topic=row.topic, target=row.target,
                   payload=row.payload, attempts=row.attempts, dedupe_key=row.dedupe_key,
                   group_key=row.group_key, order_id=row.order_id, created_at=row.created_at,
                   last_error=row.last_error)


def _to_dead(session: Session, row: OutboxMessage, why: str, summary: PassSummary) -> None:
    row.status, row.claimed_by, row.last_error = "dead", None, why[:ERROR_MAX]
    summary.count("dead", f"#{row.id} {row.topic}: {why}")
    if row.order_id is not None:
        events.outbox_message(session, row.order_id, ACTOR, "outbox_dead",
                              f"{row.topic} to {row.target} failed for good: {why}"[:1000],
                              {"outbox_id": row.id, "topic": row.topic,
                               "attempts": row.attempts})
    domain_events.publish(session, "outbox.dead", {"outbox_id": row.id, "topic": row.topic,
                                                   "target": row.target, "error": why})


def _to_uncertain(session: Session, row: OutboxMessage, why: str, summary: PassSummary) -> None:
    row.status, row.claimed_by = "uncertain", None
    row.last_error = (f"{why}. Not repeated by itself: check {row.target} and retry or "
                      f"discard")[:ERROR_MAX]
    summary.count("uncertain", f"#{row.id} {row.topic}: {why}")
    if row.order_id is not None:
        events.outbox_message(session, row.order_id, ACTOR, "outbox_uncertain",
                              f"{row.topic} to {row.target}: outcome unknown, a person decides",
                              {"outbox_id": row.id, "topic": row.topic})
    topic = outbox.topic(row.topic)
    if topic is not None and topic.on_uncertain is not None:
        topic.on_uncertain(session, _snapshot(row))


# --- 4. the pass -----------------------------------------------------------------------------

def _send_claimed(engine, pool: ThreadPoolExecutor, claimed: list[Message],
                summary: PassSummary, policy: Policy, rng: random.Random) -> None:
    recorder = GroupCommit(engine, summary)
    futures = [pool.submit(contextvars.copy_context().run, send_one, engine, message,
                           summary.runner, policy, summary, rng, recorder)
               for message in _prepared(claimed)]
    for future in futures:
        try:
            future.result()
        except Exception:  # noqa: BLE001 — its message stays `sending`:
            # the next pass recovers it (sent again with the same id)
            log.exception("outbox: recording a send failed")


def _prepared(claimed: list[Message]) -> list[Message]:
    """The claim, each message with what its topic's ``prepare`` read for the whole claim
    (a failing ``prepare`` is logged: each handler then reads on its own)."""
    by_topic: dict[str, list[Message]] = {}
    for message in claimed:
        by_topic.setdefault(message.topic, []).append(message)
    found: dict[int, object] = {}
    for name, messages in by_topic.items():
        topic = outbox.topic(name)
        if topic is None or topic.prepare is None:
            continue
        try:
            found.update(topic.prepare(messages) or {})
        except Exception:  # noqa: BLE001
            log.exception("outbox: preparing %d %s messages failed", len(messages), name)
    if not found:
        return claimed
    return [replace(m, prepared=found[m.id]) if m.id in found else m for m in claimed]


class GroupCommit:
    """Successes recorded by the worker thread that got them, at once — but while one
    thread commits, the successes of the others queue up and go in its next commit.
    Quiet: each delivery is recorded on its own the moment it is answered (the window in
    which a crash repeats it stays one commit wide); busy: one commit serves many."""

    def __init__(self, engine, summary: PassSummary):
        self.engine, self.summary = engine, summary
        self._lock = threading.Lock()
        self._queued: list[tuple[Message, Sent]] = []
        self._committing = False

    def add(self, message: Message, result: Sent) -> None:
        with self._lock:
            self._queued.append((message, result))
            if self._committing:
                return  # the committing thread takes it in its next round
            self._committing = True
        while True:
            with self._lock:
                batch, self._queued = self._queued, []
                if not batch:
                    self._committing = False
                    return
            _record_sent_safely(self.engine, batch, self.summary)


def _record_sent_safely(engine, done, summary: PassSummary) -> None:
    try:
        record_sent(engine, done, summary.runner, summary)
    except Exception:  # noqa: BLE001 — left `sending`: recovered by the next pass
        log.exception("outbox: recording %d sends failed", len(done))


def send_pass(engine, *, policy: Policy | None = None, max_batches: int | None = None,
              rng: random.Random | None = None,
              topics: tuple[str, ...] | None = None) -> PassSummary:
    """Deliver what is due now, once (only ``topics`` when given: the demo renders its
    mails). Safe to run in several processes on PostgreSQL; on SQLite the caller holds
    the ``send_outbox`` job lease."""
    policy = policy or Policy()
    rng = rng or random.Random()
    summary = PassSummary(runner=uuid.uuid4().hex[:16])
    started, clock = utcnow(), time.monotonic()
    with _runner_alive(engine, summary.runner):
        recover_abandoned(engine, policy, summary)
        # What is due at each claim, so a message committed during a busy pass goes in
        # this pass rather than waiting for the next interval; but not a message this
        # pass already tried (a retry waits for the next pass), and no claim after
        # ``max_seconds``: a pass always ends.
        batches = 0
        with ThreadPoolExecutor(max_workers=max(1, policy.workers),
                                thread_name_prefix="outbox") as pool:
            # each target of a batch topic (a channel's stock) on a worker of its own: its
            # handler paces itself by that remote's limits while the rest go on
            batched = [pool.submit(contextvars.copy_context().run, send_batches, engine, name,
                                   target, summary, policy, rng, utcnow(), clock)
                       for name, target in _batch_targets(engine, utcnow())
                       if topics is None or name in topics]
            while max_batches is None or batches < max_batches:
                claimed = claim(engine, summary.runner, utcnow(), policy.batch_size,
                                not_tried_since=started, only=topics)
                if not claimed:
                    break
                batches += 1
                summary.count_many("claimed", len(claimed))
                _send_claimed(engine, pool, claimed, summary, policy, rng)
                if time.monotonic() - clock > policy.max_seconds:
                    break
            for future in batched:
                try:
                    future.result()
                except Exception:  # noqa: BLE001 — left `sending`: the next pass recovers them
                    log.exception("outbox: a batch send failed")
    if summary.claimed or summary.recovered:
        summary.sync_run_id = _record_run(engine, summary, started)
    return summary


def _record_run(engine, summary: PassSummary, started: datetime) -> int:
    """The pass as a sync run: fetched = claimed, created = sent, updated = to retry
    later, errors = dead or uncertain."""
    finished = utcnow()
    with _tx(engine) as session:
        run = SyncRun(job="send_outbox", status=summary.status, started_at=started,
                      finished_at=finished,
                      duration_ms=int((finished - started).total_seconds() * 1000),
                      fetched=summary.claimed, created=summary.sent, updated=summary.retried,
                      errors=summary.dead + summary.uncertain,
                      error_message="\n".join(summary.errors) or None,
                      cursor_after=f"recovered {summary.recovered}" if summary.recovered else None)
        session.add(run)
        session.flush()
        return run.id
