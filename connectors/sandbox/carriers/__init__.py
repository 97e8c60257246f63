"""The carrier half of the sandbox (DESIGN.md "Carriers"): a general frame each carrier plugs
into with its routes (``CarrierSandbox`` subclasses registered with ``@register``), sharing
the parcels and their clock (``parcels.py``), label documents (``labels.py``), scripted
faults, a rate limit, and the webhooks sent when a parcel moves.

A carrier request goes through: scripted fault (429/500/503 before acting; ``lost``: acted
on, then the answer is cut short — an outcome the caller cannot know) -> the carrier's
authentication -> its rate limit -> the handler.

Control API (JSON, ``POST /_sandbox/carriers/<action>``): ``state`` (GET too), ``reset``,
``advance`` ``{"hours"}`` (then sends the webhooks due), ``speed`` ``{"speed"}`` (nominal seconds
per real second), ``outcomes`` ``{"outcomes": [...], "exception_rate"}``, ``faults``
``{"carrier", "script": ["500", "lost", "ok", ...], "handler": "ship"}`` (the next calls of that
handler only, or of any), ``pump`` (send the webhooks due now).
"""
from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from typing import Any, Callable, Optional

import requests
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from ..state import Bucket
from .parcels import OUTCOMES, CarrierState, SimParcel, Step

log = logging.getLogger(__name__)
JSON = "application/json; charset=utf-8"

CARRIER_CREDENTIALS: dict[str, dict[str, str]] = {
    "ups": {"client_id": "ups-sandbox-client-id", "client_secret": "ups-sandbox-client-secret",
            "account_number": "A1B2C3"},
    "easypost": {"api_key": "EZTKsandbox0123456789abcdef"},
    "fedex": {"client_id": "fedex-sandbox-ship-key", "client_secret": "fedex-sandbox-ship-secret",
              "track_client_id": "fedex-sandbox-track-key", "track_client_secret": "fedex-sandbox-track-secret",
              "account_number": "740561073"},
    "usps": {"client_id": "usps-sandbox-consumer-key", "client_secret": "usps-sandbox-consumer-secret",
             "crid": "56982563", "mid": "904128936", "account_number": "1000405525"},
    "dhl": {"username": "dhl-sandbox-user", "password": "dhl-sandbox-password",
            "api_key": "dhl-sandbox-tracking-key", "account_number": "123456789"},
}

REGISTRY: list[type["CarrierSandbox"]] = []
# request headers kept in the request log: what a replay needs to be the same request
REPLAYED = {"authorization", "content-type", "accept", "dhl-api-key", "x-payment-authorization-token", "x-locale"}


def register(cls: type["CarrierSandbox"]) -> type["CarrierSandbox"]:
    """Add a carrier to the sandbox (its module is imported at the end of this file)."""
    REGISTRY.append(cls)
    return cls


def json_response(data: Any, status: int = 200, headers: Optional[dict] = None) -> Response:
    return Response(json.dumps(data, separators=(",", ":")), status=status, headers=headers or {},
                    content_type=JSON)


class CarrierSandbox:
    """One carrier: its name, path prefix, routes and shapes."""
    name = ""
    prefix = ""
    rate_limit = (10.0, 50)  # requests per nominal second, burst

    def __init__(self, hub: "CarrierHub"):
        self.hub = hub
        self.state: CarrierState = hub.state
        self.credentials = CARRIER_CREDENTIALS[self.name]

    def routes(self) -> list[tuple[str, str, list[str]]]:
        """(path under the prefix, handler method name, HTTP methods)."""
        raise NotImplementedError

    def error(self, status: int, code: str, message: str) -> Response:
        raise NotImplementedError

    def authenticate(self, request: Request, handler: str) -> Optional[Response]:
        return None

    def webhooks(self, parcel: SimParcel, steps: list[Step]) -> list[tuple[str, dict, bytes]]:
        """(url, headers, body) of what this carrier POSTs when the parcel reached ``steps``."""
        return []

    def now(self):
        return self.state.clock.now()

    # -- helpers the OAuth carriers share ----------------------------------------------------------
    def issue_token(self, scope: str, seconds: float) -> str:
        """A bearer token for ``scope`` (e.g. FedEx's shipping or tracking keys) that expires."""
        token = secrets.token_urlsafe(32)
        with self.state.lock:
            self.state.tokens[token] = time.monotonic() + seconds * self.hub.sandbox.time_scale
            self.state.token_scopes[token] = scope
        return token

    def bearer_scope(self, request: Request) -> Optional[str]:
        """The scope of the request's live bearer token, or None."""
        header = request.headers.get("Authorization", "")
        token = header[7:] if header[:7].lower() == "bearer " else ""
        with self.state.lock:
            expires = self.state.tokens.get(token)
            scope = self.state.token_scopes.get(token)
        return scope if expires is not None and time.monotonic() < expires else None


