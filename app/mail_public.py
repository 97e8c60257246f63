"""The opt-out link of every customer mail (public: the customer is not a user). Reached by a
signed link (the channel and the address, signed with the app's secret: nobody can opt out
someone else), CSRF-exempt so that a mail client's one-click unsubscribe (RFC 8058: a POST
to the List-Unsubscribe URL) works; a GET shows a confirmation button and changes nothing
(link scanners follow GETs). The signature is the protection; the service records once.
Rate-limited per client address (``OMS_MAIL_PUBLIC_LIMIT`` requests a minute, per process)."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template_string, request

from .extensions import csrf, db
from .public_limit import PerAddressLimit
from app.services.core.errors import DomainError
from app.services.notify import customer_mail

bp = Blueprint("mail_public", __name__, url_prefix="/mail")
csrf.exempt(bp)

LIMIT = PerAddressLimit()


@bp.before_request
def _rate_limit():
    if not LIMIT.hit(request.remote_addr or "?", int(current_app.config.get("OMS_MAIL_PUBLIC_LIMIT", 20))):
        return render_template_string(PAGE, error="Too many requests: try again in a "
                                      "minute.", done=False), 429, {"Retry-After": "60"}
    return None

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Unsubscribe</title></head>
<body style="font-family:sans-serif;max-width:36em;margin:3em auto">
{% if error %}<p>{{ error }}</p>
{% elif done %}<p>Done: you will get no more optional mails from this shop. Mails about your
orders (shipping, delivery, refunds) still reach you.</p>
{% else %}<form method="post"><p>Stop optional mails (such as delay notices) from this shop?
Mails about your orders still reach you.</p><button type="submit">Unsubscribe</button></form>
{% endif %}</body></html>"""


@bp.route("/unsubscribe/<token>", methods=["GET"])
def confirm(token: str):
    try:
        customer_mail.read_optout_token(token)
    except DomainError:
        return render_template_string(PAGE, error="This link is not valid.", done=False), 404
    return render_template_string(PAGE, error=None, done=False)


@bp.route("/unsubscribe/<token>", methods=["POST"])
def unsubscribe(token: str):
    try:
        customer_mail.opt_out(db.session, token)
    except DomainError:
        return render_template_string(PAGE, error="This link is not valid.", done=False), 404
    return render_template_string(PAGE, error=None, done=True)
