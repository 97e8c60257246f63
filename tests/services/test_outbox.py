"""The outbox (app/services/core/outbox.py, outbox_sender.py) on the real database: written
in the caller's transaction, deduplicated while unsent, delivered by the send pass in group
order with backoff, dead and uncertain states, recovery after a crash, what a person does.

The handlers here are real handlers of test topics, called by the real sender; the
deliveries over HTTP are tests/services/test_outbox_http.py."""
from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditLog, OrderEvent, SyncRun
from app.models.base import clock_at, utcnow
from app.models.notifications import OutboxMessage
from app.services.core import domain_events, outbox, outbox_sender
from app.services.core.errors import Conflict
from app.services.core.outbox import OutcomeUnknown, PermanentError, RetryableError, Sent
from app.services.core.transaction import unit_of_work

POLICY = outbox_sender.Policy(max_attempts=3, backoff_base=10, backoff_cap=60, workers=2)


class Recorder:
    """A handler that records what it was given and fails as told, per message id."""

    def __init__(self):
        self.calls: list[outbox.Message] = []
        self.failures: dict[int, list[Exception]] = {}

    def __call__(self, message):
        self.calls.append(message)
        queue = self.failures.get(message.payload.get("n"), [])
        if queue:
            raise queue.pop(0)
        return Sent(remote_id=f"R{message.payload.get('n')}")

    def order(self):
        return [m.payload["n"] for m in self.calls]


@pytest.fixture
def topic():
    recorder = Recorder()
    outbox.register("test.record", recorder)
    yield recorder
    outbox.unregister("test.record")
    outbox.unregister("test.hold")


def put(session, n, group=None, dedupe=None, topic_name="test.record", order_id=None):
    with unit_of_work(session):
        return outbox.enqueue(session, topic_name, "receiver", {"n": n}, dedupe, group,
                              order_id=order_id)


def rows(session):
    session.rollback()
    return {m.payload["n"]: m for m in session.scalars(select(OutboxMessage))}


def send(at=None, policy=POLICY):
    if at is None:
        return outbox_sender.send_pass(db.engine, policy=policy, rng=random.Random(1))
    with clock_at(at):
        return outbox_sender.send_pass(db.engine, policy=policy, rng=random.Random(1))


def test_a_message_exists_only_if_the_change_commits(session, topic):
    with pytest.raises(RuntimeError):
        with unit_of_work(session):
            outbox.enqueue(session, "test.record", "receiver", {"n": 1})
            raise RuntimeError("the change failed")
    assert rows(session) == {}
    put(session, 2)
    assert list(rows(session)) == [2]


def test_the_same_effect_queued_twice_while_unsent_is_one_message(session, topic):
    first = put(session, 1, dedupe="stock:shop:SKU-1")
    again = put(session, 2, dedupe="stock:shop:SKU-1")
    assert again == first and list(rows(session)) == [1]
    send()
    # Sent: queueing the effect again is a new message (a resend).
    third = put(session, 3, dedupe="stock:shop:SKU-1")
    assert third != first
    assert {n: m.status for n, m in rows(session).items()} == {1: "sent", 3: "pending"}


def test_bad_messages_are_refused(session, topic):
    from app.services.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        outbox.enqueue(session, "no topic", "x", {})
    with pytest.raises(ValidationFailed):
        outbox.enqueue(session, "test.record", "x", {"when": utcnow()})
    session.rollback()


def test_a_topic_without_handler_stays_pending_without_attempts(session, topic):
    put(session, 1, topic_name="test.nobody")
    summary = send()
    assert summary.claimed == 0
    message = rows(session)[1]
    assert (message.status, message.attempts) == ("pending", 0)
    assert session.scalar(select(SyncRun)) is None  # an idle pass records nothing


def test_sent_with_remote_id_a_sync_run_and_the_orders_timeline(session, topic, make):
    channel = make.channel()
    wh = make.warehouse()
    make.product("A-1", stock={wh: 5})
    order = make.order(channel, [("A-1", 1, "5.00")])
    put(session, 1, order_id=order.id)
    summary = send()
    assert (summary.claimed, summary.sent, summary.status) == (1, 1, "succeeded")
    message = rows(session)[1]
    assert (message.status, message.remote_id, message.attempts) == ("sent", "R1", 1)
    assert message.sent_at is not None and message.claimed_by is None
    run = session.get(SyncRun, summary.sync_run_id)
    assert (run.job, run.status, run.fetched, run.created) == ("send_outbox", "succeeded", 1, 1)
    event = session.scalar(select(OrderEvent).where(OrderEvent.type == "outbox_sent"))
    assert event.order_id == order.id and "R1" in event.message
    assert event.actor == "job:send_outbox"


