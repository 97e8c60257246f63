"""Customer mail templates: one per event and language, each a subject, an HTML part and a
plain-text part (Jinja, sandboxed: a template is edited by staff, never trusted with the
app's objects; the HTML part autoescaped). English and German ship with the code; a
template Admin or Operations edited is stored (``MailTemplate``) and wins.

A template is checked when saved (``save``: it must compile and render on a sample order
with strict undefined names), so it never fails at send. Rendering compiles each template
once and keeps it per (event, language, version) — the send path renders thousands a minute.

Every mail is wrapped in the same layout: the channel's logo on top, the opt-out link at the
bottom (in every mail, DESIGN "Customers and staff told").
"""
from __future__ import annotations

import threading
from functools import lru_cache
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, get_currency_precision
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import MailTemplate
from app.services.core import audit
from app.services.core.actor import Actor
from app.services.core.errors import ValidationFailed
from app.services.core.transaction import transactional

LANGUAGES = ("en", "de")
EVENTS = ("order_confirmed", "shipped", "out_for_delivery", "delivered", "delivery_exception",
          "delayed", "cancelled", "refund_issued", "return_authorized", "return_received",
          "return_rejected")
# Mails a customer who opted out does not get; the others are transactional.
MARKETING_EVENTS = frozenset({"delayed"})
PARTS = ("subject", "html", "text")

_ITEMS_TEXT = "{% for item in items %}- {{ item.quantity }} × {{ item.title }}\n{% endfor %}"
_ITEMS_HTML = ("<ul>{% for item in items %}<li>{{ item.quantity }} × {{ item.title }}</li>"
               "{% endfor %}</ul>")
_TRACK_TEXT = ("{{ shipment.carrier }} {{ shipment.tracking_number }}"
               "{% if shipment.tracking_url %}: {{ shipment.tracking_url }}{% endif %}")
_TRACK_HTML = ("{{ shipment.carrier }} {% if shipment.tracking_url %}<a href=\"{{ "
               "shipment.tracking_url }}\">{{ shipment.tracking_number }}</a>{% else %}"
               "{{ shipment.tracking_number }}{% endif %}")


def _t(subject: str, lines: list[str], html_lines: list[str] | None = None) -> dict:
    """A template from its paragraphs: the text part joins them with blank lines, the HTML
    part wraps each in <p> (or takes its own paragraphs)."""
    return {"subject": subject, "text": "\n\n".join(lines) + "\n",
            "html": "".join(f"<p>{p}</p>" for p in (html_lines or lines))}


_EN_HELLO, _DE_HELLO = "Hello {{ customer_name }},", "Hallo {{ customer_name }},"

