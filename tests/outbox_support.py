"""A receiver on 127.0.0.1 and the test topics that deliver to it over real HTTP (the
vehicle of the outbox's fault tests and of bench/outbox.py; the outbound webhooks issue
brings the real webhook handler).

The receiver is a small threaded http.server. It records every delivery it accepted
(message id, group, sequence), can be told to answer a message with a 500, a 429 with
Retry-After, to be too slow (the sender times out), or to SIGKILL the sender right after
it received (and recorded) the request. ``/objects`` is a remote we can look up: POST
creates an object every time (no server-side idempotency), GET finds them by reference.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import requests

from app.services.core import idempotency, outbox
from app.services.core.outbox import OutcomeUnknown, RetryableError, Sent

SIGNING_SECRET = b"test-secret"
DELIVER_TOPIC = "test.deliver"  # at least once, stable id (a webhook)
CREATE_TOPIC = "test.create"  # a remote object we can look up: exactly once


class Receiver:
    def __init__(self):
        self.lock = threading.Lock()
        self.deliveries: list[dict] = []  # accepted, in arrival order
        self.attempts: dict[int, int] = defaultdict(int)  # every request per message n
        self.script: dict[int, list] = {}  # n -> behaviours for its next requests
        self.objects: dict[str, dict] = {}  # object id -> {"reference", ...}
        self.kill_pid: int | None = None
        self.kills = 0
        self.bad_signatures = 0
        self.slow_seconds = 1.0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.server.daemon_threads = True
        # A sender killed or gone (timeout) leaves a broken pipe: expected, not news.
        self.server.handle_error = lambda request, address: None
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> "Receiver":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def next_behaviour(self, n: int):
        with self.lock:
            self.attempts[n] += 1
            queue = self.script.get(n)
            return queue.pop(0) if queue else None

    def accept(self, body: dict) -> None:
        with self.lock:
            self.deliveries.append(body)

    def kill_sender(self) -> None:
        if self.kill_pid:
            os.kill(self.kill_pid, signal.SIGKILL)
            self.kills += 1

    def by_message(self) -> dict[int, list[dict]]:
        seen = defaultdict(list)
        for body in self.deliveries:
            seen[body["n"]].append(body)
        return seen

    def _handler_class(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else each answer waits for a delayed ACK (40 ms)

            def log_message(self, *args):
                pass

            def _answer(self, status: int, body: dict | None = None, headers=None):
                data = json.dumps(body or {}).encode()
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> tuple[bytes, dict]:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                return raw, json.loads(raw or b"{}")

            def do_POST(self):
                raw, body = self._body()
                if not verify(raw, self.headers):
                    receiver.bad_signatures += 1
                    return self._answer(401, {"error": "bad signature"})
                behaviour = receiver.next_behaviour(body["n"])
                if behaviour == "500":
                    return self._answer(500, {"error": "boom"})
                if isinstance(behaviour, tuple) and behaviour[0] == "429":
                    return self._answer(429, {"error": "slow down"},
                                        {"Retry-After": str(behaviour[1])})
                if behaviour == "422":
                    return self._answer(422, {"error": "never"})
                if behaviour == "slow":  # accepted, but after the sender gave up
                    time.sleep(receiver.slow_seconds)
                if self.path.startswith("/objects"):
                    object_id = f"obj-{len(receiver.objects) + 1}"
                    with receiver.lock:
                        receiver.objects[object_id] = {"reference": body["reference"],
                                                       "n": body["n"]}
                    answer = {"id": object_id}
                else:
                    receiver.accept(body)
                    answer = {"ok": True}
                if behaviour == "kill":  # the request arrived and was acted on
                    receiver.kill_sender()
                    time.sleep(0.2)
                return self._answer(201, answer)

            def do_GET(self):
                reference = parse_qs(urlparse(self.path).query).get("reference", [""])[0]
                found = [{"id": k, **v} for k, v in receiver.objects.items()
                         if v["reference"] == reference]
                return self._answer(200, {"objects": found})

        return Handler


# --- the sending side (runs in the sender's process) ------------------------------------------

def sign(raw: bytes, timestamp: str) -> str:
    digest = hmac.new(SIGNING_SECRET, f"{timestamp}.".encode() + raw, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify(raw: bytes, headers) -> bool:
    timestamp = headers.get("X-Waybill-Timestamp") or ""
    return hmac.compare_digest(sign(raw, timestamp), headers.get("X-Waybill-Signature") or "")


_local = threading.local()


def _http() -> requests.Session:
    if not hasattr(_local, "session"):
        _local.session = requests.Session()
    return _local.session


def timeout() -> float:
    return float(os.environ.get("OMS_TEST_HTTP_TIMEOUT", "0.5"))


def post(url: str, body: dict, headers: dict | None = None) -> requests.Response:
    raw = json.dumps(body, separators=(",", ":")).encode()
    timestamp = str(int(time.time()))
    all_headers = {"Content-Type": "application/json", "X-Waybill-Timestamp": timestamp,
                   "X-Waybill-Signature": sign(raw, timestamp), **(headers or {})}
    try:
        response = _http().post(url, data=raw, headers=all_headers, timeout=(1, timeout()))
    except requests.ReadTimeout as exc:
        raise OutcomeUnknown(f"no answer within {timeout()} s") from exc
    except requests.ConnectionError as exc:
        raise RetryableError(f"connection failed: {exc}") from exc
    idempotency.raise_for_response(response.status_code, response.headers, response.text)
    return response


def deliver(message: outbox.Message) -> Sent:
    """A webhook-like delivery: the stable message id in the body and a header."""
    body = {"id": message.message_id, **message.payload}
    post(f"{message.target}/deliver", body, {"X-Waybill-Event-Id": message.message_id})
    return Sent(remote_id=message.message_id)


def create(message: outbox.Message) -> Sent:
    """A remote object created once: looked up by our key before creating again."""
    def find(key):
        response = _http().get(f"{message.target}/objects", params={"reference": key},
                               timeout=(1, timeout()))
        idempotency.raise_for_response(response.status_code, response.headers)
        objects = response.json()["objects"]
        return objects[0]["id"] if objects else None

    def make(key):
        return post(f"{message.target}/objects", {"reference": key, **message.payload},
                    {"Idempotency-Key": key}).json()["id"]

    return idempotency.create_once(message, find=find, create=make)


def register_test_topics() -> None:
    outbox.register(DELIVER_TOPIC, deliver)
    outbox.register(CREATE_TOPIC, create)


def unregister_test_topics() -> None:
    outbox.unregister(DELIVER_TOPIC)
    outbox.unregister(CREATE_TOPIC)
