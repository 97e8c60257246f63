"""The write-back proof (PostgreSQL; time scaled): orders shipped, partially shipped,
cancelled and refunded on all three channels, delivered by real ``send_outbox`` runner
processes while the sandbox fails 20% of the requests (429, 500, 503 before acting; a
truncated answer after acting) and SIGKILLs the runner right after a write request arrived
and was acted on. The channel's own view afterwards: every fulfilment, cancel and refund
arrived exactly once, with the lines of its shipment — the end state of a run without faults."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import ChannelPush, OutboxMessage, Product, Refund, Warehouse
from app.services.inventory import stock as inventory
from app.services.orders import actions as orders
from app.services.returns import actions as returns
from tests.conftest import is_postgres

from .conftest import TIME_SCALE
from .writeback_support import import_order, quiet_risk_checks, ship, sim_order

pytestmark = pytest.mark.skipif(not is_postgres(), reason="the SIGKILL proof runs on PostgreSQL")

ROOT = Path(__file__).resolve().parents[2]
KINDS = ("shopify", "woocommerce", "amazon")
FAULTS = {"429": 0.05, "500": 0.05, "503": 0.05, "truncated": 0.05, "retry_after": 1}
KILL_EVERY = 4  # the 4th, 8th, 12th write request: the runner dies right after it arrived
MAX_KILLS = 3


def runner(app) -> tuple[list[str], dict]:
    env = {**os.environ, "OMS_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
           "OMS_SECRET_KEY": app.config["SECRET_KEY"], "OMS_CREDENTIALS_KEY": app.config["OMS_CREDENTIALS_KEY"],
           "OMS_OUTBOX_TIME_SCALE": "0.001", "OMS_OUTBOX_MAX_ATTEMPTS": "25", "OMS_OUTBOX_WORKERS": "4",
           "OMS_CONNECTOR_TIME_SCALE": str(TIME_SCALE), "OMS_SCHEDULER": "off", "OMS_LOG_LEVEL": "WARNING"}
    return [sys.executable, "-m", "tests.outbox_runner", "--seconds", "60"], env


class Killer:
    """The sandbox's request hook: SIGKILL the runner after every KILL_EVERY-th write."""

    def __init__(self):
        self.pid, self.writes, self.kills = None, 0, 0

    def __call__(self, channel, operation, request):
        body = request.get_data(as_text=True) if channel == "shopify" else ""
        if channel == "shopify" and "mutation" not in body:
            return  # a GraphQL query: not a write
        self.writes += 1
        if self.pid and self.kills < MAX_KILLS and self.writes % KILL_EVERY == 0:
            self.kills += 1
            os.kill(self.pid, signal.SIGKILL)
            time.sleep(0.2)


def scenario(state, channels, session, make, admin) -> dict:
    """Per channel: A shipped whole, B shipped in part (its first line), C cancelled, D
    refunded one unit of its first line; A also refunded after its fulfilment."""
    plan = {}
    near = make.warehouse("AAA", "US", priority=1)
    main = session.scalar(select(Warehouse).where(Warehouse.code == "EWR"))
    for kind in KINDS:
        a, b, c, d = (sim_order(state, kind), sim_order(state, kind, min_lines=2), sim_order(state, kind),
                      sim_order(state, kind))
        split = session.scalar(select(Product).where(func.upper(Product.sku) == b.lines[0].sku.upper()))
        inventory.receive(session, near.id, split.id, 50, admin, reference="proof")
        inventory.adjust(session, main.id, split.id, -inventory.get_level(session, main.id, split.id).on_hand,
                         "moved to AAA", admin)
        session.commit()
        order_b = import_order(session, channels[kind], b)
        inventory.adjust(session, main.id, split.id, 100000, "back", admin)
        session.commit()
        order_a, order_c, order_d = (import_order(session, channels[kind], sim) for sim in (a, c, d))
        ship(session, order_a.id, admin, tracking=f"1ZA{kind[:3].upper()}")
        ship(session, order_b.id, admin, warehouse_id=near.id, tracking=f"1ZB{kind[:3].upper()}")
        orders.cancel_order(session, order_c.id, "customer asked", admin)
        refund_d = returns.refund(session, order_d.id, None, "damaged", admin,
                                  lines={order_d.lines[0].id: 1})
        refund_a = returns.refund(session, order_a.id, "1.00", "goodwill", admin)
        plan[kind] = {"a": a, "b": b, "c": c, "d": d, "refunds": {"a": refund_a.amount, "d": refund_d.amount}}
    return plan


