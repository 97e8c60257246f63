"""The self-service return page (DESIGN.md "Interfaces": ``/returns/start``, public: the
customer is not a user). The order is found by number + e-mail, or by the signed link in the
order's mails; the page shows what can be returned and why not, takes units and a reason per
line, and answers with the RMA and, once authorized and bought, the return label. CSRF on the
forms; rate-limited per client address (``OMS_RETURNS_PUBLIC_LIMIT`` requests a minute).
The order's identity travels between the two steps in a signed token, never as a bare id."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request

from .extensions import db
from .public_limit import PerAddressLimit
from .views.returns import label_file, lines_from_form
from app.services.core.actor import Actor
from app.services.core.errors import DomainError, ValidationFailed
from app.services.fulfilment import return_labels
from app.services.returns import actions as returns, policy, self_service

bp = Blueprint("returns_public", __name__, url_prefix="/returns")
LIMIT = PerAddressLimit()
TEMPLATE = "returns_public/start.html"


def _page(**values):
    """The page in one of its three states: find the order, choose the lines, done."""
    return render_template(TEMPLATE, **({"error": None, "order": None, "ret": None, "offers": [], "reasons": [],
                                         "token": None, "label_token": None} | values))


@bp.before_request
def _rate_limit():
    if not LIMIT.hit(request.remote_addr or "?", int(current_app.config.get("OMS_RETURNS_PUBLIC_LIMIT", 30))):
        return _page(error="Too many requests: try again in a minute."), 429, {"Retry-After": "60"}
    return None


def _choose(order, error=None, status=200):
    return _page(order=order, offers=policy.offers(db.session, order),
                           reasons=policy.reasons(db.session), token=self_service.link_token(order.id),
                           error=error), status


@bp.route("/start", methods=["GET"])
def start():
    return _page()


@bp.route("/start", methods=["POST"])
def find():
    try:
        order = self_service.find_order(db.session, request.form.get("order_number"), request.form.get("email"))
    except DomainError as exc:
        return _page(error=exc.message), 404 if exc.status == 404 else 422
    return _choose(order)


def _linked(view):
    """A page reached by the signed link: the order, or 404 with the reason."""
    def wrapper(token: str):
        try:
            order = self_service.order_for_token(db.session, token)
        except DomainError as exc:
            return _page(error=exc.message), 404
        return view(order, token)
    wrapper.__name__ = view.__name__
    return wrapper


@bp.route("/start/<token>", methods=["GET"])
@_linked
def by_link(order, token: str):
    return _choose(order)


@bp.route("/start/<token>", methods=["POST"])
@_linked
def create(order, token: str):
    lines = lines_from_form(request.form)
    if not lines:
        return _choose(order, "Choose at least one item to return.", 422)
    actor = Actor.customer(order.email)
    try:
        ret = returns.create_return(db.session, order.id, lines, None, actor, source="customer")
    except ValidationFailed as exc:
        db.session.rollback()
        return _choose(order, "; ".join(m for msgs in exc.errors.values() for m in msgs) or exc.message, 422)
    if returns.label_due(db.session, ret.id):
        return_labels.buy(db.session, ret.id, actor)
    ret = returns.get_return(db.session, ret.id)
    return _page(ret=ret, label_token=self_service.label_token(ret.id) if ret.label_data else None)


@bp.route("/label/<token>", methods=["GET"])
def label(token: str):
    try:
        ret = self_service.return_for_label(db.session, token)
    except DomainError:
        abort(404)
    return label_file(ret)