DEFAULTS: dict[tuple[str, str], dict] = {
    ("order_confirmed", "en"): _t(
        "Your order {{ order.number }} is confirmed",
        [_EN_HELLO, "thank you for your order {{ order.number }} of {{ date(order.placed_at) }}.",
         _ITEMS_TEXT, "Total: {{ money(order.total) }}"],
        [_EN_HELLO, "thank you for your order {{ order.number }} of {{ date(order.placed_at) }}.",
         _ITEMS_HTML, "Total: {{ money(order.total) }}"]),
    ("order_confirmed", "de"): _t(
        "Ihre Bestellung {{ order.number }} ist bestätigt",
        [_DE_HELLO, "vielen Dank für Ihre Bestellung {{ order.number }} vom "
         "{{ date(order.placed_at) }}.", _ITEMS_TEXT, "Summe: {{ money(order.total) }}"],
        [_DE_HELLO, "vielen Dank für Ihre Bestellung {{ order.number }} vom "
         "{{ date(order.placed_at) }}.", _ITEMS_HTML, "Summe: {{ money(order.total) }}"]),
    ("shipped", "en"): _t(
        "Your order {{ order.number }} has shipped",
        [_EN_HELLO, "your order {{ order.number }} is on its way with " + _TRACK_TEXT + ".",
         "In this parcel:\n" + _ITEMS_TEXT,
         "{% if remaining %}Still to come:\n{% for item in remaining %}- {{ item.quantity }} × "
         "{{ item.title }}\n{% endfor %}{% endif %}"],
        [_EN_HELLO, "your order {{ order.number }} is on its way with " + _TRACK_HTML + ".",
         "In this parcel:" + _ITEMS_HTML,
         "{% if remaining %}Still to come:<ul>{% for item in remaining %}<li>{{ item.quantity }}"
         " × {{ item.title }}</li>{% endfor %}</ul>{% endif %}"]),
    ("shipped", "de"): _t(
        "Ihre Bestellung {{ order.number }} wurde versandt",
        [_DE_HELLO, "Ihre Bestellung {{ order.number }} ist unterwegs mit " + _TRACK_TEXT + ".",
         "In diesem Paket:\n" + _ITEMS_TEXT,
         "{% if remaining %}Folgt noch:\n{% for item in remaining %}- {{ item.quantity }} × "
         "{{ item.title }}\n{% endfor %}{% endif %}"],
        [_DE_HELLO, "Ihre Bestellung {{ order.number }} ist unterwegs mit " + _TRACK_HTML + ".",
         "In diesem Paket:" + _ITEMS_HTML,
         "{% if remaining %}Folgt noch:<ul>{% for item in remaining %}<li>{{ item.quantity }}"
         " × {{ item.title }}</li>{% endfor %}</ul>{% endif %}"]),
    ("out_for_delivery", "en"): _t(
        "Your order {{ order.number }} arrives today",
        [_EN_HELLO, "your parcel is out for delivery today: " + _TRACK_TEXT + "."],
        [_EN_HELLO, "your parcel is out for delivery today: " + _TRACK_HTML + "."]),
    ("out_for_delivery", "de"): _t(
        "Ihre Bestellung {{ order.number }} kommt heute",
        [_DE_HELLO, "Ihr Paket wird heute zugestellt: " + _TRACK_TEXT + "."],
        [_DE_HELLO, "Ihr Paket wird heute zugestellt: " + _TRACK_HTML + "."]),
    ("delivered", "en"): _t(
        "Your order {{ order.number }} was delivered",
        [_EN_HELLO, "your parcel ({{ shipment.carrier }} {{ shipment.tracking_number }}) was "
         "delivered. We hope you enjoy it.",
         "{% if return_url %}Something not right? Start a return: {{ return_url }}{% endif %}"]),
    ("delivered", "de"): _t(
        "Ihre Bestellung {{ order.number }} wurde zugestellt",
        [_DE_HELLO, "Ihr Paket ({{ shipment.carrier }} {{ shipment.tracking_number }}) wurde "
         "zugestellt. Viel Freude damit!"]),
    ("delivery_exception", "en"): _t(
        "A problem with the delivery of your order {{ order.number }}",
        [_EN_HELLO, "the carrier reports a problem with your parcel: " + _TRACK_TEXT + ".",
         "Please check the tracking page for what the carrier needs (an address detail, a "
         "pickup point) or simply reply to this mail and we will sort it out."],
        [_EN_HELLO, "the carrier reports a problem with your parcel: " + _TRACK_HTML + ".",
         "Please check the tracking page for what the carrier needs (an address detail, a "
         "pickup point) or simply reply to this mail and we will sort it out."]),
    ("delivery_exception", "de"): _t(
        "Ein Problem bei der Zustellung Ihrer Bestellung {{ order.number }}",
        [_DE_HELLO, "der Paketdienst meldet ein Problem mit Ihrem Paket: " + _TRACK_TEXT + ".",
         "Bitte sehen Sie in der Sendungsverfolgung nach, was der Paketdienst braucht, oder "
         "antworten Sie einfach auf diese Mail: wir kümmern uns darum."],
        [_DE_HELLO, "der Paketdienst meldet ein Problem mit Ihrem Paket: " + _TRACK_HTML + ".",
         "Bitte sehen Sie in der Sendungsverfolgung nach, was der Paketdienst braucht, oder "
         "antworten Sie einfach auf diese Mail: wir kümmern uns darum."]),
    ("delayed", "en"): _t(
        "Your order {{ order.number }} is delayed",
        [_EN_HELLO, "we are sorry: your order {{ order.number }} did not leave us by "
         "{{ date(order.ship_by) }} as promised. We will mail you as soon as it ships."]),
    ("delayed", "de"): _t(
        "Ihre Bestellung {{ order.number }} verzögert sich",
        [_DE_HELLO, "es tut uns leid: Ihre Bestellung {{ order.number }} wurde nicht wie "
         "versprochen bis zum {{ date(order.ship_by) }} versandt. Wir melden uns, sobald sie "
         "unterwegs ist."]),
    ("cancelled", "en"): _t(
        "Your order {{ order.number }} was cancelled",
        [_EN_HELLO, "your order {{ order.number }} was cancelled{% if reason %} ({{ reason }})"
         "{% endif %}. Anything you paid is refunded."]),
    ("cancelled", "de"): _t(
        "Ihre Bestellung {{ order.number }} wurde storniert",
        [_DE_HELLO, "Ihre Bestellung {{ order.number }} wurde storniert{% if reason %} "
         "({{ reason }}){% endif %}. Bereits gezahlte Beträge werden erstattet."]),
    ("refund_issued", "en"): _t(
        "Your refund for order {{ order.number }}",
        [_EN_HELLO, "we refunded {{ money(refund.amount) }} for your order {{ order.number }}"
         "{% if refund.method %} to your {{ refund.method }}{% endif %}."]),
    ("refund_issued", "de"): _t(
        "Ihre Erstattung zur Bestellung {{ order.number }}",
        [_DE_HELLO, "wir haben {{ money(refund.amount) }} zu Ihrer Bestellung "
         "{{ order.number }} erstattet{% if refund.method %} ({{ refund.method }}){% endif %}."]),
    ("return_authorized", "en"): _t(
        "Your return {{ ret.rma_number }} is authorized",
        [_EN_HELLO, "we accept the return of:\n" + _ITEMS_TEXT,
         "{% if ret.has_label %}Your return label ({{ ret.label_carrier | upper }} {{ ret.label_tracking }}) "
         "is attached: print it and stick it on the parcel.{% else %}Please send the items back with "
         "the number {{ ret.rma_number }} inside the parcel.{% endif %}"],
        [_EN_HELLO, "we accept the return of:" + _ITEMS_HTML,
         "{% if ret.has_label %}Your return label ({{ ret.label_carrier | upper }} {{ ret.label_tracking }}) "
         "is attached: print it and stick it on the parcel.{% else %}Please send the items back with "
         "the number {{ ret.rma_number }} inside the parcel.{% endif %}"]),
    ("return_authorized", "de"): _t(
        "Ihre Rücksendung {{ ret.rma_number }} ist genehmigt",
        [_DE_HELLO, "wir nehmen zurück:\n" + _ITEMS_TEXT,
         "{% if ret.has_label %}Ihr Rücksendeetikett ({{ ret.label_carrier | upper }} {{ ret.label_tracking }}) "
         "liegt bei.{% else %}Bitte legen Sie die Nummer {{ ret.rma_number }} in das Paket.{% endif %}"],
        [_DE_HELLO, "wir nehmen zurück:" + _ITEMS_HTML,
         "{% if ret.has_label %}Ihr Rücksendeetikett ({{ ret.label_carrier | upper }} {{ ret.label_tracking }}) "
         "liegt bei.{% else %}Bitte legen Sie die Nummer {{ ret.rma_number }} in das Paket.{% endif %}"]),
    ("return_received", "en"): _t(
        "We received your return {{ ret.rma_number }}",
        [_EN_HELLO, "your return {{ ret.rma_number }} for order {{ order.number }} arrived. "
         "We will check it and tell you about your refund."]),
    ("return_received", "de"): _t(
        "Ihre Rücksendung {{ ret.rma_number }} ist angekommen",
        [_DE_HELLO, "Ihre Rücksendung {{ ret.rma_number }} zur Bestellung {{ order.number }} ist angekommen. "
         "Wir prüfen sie und melden uns zur Erstattung."]),
    ("return_rejected", "en"): _t(
        "About your return request {{ ret.rma_number }}",
        [_EN_HELLO, "we cannot accept the return {{ ret.rma_number }} for order {{ order.number }}: "
         "{{ ret.rejection_reason }}"]),
    ("return_rejected", "de"): _t(
        "Zu Ihrer Rücksendeanfrage {{ ret.rma_number }}",
        [_DE_HELLO, "wir können die Rücksendung {{ ret.rma_number }} zur Bestellung {{ order.number }} "
         "nicht annehmen: {{ ret.rejection_reason }}"]),
}