def test_a_group_goes_in_order_and_a_dead_message_holds_it_back(session, topic):
    for n in (1, 2, 3):
        put(session, n, group="order:1:shop")
    put(session, 9, group="order:2:shop")
    topic.failures[1] = [PermanentError("HTTP 422: unknown order")]
    send()
    state = {n: m.status for n, m in rows(session).items()}
    assert state == {1: "dead", 2: "pending", 3: "pending", 9: "sent"}
    send(utcnow() + timedelta(days=1))
    assert rows(session)[2].status == "pending"  # still held back by the dead one
    outbox.discard(session, rows(session)[1].id, make_actor(), "the order is gone")
    send()
    send()
    state = {n: m.status for n, m in rows(session).items()}
    assert state == {1: "discarded", 2: "sent", 3: "sent", 9: "sent"}
    assert topic.order() == [1, 9, 2, 3]


def make_actor():
    from app.services.core.actor import Actor

    return Actor(label="user:admin", user_id=None)


def test_backoff_grows_with_jitter_and_retry_after_wins(session, topic):
    put(session, 1)
    put(session, 2)
    topic.failures[1] = [RetryableError("HTTP 503")]
    topic.failures[2] = [RetryableError("HTTP 429", retry_after=120)]
    start = utcnow()
    send(start)
    first, second = rows(session)[1], rows(session)[2]
    assert first.status == second.status == "pending"
    wait_1 = (first.next_attempt_at - start).total_seconds()
    assert 5 <= wait_1 <= 10  # base 10 s, equal jitter: between half and all of it
    assert abs((second.next_attempt_at - start).total_seconds() - 120) < 1
    assert "HTTP 503" in first.last_error and first.attempts == 1
    # Not due yet: nothing is sent; once due, it is.
    send(start + timedelta(seconds=4))
    assert rows(session)[1].status == "pending" and topic.order() == [1, 2]
    send(start + timedelta(seconds=11))
    assert rows(session)[1].status == "sent"
    assert rows(session)[2].status == "pending"
    send(start + timedelta(seconds=121))
    assert rows(session)[2].status == "sent"
    policy = outbox_sender.Policy(backoff_base=10, backoff_cap=60)
    rng = random.Random(5)
    waits = [policy.backoff(n, rng=rng).total_seconds() for n in range(1, 8)]
    assert 5 <= waits[0] <= 10 and 10 <= waits[1] <= 20 and 20 <= waits[2] <= 40
    assert all(30 <= w <= 60 for w in waits[3:])  # capped
    scaled = outbox_sender.Policy(time_scale=0.001).backoff(1, retry_after=30)
    assert scaled == timedelta(seconds=0.03)


def test_after_max_attempts_dead_on_the_timeline_and_a_domain_event(session, topic, make):
    channel = make.channel()
    wh = make.warehouse()
    make.product("A-1", stock={wh: 5})
    order = make.order(channel, [("A-1", 1, "5.00")])
    seen = []
    handler = lambda s, payload: seen.append(payload)  # noqa: E731
    domain_events.subscribe("outbox.dead", handler)
    try:
        put(session, 1, order_id=order.id)
        topic.failures[1] = [RetryableError("HTTP 500")] * 3
        at = utcnow()
        for _ in range(3):
            summary = send(at)
            at += timedelta(hours=2)
        message = rows(session)[1]
        assert (message.status, message.attempts) == ("dead", 3)
        assert summary.status == "failed" and summary.dead == 1
        assert seen and seen[0]["outbox_id"] == message.id
        dead = session.scalar(select(OrderEvent).where(OrderEvent.type == "outbox_dead"))
        assert dead.order_id == order.id and "HTTP 500" in dead.message
        # A person retries: a fresh budget, the same message id, recorded with who.
        outbox.retry(session, message.id, make_actor(), "the receiver is back")
        send(at)
        again = rows(session)[1]
        assert again.status == "sent" and again.message_id == message.message_id
        assert {c.message_id for c in topic.calls} == {message.message_id}
        assert topic.calls[-1].tried_before  # the handler knows an attempt may have landed
        audit = session.scalar(select(AuditLog).where(AuditLog.entity == "outbox"))
        assert audit.action == "retry" and audit.changes["status"] == {
            "old": "dead", "new": "pending"}
    finally:
        domain_events.unsubscribe("outbox.dead", handler)