def run_runners(app, killer: Killer, rounds: int = 8) -> list[int]:
    command, env = runner(app)
    codes = []
    db.session.remove()
    for _ in range(rounds):
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)
        killer.pid = process.pid
        out, err = process.communicate(timeout=90)
        codes.append(process.returncode)
        if process.returncode == 0:
            assert json.loads(out.strip().splitlines()[-1])["passes"] >= 1, err
            if not open_messages():
                break
        else:
            assert process.returncode == -9, err[-3000:]  # only our SIGKILL stops a runner
    return codes


def open_messages() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count(OutboxMessage.id)).where(
        OutboxMessage.topic.like("channel.%"), OutboxMessage.status.in_(("pending", "sending"))))


def assert_channel_view(kind: str, plan: dict) -> None:
    """What the channel shows: exactly once each, the lines of each shipment."""
    a, b, c, d = plan["a"], plan["b"], plan["c"], plan["d"]
    if kind == "woocommerce":
        assert len(a.notes) == 1 and "1ZAWOO" in a.notes[0]["note"] and a.status_override == "completed"
        assert len(b.notes) == 1 and "the rest follows" in b.notes[0]["note"] and b.status_override is None
    else:
        assert [f["lines"] for f in a.fulfillments] == [{li.line_id: li.quantity for li in a.lines}]
        assert [f["lines"] for f in b.fulfillments] == [{b.lines[0].line_id: b.lines[0].quantity}]
        assert [li.shipped for li in b.lines[1:]] == [0] * (len(b.lines) - 1)
    assert c.cancelled and not c.fulfillments
    assert [r.amount for r in d.refunds] == [plan["refunds"]["d"]]
    assert [r.amount for r in a.refunds] == [plan["refunds"]["a"]]


def test_everything_arrives_exactly_once_despite_faults_and_sigkills(app, sandbox, sandbox_channels, session,
                                                                     make, actor):
    state, _root = sandbox
    admin = actor("admin")
    quiet_risk_checks(session, admin)
    plan = scenario(state, sandbox_channels, session, make, admin)
    killer = Killer()
    state.request_hook = killer
    for kind in KINDS:
        state.set_faults(kind, {**FAULTS, "seed": 19})
    started = time.monotonic()
    codes = run_runners(app, killer)
    elapsed = time.monotonic() - started
    state.request_hook = None
    assert codes[-1] == 0 and killer.kills == MAX_KILLS and codes.count(-9) == MAX_KILLS
    db.session.rollback()
    statuses = {}  # the channel topics' messages (a shipment also queues its customer mail)
    for message in db.session.scalars(select(OutboxMessage).where(OutboxMessage.topic.like("channel.%"))):
        statuses.setdefault(message.topic, set()).add(message.status)
    dead = [(m.topic, m.target, m.last_error) for m in db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.status != "sent"))]
    assert all(found == {"sent"} for found in statuses.values()), dead
    assert set(db.session.scalars(select(ChannelPush.status))) == {"confirmed"}
    assert set(db.session.scalars(select(Refund.status))) == {"succeeded"}
    for kind in KINDS:
        assert_channel_view(kind, plan[kind])
    served = state.snapshot()["faults_served"]
    faults = {kind: sum(served[kind].values()) for kind in KINDS}
    print(f"proof: {len(codes)} runner processes, {killer.kills} SIGKILLs after {killer.writes} write requests, "
          f"faults served {faults}, {elapsed:.1f} s")
    assert all(faults[kind] > 0 for kind in KINDS)
