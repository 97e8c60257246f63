"""Customer mails over a real SMTP server (tests/smtp_support.py: aiosmtpd on 127.0.0.1 with
STARTTLS on a self-signed certificate and AUTH), parsed back with the stdlib ``email``:
recipient, subject, both parts, the tracking link, a PDF attachment, the language; one
connection for a batch; 421 then accepted → the mail once; 550 → failed with the reason; a
SIGKILL of the sender after the server accepted, before our commit → at most one repeat,
with the same Message-ID. PostgreSQL only (DESIGN: SMTP and kill tests)."""
from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import select

from app.models import Notification
from app.models.notifications import OutboxMessage
from app.services.notify import customer_mail
from connectors import mail as smtp
from tests.conftest import is_postgres
from tests.services.test_customer_mail import ADMIN, mails, send, ship, shop  # noqa: F401
from tests.services.test_outbox_http import run_until_done
from tests.smtp_support import SmtpServer

pytestmark = pytest.mark.skipif(not is_postgres(), reason="PostgreSQL only (DESIGN.md)")
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def server(app):
    running = SmtpServer().start()
    app.config["OMS_SMTP_URL"] = running.url()
    yield running
    app.config.pop("OMS_SMTP_URL", None)
    smtp.close_all()
    running.stop()


@pytest.fixture
def packing_slip():
    customer_mail.attach("shipped", lambda session, payload: [
        (f"packing-slip-{payload['order_id']}.pdf", "application/pdf", PDF)])
    yield
    customer_mail._attachers.pop("shipped", None)


def parts(message):
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    return text, html


def test_shipped_mails_in_their_language_over_starttls_and_auth_on_one_connection(
        session, make, shop, server, packing_slip):  # noqa: F811
    english = make.order(shop, [("SKU-1", 1, "9.99"), ("SKU-2", 1, "5.00")])
    german = make.order(shop, [("SKU-2", 1, "5.00")], email="kunde@example.de",
                        name="Jürgen Kunde")
    german.raw_payload = {**german.raw_payload, "customer_locale": "de"}
    session.commit()
    ship(session, english.id)
    ship(session, german.id)
    assert send(workers=1).sent == 2
    by_to = {m["To"]: m for m in server.accepted}
    assert server.rcpt == [["buyer@example.com"], ["kunde@example.de"]] or \
        sorted(server.rcpt) == [["buyer@example.com"], ["kunde@example.de"]]
    en, de = by_to["buyer@example.com"], by_to["kunde@example.de"]
    assert en["Subject"] == f"Your order {english.order_number} has shipped"
    assert de["Subject"] == f"Ihre Bestellung {german.order_number} wurde versandt"
    assert (en["Content-Language"], de["Content-Language"]) == ("en", "de")
    text, html = parts(en)
    link = "https://www.dhl.com/global-en/home/tracking.html?tracking-id=JD0001"
    assert link in text and f'<a href="{link}">JD0001</a>' in html
    assert "1 × Item SKU-1" in text and "Unsubscribe" in text
    assert en["List-Unsubscribe"].strip().startswith("<http") and "/mail/unsubscribe/" in \
        en["List-Unsubscribe"] and en["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text, html = parts(de)
    assert "Hallo Jürgen Kunde" in text and "In diesem Paket" in html
    (attachment,) = list(en.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == f"packing-slip-{english.id}.pdf"
    assert attachment.get_content() == PDF
    assert server.logins == 1  # one connection (STARTTLS + AUTH once) for the batch's thread
    logged = {m.to_address: m for m in mails(session)}
    assert {m.status for m in logged.values()} == {"sent"}
    assert logged["buyer@example.com"].message_id == en["Message-ID"]


def test_421_then_accepted_is_one_mail_and_550_fails_with_the_reason(
        session, make, shop, server):  # noqa: F811
    order = make.order(shop, [("SKU-1", 1, "9.99")])
    ship(session, order.id)
    server.script = ["421"]
    first = send()
    assert (first.sent, first.retried) == (0, 1)
    assert send().sent == 1  # the scaled backoff has passed
    assert len(server.accepted) == 1 and server.count == 2
    refused = make.order(shop, [("SKU-2", 1, "9.99")], email="nobody@example.com")
    ship(session, refused.id)
    server.script = ["550"]
    assert send().dead == 1
    session.rollback()
    dead = session.scalar(select(OutboxMessage).where(OutboxMessage.status == "dead"))
    assert "550 5.1.1 no such mailbox here" in dead.last_error and dead.attempts == 1
    failed = session.scalar(select(Notification).where(Notification.status == "failed"))
    assert failed.to_address == "nobody@example.com" and "550" in failed.error
    assert len(server.accepted) == 1


def test_a_sender_killed_after_the_server_accepted_repeats_once_with_the_same_message_id(
        app, session, make, shop, server, monkeypatch):  # noqa: F811
    for n in range(5):
        order = make.order(shop, [("SKU-1", 1, "9.99")], email=f"buyer{n}@example.com")
        ship(session, order.id)
    monkeypatch.setenv("OMS_SMTP_URL", server.url())  # the runner processes' server
    server.script = [None, "kill"]
    codes = run_until_done(app, server, rounds=3)  # it kills the runner as told
    assert codes == [-9, 0] and server.kills == 1
    ids = Counter(m["Message-ID"] for m in server.accepted)
    assert len(ids) == 5 and sorted(ids.values()) == [1, 1, 1, 1, 2]
    (repeated,) = [mid for mid, n in ids.items() if n == 2]
    session.rollback()
    logged = session.scalars(select(Notification)).all()
    assert len(logged) == 5 and repeated in {m.message_id for m in logged}
    assert all(m.status == "sent" for m in logged)


def test_the_per_minute_cap_holds_the_rest_for_later(session, make, shop, server):  # noqa: F811
    from app.services.core import settings

    settings.set_value(session, "mail_per_minute", "1", ADMIN)
    customer_mail._cap_checked[0] = 0.0  # read the setting now
    customer_mail._cap._sent.clear()
    try:
        for n in range(2):
            ship(session, make.order(shop, [("SKU-1", 1, "9.99")],
                                     email=f"capped{n}@example.com").id)
        summary = send(workers=1)
        assert (summary.sent, summary.retried) == (1, 1) and len(server.accepted) == 1
        session.rollback()
        waiting = session.scalar(select(OutboxMessage).where(OutboxMessage.status == "pending"))
        assert "over the cap of 1 mails a minute" in waiting.last_error
    finally:
        customer_mail._cap.per_minute, customer_mail._cap_checked[0] = 0, 0.0
        customer_mail._cap._sent.clear()