def test_retry_and_discard_refuse_what_they_cannot_do(session, topic):
    put(session, 1)
    send()
    sent = rows(session)[1]
    with pytest.raises(Conflict):
        outbox.retry(session, sent.id, make_actor())
    with pytest.raises(Conflict):
        outbox.discard(session, sent.id, make_actor())
    put(session, 2)
    put(session, 3)
    result = outbox.bulk(session, "discard", [sent.id, rows(session)[2].id,
                                              rows(session)[3].id], make_actor(), "not needed")
    assert len(result.succeeded) == 2 and len(result.failed) == 1
    assert {n: m.status for n, m in rows(session).items()} == {
        1: "sent", 2: "discarded", 3: "discarded"}


def test_a_crashed_send_is_sent_again_with_the_same_id_or_held_for_a_person(session, topic):
    uncertain = []
    outbox.register("test.hold", topic, unknown_outcome="hold",
                    on_uncertain=lambda s, m: uncertain.append(m.id))
    put(session, 1)
    put(session, 2, topic_name="test.hold")
    # A runner claims both and dies before sending (its claim is committed).
    claimed = outbox_sender.claim(db.engine, "dead-runner", utcnow(), 10)
    assert [m.payload["n"] for m in claimed] == [1, 2]
    assert {m.status for m in rows(session).values()} == {"sending"}
    summary = send()
    assert summary.recovered == 2
    state = rows(session)
    assert state[1].status == "sent" and state[1].message_id == claimed[0].message_id
    assert topic.calls[0].tried_before and topic.calls[0].attempts == 2
    assert state[2].status == "uncertain" and "outcome is unknown" in state[2].last_error
    assert uncertain == [state[2].id]
    assert topic.order() == [1]  # the held one was not sent again by itself


def test_a_held_topic_goes_uncertain_on_a_timeout_but_retries_a_refused_connection(
        session, topic):
    outbox.register("test.hold", topic, unknown_outcome="hold")
    put(session, 1, topic_name="test.hold")
    put(session, 2, topic_name="test.hold")
    put(session, 3)
    topic.failures[1] = [OutcomeUnknown("read timed out")]
    topic.failures[2] = [RetryableError("connection refused")]
    topic.failures[3] = [OutcomeUnknown("read timed out")]
    send()
    state = {n: m.status for n, m in rows(session).items()}
    assert state == {1: "uncertain", 2: "pending", 3: "pending"}


def test_a_crashed_handler_counts_as_an_unknown_outcome(session, topic):
    put(session, 1)
    topic.failures[1] = [KeyError("bug")]
    summary = send()
    message = rows(session)[1]
    assert message.status == "pending" and "OutcomeUnknown" in message.last_error
    assert summary.retried == 1


def test_sqlite_pass_under_a_held_lease_is_skipped_and_recovers_after_it_expires(
        app, session, topic):
    """The one SQLite lease check: a runner killed while holding the send_outbox lease
    and a message in `sending` blocks the job until the lease runs out; the next pass
    then sends that message again with the same id, once."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("the lease is SQLite's; PostgreSQL uses row locks")
    from jobs import send_outbox
    from jobs.locks import try_acquire_lease
    from jobs.scheduler import run_job

    put(session, 1)
    claimed = outbox_sender.claim(db.engine, "killed-runner", utcnow(), 10)
    assert try_acquire_lease(db.engine, send_outbox.NAME, "killed-host:1:1",
                             timedelta(seconds=60))
    session.rollback()
    assert run_job(app, send_outbox.NAME, send_outbox.run,
                   exclusive=send_outbox.exclusive) is None  # skipped: the lease is held
    assert topic.calls == [] and rows(session)[1].status == "sending"
    with clock_at(utcnow() + timedelta(seconds=61)):
        summary = run_job(app, send_outbox.NAME, send_outbox.run,
                          exclusive=send_outbox.exclusive)
    assert summary.recovered == 1 and summary.sent == 1
    assert [m.message_id for m in topic.calls] == [claimed[0].message_id]
    assert rows(session)[1].status == "sent"


def test_prepare_reads_for_the_whole_claim_and_a_failing_prepare_leaves_it_to_the_handler(
        session, topic):
    claims = []

    def prepare(messages):
        claims.append(sorted(m.payload["n"] for m in messages))
        return {m.id: f"read {m.payload['n']}" for m in messages if m.payload["n"] != 3}

    outbox.register("test.record", topic, prepare=prepare)
    for n in (1, 2, 3):
        put(session, n)
    assert send().sent == 3
    assert claims == [[1, 2, 3]]  # one call for the claim, not one per message
    assert {m.payload["n"]: m.prepared for m in topic.calls} == {
        1: "read 1", 2: "read 2", 3: None}  # not answered for: the handler reads itself

    def broken(messages):
        raise RuntimeError("the database went away")

    outbox.register("test.record", topic, prepare=broken)
    put(session, 4)
    assert send().sent == 1 and topic.calls[-1].prepared is None