LAYOUT_HTML = (
    "<!doctype html><html lang=\"{{ language }}\"><body style=\"font-family:sans-serif\">"
    "{% if logo_url %}<p><img src=\"{{ logo_url }}\" alt=\"{{ sender_name }}\" height=\"48\">"
    "</p>{% endif %}{{ body }}<hr><p style=\"font-size:small;color:#666\">{{ sender_name }}"
    " · <a href=\"{{ optout_url }}\">{{ optout_label }}</a></p></body></html>")
LAYOUT_TEXT = "{{ body }}\n-- \n{{ sender_name }}\n{{ optout_label }}: {{ optout_url }}\n"
OPTOUT_LABELS = {"en": "Unsubscribe from these mails", "de": "Diese Mails abbestellen"}


# --- formatting for the locale (Babel) --------------------------------------------------------

@lru_cache(maxsize=256)
def formatters(language: str, currency: str, tz: str = "UTC") -> dict:
    """``money`` and ``date`` for templates: the locale's formats, money in the currency's
    minor units (JPY 0 decimals, KWD 3). Made once per language and currency (every mail
    asks): callers copy the dict, never change it."""
    def money(amount, code: str | None = None) -> str:
        if amount is None:
            return ""
        code = code or currency
        digits = get_currency_precision(code)
        value = Decimal(str(amount)).quantize(Decimal(1).scaleb(-digits))
        return format_currency(value, code, locale=language, currency_digits=True)

    def date(value, with_time: bool = False) -> str:
        if value is None:
            return ""
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if with_time:
            return format_datetime(value, "medium", tzinfo=tz, locale=language)
        return format_date(value, "long", locale=language)

    return {"money": money, "date": date}


