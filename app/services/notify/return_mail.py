"""The customer's mails about a return (issue 22) on the customer-mail machinery: authorized
(with the return label attached when we bought one), received, rejected (with the reason).
An authorization whose label is still to be bought waits for ``return.label_ready``, so the
mail carries the label."""
from __future__ import annotations

from sqlalchemy.orm import Session

from app.models import Return
from app.services.core import domain_events
from app.services.notify import customer_mail
from app.services.returns import actions as returns

MAILS = {"authorized": "return_authorized", "received": "return_received", "rejected": "return_rejected"}


def on_return_changed(session: Session, payload: dict) -> None:
    event = MAILS.get(payload.get("to") or "")
    if event is None or _channel_runs_it(session, payload["return_id"]):
        return
    if event == "return_authorized" and returns.label_due(session, payload["return_id"]):
        return  # the label is bought next: its mail follows on return.label_ready
    customer_mail.queue(session, payload["order_id"], event, return_id=payload["return_id"])


def _channel_runs_it(session: Session, return_id: int) -> bool:
    """A return the channel runs (Amazon) is the channel's to tell its customer about."""
    ret = session.get(Return, return_id)
    return ret is not None and ret.source == "channel"


def on_label_ready(session: Session, payload: dict) -> None:
    customer_mail.queue(session, payload["order_id"], "return_authorized", return_id=payload["return_id"])


def label_attachment(session: Session, payload: dict) -> list:
    ret = session.get(Return, payload.get("return_id")) if payload.get("return_id") else None
    if ret is None or not ret.label_data:
        return []
    pdf = (ret.label_format or "PDF") == "PDF"
    return [(f"{ret.rma_number}-label.{'pdf' if pdf else 'zpl'}", "application/pdf" if pdf else "text/plain",
             bytes(ret.label_data))]


def register() -> None:
    domain_events.subscribe("return.changed", on_return_changed)
    domain_events.subscribe("return.label_ready", on_label_ready)
    customer_mail.attach("return_authorized", label_attachment)
