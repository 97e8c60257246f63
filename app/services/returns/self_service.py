"""The customer's self-service return page (``/returns/start``, no login): the order is found
by its number and e-mail, or by a signed link in the order's mails. Orders whose channel runs
its own returns (Amazon) or that the channel fulfilled are not offered here."""
from __future__ import annotations

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Order, Return
from app.services.core.errors import NotFound, ValidationFailed
from app.services.returns import policy

LINK_DAYS = 180  # a link in a mail stays good this long


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def link_token(order_id: int) -> str:
    return _serializer("return-start").dumps(order_id)


def start_url(order_id: int) -> str:
    """The signed link put in the order's mails."""
    base = current_app.config.get("OMS_PUBLIC_URL") or "http://localhost:8080"
    return f"{base.rstrip('/')}/returns/start/{link_token(order_id)}"


def order_for_token(session: Session, token: str) -> Order:
    try:
        order_id = _serializer("return-start").loads(token, max_age=LINK_DAYS * 86400)
    except (BadSignature, SignatureExpired):
        raise ValidationFailed.field("token", "this link is not valid") from None
    return _offered(session.get(Order, int(order_id)))


def find_order(session: Session, order_number, email) -> Order:
    """The order of that number whose e-mail matches (one answer for both mistakes: the page
    does not tell which orders exist)."""
    number = (order_number or "").strip()
    email = (email or "").strip().lower()
    if not number or not email:
        raise ValidationFailed.field("order_number", "give the order number and the e-mail used to order")
    candidates = [number] if number.startswith("#") else [number, f"#{number}"]
    order = session.scalar(select(Order).where(Order.order_number.in_(candidates),
                                               func.lower(Order.email) == email).limit(1))
    if order is None:
        raise NotFound("No order with this number and e-mail")
    return _offered(order)


def _offered(order: Order | None) -> Order:
    if order is None:
        raise NotFound("No such order")
    if order.channel.kind in policy.SELF_SERVICE_EXCLUDED_KINDS or order.fulfilled_by_channel:
        raise ValidationFailed.field("order_number", f"returns of {order.channel.name} orders are made on "
                                                     f"{order.channel.name} itself")
    return order


def label_token(return_id: int) -> str:
    return _serializer("return-label").dumps(return_id)


def return_for_label(session: Session, token: str) -> Return:
    try:
        return_id = _serializer("return-label").loads(token, max_age=LINK_DAYS * 86400)
    except (BadSignature, SignatureExpired):
        raise NotFound("No such label") from None
    ret = session.get(Return, int(return_id))
    if ret is None or not ret.label_data:
        raise NotFound("No such label")
    return ret
