"""Effects sent once where the world lets us (DESIGN.md "Outbox", what "once" means).

- **Remote objects we can look up** (a fulfilment, a refund, a label with a stored
  shipment id): ``create_once`` — our key (``message.idempotency_key``, stable across every
  attempt of the message) travels as the remote's reference, note or ``Idempotency-Key``
  header, and when an earlier attempt may have reached the remote, the handler first
  looks the object up by that key and answers it instead of creating a second one. This
  covers an attempt that crashed or lost its answer. A create the remote is *still*
  working on when we look again (we timed out, it has not finished) is caught only by a
  remote that honours the key itself (an Idempotency-Key header): send it whenever the
  remote offers one.
- **Mails and webhooks** (no lookup): at least once; the receiver gets the stable
  ``message.message_id`` and drops a repeat. The sender records "sending" before the call
  and repeats only a send it did not record as done.
- **Effects that must not repeat and cannot be looked up** (a label from USPS or DHL):
  the topic is registered with ``unknown_outcome="hold"``; see core.outbox.

``raise_for_response`` turns an HTTP answer into the outbox's typed errors.
"""
from __future__ import annotations

from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Callable, Optional

from app.services.core.outbox import Message, PermanentError, RetryableError, Sent

# A 4xx that may pass: timeout, conflict (a concurrent change), too many requests.
RETRYABLE_4XX = (408, 409, 429)


def create_once(message: Message, *, find: Callable[[str], Optional[str]],
                create: Callable[[str], str]) -> Sent:
    """Create the remote object of ``message`` once.

    ``find(key)`` answers the remote id of an object made with our key, or None;
    ``create(key)`` makes it (sending the key along) and answers its remote id. The look
    happens only when an earlier attempt may have got through: a first attempt creates
    at once (one call, not two)."""
    key = message.idempotency_key
    if message.tried_before:
        found = find(key)
        if found is not None:
            return Sent(remote_id=str(found),
                        note="found the object an earlier attempt made: not created again")
    return Sent(remote_id=str(create(key)))


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """A Retry-After header: seconds, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return max(0.0, (moment - (now or datetime.now(timezone.utc))).total_seconds())


def raise_for_response(status: int, headers=None, body: str | None = None) -> None:
    """2xx passes; 408/409/429 and 5xx are retryable (Retry-After kept); any other 4xx
    is permanent (sending it again cannot help)."""
    if 200 <= status < 300:
        return
    headers = headers or {}
    detail = f"HTTP {status}" + (f": {body[:300]}" if body else "")
    retry_after = retry_after_seconds(headers.get("Retry-After"))
    if status in RETRYABLE_4XX or status >= 500:
        raise RetryableError(detail, retry_after=retry_after)
    raise PermanentError(detail)
