"""What every write-back handler shares: which orders are pushed, the group their messages
share, a connector for a channel, short transactions of its own, and the channel's answers
turned into the outbox's typed errors."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Optional, TypeVar

from flask import current_app, has_app_context
from sqlalchemy.orm import Session

from app.models import Channel
from app.services.channels import config
from app.services.orders import queries
from app.services.core.idempotency import create_once
from app.services.core.outbox import Message, PermanentError, RetryableError
from app.services.core.transaction import write_intent
from connectors.errors import ChannelAuthError, ChannelError, ChannelNotFound, ChannelRateLimited
from connectors.registry import build_connector
from connectors.writes import ChannelRefused, WriteResult

T = TypeVar("T")
# Seconds (nominal) before looking again at a write the channel has not confirmed yet
# (an Amazon feed waiting for its processing report, Shopify's cancel job).
CONFIRM_WAIT = 60.0


pushed = queries.written_back  # which orders are written back to their channel


group_key = queries.channel_group


def connector_for(channel: Channel):
    options = dict(current_app.config.get("OMS_CONNECTOR_OPTIONS", {})) if has_app_context() else {}
    options.pop("page_size", None)
    if channel.api_version:
        options["api_version"] = channel.api_version
    return build_connector(channel.kind, channel.base_url, config.credentials_of(channel), **options)


@contextmanager
def own_session():
    """A session of the handler's own (handlers run in the sender's worker threads)."""
    from app.extensions import db

    with Session(db.engine) as session:
        yield session


@contextmanager
def own_transaction():
    from app.extensions import db

    with write_intent(), Session(db.engine) as session, session.begin():
        yield session


def call(fn: Callable[[], T]) -> T:
    """The channel's answer as the outbox understands it: a refusal or bad credentials
    cannot pass (dead at once), throttling and outages may."""
    try:
        return fn()
    except ChannelRefused as exc:
        raise PermanentError(str(exc)) from None
    except (ChannelAuthError, ChannelNotFound) as exc:
        raise PermanentError(str(exc)) from None
    except ChannelRateLimited as exc:
        raise RetryableError(str(exc)) from None
    except ChannelError as exc:
        status = exc.status or 0
        if 400 <= status < 500 and status not in (408, 409, 429):
            raise PermanentError(str(exc)) from None
        raise RetryableError(str(exc)) from None


def once(message: Message, find: Callable[[str], Optional[WriteResult]],
         create: Callable[[str], WriteResult]) -> WriteResult:
    """``core.idempotency.create_once`` keeping the channel's whole answer (its state)."""
    answers: dict[str, WriteResult] = {}

    def found(key: str):
        result = call(lambda: find(key))
        if result is not None:
            answers["result"] = result
            return result.remote_id or key
        return None

    def made(key: str):
        answers["result"] = call(lambda: create(key))
        return answers["result"].remote_id or key

    sent = create_once(message, find=found, create=made)
    result = answers["result"]
    if sent.note and not result.note:
        result.note = sent.note
    return result


def confirmed_once(message: Message, connector, *, state: str, remote_id: str | None,
                   find: Callable[[str], Optional[WriteResult]], create: Callable[[str], WriteResult],
                   sent: Callable[[str | None], None], what: str) -> WriteResult:
    """Create once, then follow it to the channel's confirmation: a write the channel
    accepted without confirming (an Amazon feed) is recorded by ``sent(remote_id)`` and later
    attempts look at its result (the processing report) instead of writing again. A refusal
    raises ``PermanentError``; an answer still pending, ``waiting``."""
    if state == "sent" and remote_id and hasattr(connector, "feed_result"):
        result = call(lambda: connector.feed_result(remote_id))
    else:
        result = once(message, find=find, create=create)
        if result.state == "pending":
            sent(result.remote_id)
            if hasattr(connector, "feed_result"):
                result = call(lambda: connector.feed_result(result.remote_id))
    if result.state == "failed":
        raise PermanentError(result.note or f"the channel refused {what}")
    return result


def waiting(what: str) -> RetryableError:
    """The write is with the channel, not confirmed yet: look again later (no new write)."""
    return RetryableError(f"waiting for the channel to confirm {what}", retry_after=CONFIRM_WAIT)