class CarrierHub:
    def __init__(self, sandbox_state):
        self.sandbox = sandbox_state  # the channel sandbox's state: its time scale
        self.state = CarrierState()
        self.carriers = {cls.name: cls(self) for cls in REGISTRY}
        self._ticker: Optional[threading.Thread] = None
        self.limits_on = True  # rate limits and quotas (the tracking benchmark's floor turns them off)

    def rules(self) -> list[Rule]:
        rules = [Rule("/_sandbox/carriers/<action>", endpoint="carriers_ctl", methods=["GET", "POST"])]
        for carrier in self.carriers.values():
            for path, handler, methods in carrier.routes():
                rules.append(Rule(f"{carrier.prefix}{path}", endpoint=f"carrier:{carrier.name}:{handler}",
                                  methods=methods))
        return rules

    def owns(self, path: str) -> Optional[CarrierSandbox]:
        return next((c for c in self.carriers.values() if path.startswith(c.prefix + "/")), None)

    def not_found(self, carrier: CarrierSandbox) -> Response:
        return carrier.error(404, "not_found", "Resource not found")

    # -- a carrier call ------------------------------------------------------------------------
    def dispatch(self, request: Request, endpoint: str, values: dict) -> Response:
        if endpoint == "carriers_ctl":
            return self.control(request, **values)
        _, name, handler_name = endpoint.split(":")
        carrier = self.carriers[name]
        state = self.state
        with state.lock:
            state.request_counts[name] = state.request_counts.get(name, 0) + 1
            if state.request_log is not None:  # what a caller sent, to replay it (bench/tracking.py)
                state.request_log.append((request.method, request.full_path if request.query_string else request.path,
                                          {k: v for k, v in request.headers.items() if k.lower() in REPLAYED},
                                          request.get_data()))
            script = state.faults.get((name, handler_name)) or state.faults.get((name, None)) or []
            fault = script.pop(0) if script else None
        if fault and fault.isdigit():
            headers = {"Retry-After": "1"} if fault in ("429", "503") else {}
            response = carrier.error(int(fault), f"sandbox_{fault}", "Scripted fault")
            response.headers.update(headers)
            return response
        denied = carrier.authenticate(request, handler_name)
        if denied is not None:
            return denied
        with state.lock:
            bucket = state.buckets.setdefault(name, Bucket(*carrier.rate_limit))
            ok = bucket.take(self.sandbox.time_scale)[0] if self.limits_on else True
        if not ok:
            response = carrier.error(429, "rate_limited", "Too many requests")
            response.headers["Retry-After"] = "1"
            return response
        try:
            response = getattr(carrier, handler_name)(request, **values)
        except (ValueError, KeyError, TypeError) as exc:
            return carrier.error(400, "invalid_request", f"Invalid request: {exc}")
        if fault == "lost":  # acted on, but the caller never reads a whole answer
            body = response.get_data()
            response.set_data(body[: max(1, len(body) // 3)])
        return response

    # -- webhooks --------------------------------------------------------------------------------
    def pump(self) -> int:
        """Send the webhooks of every step reached since the last look; returns how many."""
        sent = 0
        for parcel, steps in self.state.due_webhooks():
            carrier = self.carriers.get(parcel.carrier)
            for url, headers, body in carrier.webhooks(parcel, steps) if carrier else []:
                entry = {"carrier": parcel.carrier, "url": url, "tracking_number": parcel.tracking_number,
                         "steps": [s.kind for s in steps]}
                try:
                    answer = requests.post(url, data=body, headers={"Content-Type": "application/json", **headers},
                                           timeout=5)
                    entry["status"] = answer.status_code
                except requests.RequestException as exc:
                    entry["error"] = type(exc).__name__
                with self.state.lock:
                    self.state.webhook_log.append(entry)
                sent += 1
        return sent

    def start_ticker(self, every: float = 2.0) -> None:
        """Send webhooks as parcels move (``flask oms sandbox``; tests pump by hand)."""
        def run():
            stop = threading.Event()
            while not stop.wait(every):
                try:
                    self.pump()
                except Exception:  # noqa: BLE001 — the demo's ticker never stops the server
                    log.exception("carrier sandbox: webhooks failed")

        if self._ticker is None:
            self._ticker = threading.Thread(target=run, name="sandbox-carrier-ticker", daemon=True)
            self._ticker.start()

    # -- control ---------------------------------------------------------------------------------
    def control(self, request: Request, action: str) -> Response:
        body = json.loads(request.get_data(as_text=True) or "{}") if request.method == "POST" else {}
        actions: dict[str, Callable[[dict], Any]] = {
            "state": lambda b: self.snapshot(), "reset": self._reset, "advance": self._advance,
            "speed": lambda b: {"speed": self.state.clock.set_speed(float(b["speed"])) or self.state.clock.speed},
            "outcomes": self._outcomes, "faults": self._faults, "pump": lambda b: {"sent": self.pump()},
            "limits": self._limits, "log": self._log, "requests": self._requests,
        }
        if action not in actions:
            return json_response({"error": f"unknown action {action!r}"}, 404)
        try:
            return json_response(actions[action](body))
        except (ValueError, KeyError, TypeError) as exc:
            return json_response({"error": str(exc)}, 400)

    def _reset(self, body: dict) -> dict:
        self.state.reset(int(body.get("seed", 0)), float(body.get("speed", 1.0)))
        return {"reset": True}

    def _advance(self, body: dict) -> dict:
        now = self.state.clock.advance(float(body["hours"]))
        return {"now": now.isoformat(), "webhooks": self.pump()}

    def _outcomes(self, body: dict) -> dict:
        outcomes = [str(o) for o in body.get("outcomes") or []]
        if any(o not in OUTCOMES for o in outcomes):
            raise ValueError(f"outcomes are {', '.join(OUTCOMES)}")
        with self.state.lock:
            self.state.next_outcomes = outcomes
            if "exception_rate" in body:
                self.state.exception_rate = float(body["exception_rate"])
        return {"next_outcomes": outcomes, "exception_rate": self.state.exception_rate}

    def _limits(self, body: dict) -> dict:
        self.limits_on = bool(body.get("enabled", True))
        return {"limits": self.limits_on}

    def _log(self, body: dict) -> dict:
        """``{"enabled": true}`` starts a fresh request log, false stops it; answers its size."""
        with self.state.lock:
            if "enabled" in body:
                self.state.request_log = [] if body["enabled"] else None
            return {"logging": self.state.request_log is not None, "requests": len(self.state.request_log or [])}

    def _requests(self, body: dict) -> dict:
        """The request log: [method, path with query, headers, base64 body] each."""
        import base64

        with self.state.lock:
            log = list(self.state.request_log or [])
        return {"requests": [[m, p, h, base64.b64encode(b).decode()] for m, p, h, b in log]}

    def _faults(self, body: dict) -> dict:
        if body.get("carrier") not in self.carriers:
            raise ValueError(f"carrier must be one of {', '.join(self.carriers)}")
        script = [str(s) for s in body.get("script") or []]
        with self.state.lock:
            self.state.faults[(body["carrier"], body.get("handler"))] = script
        return {"carrier": body["carrier"], "script": script, "handler": body.get("handler")}

    def snapshot(self) -> dict:
        state = self.state
        with state.lock:
            parcels = {p.tracking_number: p for p in state.shipments.values()}
            now = state.clock.now()
            return {"now": now.isoformat(), "speed": state.clock.speed, "requests": dict(state.request_counts),
                    "credentials": CARRIER_CREDENTIALS, "webhooks_sent": list(state.webhook_log),
                    "parcels": [{"carrier": p.carrier, "tracking_number": n, "shipment_id": p.shipment_id,
                                 "pieces": p.pieces, "voided": p.voided, "outcome": p.data.get("outcome"),
                                 "steps": [s.kind for s in p.visible(now)]} for n, p in parcels.items()]}


from . import dhl, easypost, fedex, ups, usps  # noqa: E402,F401 — each registers itself