# --- compiling and caching --------------------------------------------------------------------

_html_env = SandboxedEnvironment(autoescape=True)
_text_env = SandboxedEnvironment(autoescape=False)
_strict_html = SandboxedEnvironment(autoescape=True, undefined=StrictUndefined)
_strict_text = SandboxedEnvironment(autoescape=False, undefined=StrictUndefined)


@dataclass(frozen=True)
class Compiled:
    subject: object
    html: object
    text: object


_cache: dict[tuple, Compiled] = {}
_cache_lock = threading.Lock()


def compile_parts(parts: dict, strict: bool = False) -> Compiled:
    """The parts compiled, each body inside the layout: one template per part, so a mail
    is three renders (the layout rendered apart was two more for every mail). The layout
    has no line break before the body: an error's line number is the body's own."""
    html_env, text_env = (_strict_html, _strict_text) if strict else (_html_env, _text_env)
    html = LAYOUT_HTML.replace("{{ body }}", parts["html"], 1)
    text = LAYOUT_TEXT.replace("{{ body }}", "{% filter trim %}" + parts["text"]
                               + "{% endfilter %}", 1)
    return Compiled(text_env.from_string(parts["subject"]), html_env.from_string(html),
                    text_env.from_string(text))


def compiled(parts: dict, version: tuple) -> Compiled:
    """The compiled template for ``version`` (event, language, stored id and updated_at):
    compiled once, then reused by every thread."""
    found = _cache.get(version)
    if found is None:
        found = compile_parts(parts)
        with _cache_lock:
            _cache[version] = found
    return found


def _stored(session: Session, event: str, language: str,
            channel_id: int | None) -> MailTemplate | None:
    owner = MailTemplate.channel_id.is_(None) if channel_id is None \
        else MailTemplate.channel_id == channel_id
    return session.scalar(select(MailTemplate).where(MailTemplate.event == event,
                                                     MailTemplate.language == language, owner))


def pick(stored: dict, event: str, language: str, channel_id: int | None = None):
    """The template that applies, from the stored ones by (event, language, channel id):
    the channel's own, else the one for every channel; None: the shipped default."""
    return (stored.get((event, language, channel_id)) if channel_id is not None else None) \
        or stored.get((event, language, None))


def source(session: Session, event: str, language: str,
           channel_id: int | None = None) -> tuple[dict, tuple]:
    """The template's parts and its version: the channel's own, else the stored one for
    every channel, else the shipped default (German falls back to English only for an
    event without a German default)."""
    row = (_stored(session, event, language, channel_id) if channel_id is not None else None) \
        or _stored(session, event, language, None)
    if row is not None:
        return ({"subject": row.subject, "html": row.html, "text": row.text},
                (event, language, row.id, row.updated_at))
    parts = DEFAULTS.get((event, language)) or DEFAULTS[(event, "en")]
    return parts, (event, language, "default")


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str


