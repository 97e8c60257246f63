"""Parcels of the carrier sandbox: each moves along a plausible timeline on the carrier clock,
carrier-neutral (``Step`` kinds); each carrier's module renders the steps in its own shape.

Timeline (nominal hours after the label): label 0, pickup 4, departed 10, arrived at the
destination facility a day per zone later, out for delivery, delivered. A share of parcels
(``exception_rate``, or the next outcomes a test scripts) meets a failed attempt, an address
problem, a weather delay or goes back to the sender; every one but the last is delivered
after it. The clock runs at ``speed`` nominal seconds per real second and jumps with
``advance`` (tests); nothing moves by itself between two looks, a look computes what is due.
"""
from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Optional

OUTCOMES = ("delivered", "failed_attempt", "address", "delay", "returned")
EXCEPTIONS = OUTCOMES[1:]
# kinds that end a parcel's journey
FINAL = {"delivered", "returned", "voided"}


@dataclass
class Step:
    at: datetime
    kind: str  # label, pickup, depart, arrive, out, delivered, failed_attempt, address, delay, returned, voided
    city: str = ""
    region: str = ""
    country: str = ""


@dataclass
class SimParcel:
    carrier: str
    tracking_number: str
    shipment_id: str
    service: str
    reference: Optional[str]
    created_at: datetime
    steps: list[Step]
    pieces: list[str]  # every package's tracking number, this one first
    cost: Decimal
    currency: str
    label_format: str = "PDF"
    voided: bool = False
    refund_status: Optional[str] = None
    sent: int = 0  # steps already told by webhook
    data: dict = field(default_factory=dict)  # the carrier's own fields (rate ids, addresses)

    def visible(self, now: datetime) -> list[Step]:
        return [s for s in self.steps if s.at <= now or s.kind == "voided"]

    def estimate(self, now: datetime) -> Optional[datetime]:
        """When the carrier says it will arrive: as first planned until an exception shows,
        then the revised time (carriers revise their estimates after a problem)."""
        planned = next((s.at for s in self.steps if s.kind == "delivered"), None)
        if any(s.kind in EXCEPTIONS for s in self.visible(now)):
            return planned
        return self.data.get("first_estimate") or planned


class CarrierClock:
    def __init__(self, start: Optional[datetime] = None, speed: float = 1.0):
        self.start = (start or datetime.now(timezone.utc)).replace(microsecond=0)
        self.mono = time.monotonic()
        self.speed = speed
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(time.monotonic() - self.mono) * self.speed) + self.offset

    def set_speed(self, speed: float) -> None:
        if speed <= 0:
            raise ValueError("speed must be > 0")
        self.start, self.mono, self.speed = self.now() - self.offset, time.monotonic(), speed

    def advance(self, hours: float) -> datetime:
        self.offset += timedelta(hours=hours)
        return self.now()


def zone(origin_postcode: str, destination_postcode: str, same_country: bool) -> int:
    """1..8 like the carriers' zone charts: distance read off the first postcode digits."""
    if not same_country:
        return 8
    a, b = (origin_postcode or "0")[:1], (destination_postcode or "0")[:1]
    if not (a.isdigit() and b.isdigit()):
        return 4
    return 1 + min(7, abs(int(a) - int(b)))


def first_estimate(created: datetime, days: int) -> datetime:
    """The delivery time of a parcel that meets no problem (what the carrier promises first)."""
    return created + timedelta(hours=max(14.0, 24.0 * days - 10) + 14)


def plan(created: datetime, days: int, outcome: str, origin: dict, destination: dict) -> list[Step]:
    def at(hours: float) -> datetime:
        return created + timedelta(hours=hours)

    def where(place: dict) -> dict:
        return {"city": place.get("city", ""), "region": place.get("region", ""), "country": place.get("country", "")}

    home, there = where(origin), where(destination)
    arrive = max(14.0, 24.0 * days - 10)
    steps = [Step(at(0), "label", **home), Step(at(4), "pickup", **home), Step(at(10), "depart", **home),
             Step(at(arrive), "arrive", **there), Step(at(arrive + 8), "out", **there)]
    last = arrive + 14
    if outcome == "failed_attempt":
        steps += [Step(at(last), "failed_attempt", **there), Step(at(last + 18), "out", **there)]
        last += 24
    elif outcome == "address":
        steps += [Step(at(last - 1), "address", **there), Step(at(last + 42), "out", **there)]
        last += 48
    elif outcome == "delay":
        steps.insert(3, Step(at(arrive - 4), "delay", **home))
        steps[4].at, steps[5].at = at(arrive + 24), at(arrive + 32)
        last += 24
    elif outcome == "returned":
        steps += [Step(at(last), "failed_attempt", **there), Step(at(last + 24), "failed_attempt", **there),
                  Step(at(last + 48), "returned", **there)]
        return steps
    steps.append(Step(at(last), "delivered", **there))
    return steps


