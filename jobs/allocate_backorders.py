"""allocate_backorders: give stock that arrived to orders waiting for it."""
from __future__ import annotations

from app.extensions import db
from app.services.lifecycle import allocation_queue
from app.services.core.actor import Actor
from app.services.core.transaction import unit_of_work

ACTOR = Actor.job("allocate_backorders")


def run() -> int:
    with unit_of_work(db.session):
        return allocation_queue.allocate_all_waiting(db.session, ACTOR)