def render(template: Compiled, context: dict) -> Rendered:
    """The three parts, the bodies inside the layout (logo, opt-out link)."""
    subject = " ".join(template.subject.render(context).split())
    return Rendered(subject, template.html.render(context), template.text.render(context))


# --- editing -----------------------------------------------------------------------------------

def sample_context(language: str = "en") -> dict:
    """A complete context: what ``save`` renders a template with (strict names)."""
    from datetime import timezone

    now = datetime(2026, 3, 14, 9, 30, tzinfo=timezone.utc)
    items = [{"sku": "SKU-1", "title": "Sample item", "quantity": 1}]
    return {
        "language": language, "customer_name": "Ann Example", "sender_name": "Shop",
        "logo_url": "", "optout_url": "https://example.com/unsubscribe",
        "optout_label": OPTOUT_LABELS.get(language, OPTOUT_LABELS["en"]),
        "order": {"number": "#1001", "placed_at": now, "ship_by": now, "total": Decimal("12.5"),
                  "currency": "EUR", "email": "ann@example.com", "lines": items},
        "items": items, "remaining": [], "reason": "out of stock",
        "shipment": {"carrier": "DHL", "tracking_number": "123", "status": "in_transit",
                     "tracking_url": "https://www.dhl.com/track?AWB=123"},
        "refund": {"amount": Decimal("12.5"), "method": "card"},
        "return_url": "https://example.com/returns/start/token",
        "ret": {"rma_number": "RMA-1-1", "status": "authorized", "rejection_reason": "worn",
                "label_carrier": "ups", "label_tracking": "1Z999", "has_label": True, "items": items,
                "start_url": "https://example.com/returns/start/token"},
        **formatters(language, "EUR"),
    }


def check(parts: dict, language: str) -> None:
    """Compile and render on the sample order: a template error is refused at save."""
    for part in PARTS:
        if not (parts.get(part) or "").strip():
            raise ValidationFailed.field(part, "is required")
    try:
        render(compile_parts(parts, strict=True), sample_context(language))
    except TemplateError as exc:
        where = f" (line {exc.lineno})" if getattr(exc, "lineno", None) else ""
        raise ValidationFailed.field("template", f"{type(exc).__name__}: {exc}{where}") from None


def _check_channel(session: Session, channel_id) -> int | None:
    if channel_id in (None, ""):
        return None
    from app.models import Channel

    if session.get(Channel, int(channel_id)) is None:
        raise ValidationFailed.field("channel_id", f"no channel {channel_id}")
    return int(channel_id)


@transactional
def save(session: Session, event: str, language: str, parts: dict, actor: Actor,
         channel_id: int | None = None) -> MailTemplate:
    """Store the template of ``event`` and ``language`` for every channel, or for one
    (``channel_id``: its orders get it, the others the general one)."""
    if event not in EVENTS:
        raise ValidationFailed.field("event", f"must be one of {', '.join(EVENTS)}")
    if language not in LANGUAGES:
        raise ValidationFailed.field("language", f"must be one of {', '.join(LANGUAGES)}")
    channel_id = _check_channel(session, channel_id)
    check(parts, language)
    row = _stored(session, event, language, channel_id)
    before = {p: getattr(row, p) for p in PARTS} if row else {}
    if row is None:
        row = MailTemplate(event=event, language=language, channel_id=channel_id)
        session.add(row)
    for part in PARTS:
        setattr(row, part, parts[part])
    row.updated_by = actor.label
    session.flush()
    audit.record(session, actor, "mail_template", row.id, "update" if before else "create",
                 {"event": event, "language": language, "channel_id": channel_id,
                  "changed": [p for p in PARTS if before.get(p) != parts[p]]})
    return row


@transactional
def reset(session: Session, event: str, language: str, actor: Actor,
          channel_id: int | None = None) -> None:
    """Back to what applies without this template: for a channel, the general one (or the
    shipped default); for every channel, the shipped default."""
    row = _stored(session, event, language, _check_channel(session, channel_id))
    if row is not None:
        audit.record(session, actor, "mail_template", row.id, "reset",
                     {"event": event, "language": language, "channel_id": row.channel_id})
        session.delete(row)