class CarrierState:
    """Everything the carrier sandbox keeps: parcels, tokens, subscriptions, faults."""

    def __init__(self, seed: int = 0):
        self.lock = threading.RLock()
        self.reset(seed)

    def reset(self, seed: int = 0, speed: float = 1.0) -> None:
        with self.lock:
            self.rng = random.Random(f"carriers-{seed}")
            self.clock = CarrierClock(speed=speed)
            self.parcels: dict[str, SimParcel] = {}  # tracking number (each piece) -> parcel
            self.shipments: dict[str, SimParcel] = {}  # carrier shipment id -> parcel
            self.unbought: dict[str, dict] = {}  # EasyPost shipments with rates, not bought yet
            self.seq = 0
            self.exception_rate = 0.15
            self.next_outcomes: list[str] = []
            self.tokens: dict[str, float] = {}  # bearer token -> real monotonic expiry
            self.token_scopes: dict[str, str] = {}  # bearer token -> what it may do
            self.manifests: list[dict] = []  # SCAN forms, ground closes
            self.quota: dict[tuple[str, str], int] = {}  # (carrier, day) -> calls (DHL tracking's quota)
            self.request_log: Optional[list] = None  # (method, path, headers, body) while logging
            self.ups_subscriptions: dict[str, tuple[str, str]] = {}  # number -> (url, credential)
            self.easypost_webhooks: list[dict] = []  # {"id", "url", "secret"}
            # (carrier, handler or None for any) -> scripted faults for its next calls
            self.faults: dict[tuple[str, Optional[str]], list[str]] = {}
            self.webhook_log: list[dict] = []
            self.request_counts: dict[str, int] = {}
            self.buckets: dict[str, object] = {}

    def next_id(self) -> int:
        with self.lock:
            self.seq += 1
            return self.seq

    def outcome(self) -> str:
        with self.lock:
            if self.next_outcomes:
                return self.next_outcomes.pop(0)
            roll = self.rng.random()
            if roll < self.exception_rate:
                return EXCEPTIONS[int(roll / self.exception_rate * len(EXCEPTIONS)) % len(EXCEPTIONS)]
            return "delivered"

    def add(self, parcel: SimParcel) -> SimParcel:
        with self.lock:
            for number in parcel.pieces:
                self.parcels[number] = parcel
            self.shipments[parcel.shipment_id] = parcel
        return parcel

    def void(self, parcel: SimParcel) -> bool:
        """Void a label not yet picked up (the carriers refuse once it moves)."""
        now = self.clock.now()
        with self.lock:
            if parcel.voided or any(s.kind != "label" for s in parcel.visible(now)):
                return False
            parcel.voided = True
            label = [s for s in parcel.steps if s.kind == "label"]
            # a second after the label at least (carriers' times have whole seconds); seen at once
            parcel.steps = label + [Step(max(now, label[0].at + timedelta(seconds=1)), "voided")]
            return True

    def due_webhooks(self) -> list[tuple[SimParcel, list[Step]]]:
        """The steps each parcel reached since the last look (marked as told)."""
        now, due = self.clock.now(), []
        with self.lock:
            for parcel in {id(p): p for p in self.shipments.values()}.values():
                visible = parcel.visible(now)
                if len(visible) > parcel.sent:
                    due.append((parcel, visible[parcel.sent:]))
                    parcel.sent = len(visible)
        return due


def billable_kg(packages: list[tuple[Decimal, Decimal, Decimal, Decimal]]) -> Decimal:
    """Σ max(actual weight, dimensional weight L×W×H/5000 cm³ per kg) over the packages."""
    total = Decimal("0")
    for weight, length, width, height in packages:
        if weight <= 0:
            raise ValueError("package weight must be > 0")
        total += max(weight, length * width * height / Decimal(5000))
    return total


def price(base: str, per_kg: str, kg: Decimal, zone_: int) -> Decimal:
    amount = (Decimal(base) + Decimal(per_kg) * kg) * (1 + Decimal("0.08") * (zone_ - 1))
    return amount.quantize(Decimal("0.01"))


def new_parcel(state: CarrierState, carrier: str, numbers: list[str], *, service: str, service_name: str,
               reference: Optional[str], days: int, cost: Decimal, currency: str, origin: dict,
               destination: dict, label_format: str, data: Optional[dict] = None) -> SimParcel:
    """A label bought: the parcel, on its timeline from now (its outcome drawn or scripted)."""
    created = state.clock.now()
    outcome = state.outcome()
    parcel = SimParcel(carrier=carrier, tracking_number=numbers[0], shipment_id=numbers[0], service=service,
                       reference=reference, created_at=created, steps=plan(created, days, outcome, origin, destination),
                       pieces=numbers, cost=cost, currency=currency, label_format=label_format,
                       data={"service_name": service_name, "to": destination, "from": origin, "outcome": outcome,
                             "first_estimate": first_estimate(created, days), **(data or {})})
    return state.add(parcel)
