"""connectors/mail.py without a server: OMS_SMTP_URL parsing (never the password in a
repr or error) and the per-minute cap on a fake clock (a deferral, never a sleep). The
sends themselves: tests/services/test_customer_mail_smtp.py against a real server."""
from __future__ import annotations

import pytest

from connectors import mail


def test_smtp_urls():
    starttls = mail.parse_url("smtp+starttls://ann%40shop:p%3Ass@mail.example.com:2525"
                              "?cafile=/tmp/ca.pem&timeout=7")
    assert (starttls.security, starttls.host, starttls.port) == ("starttls", "mail.example.com",
                                                                 2525)
    assert (starttls.username, starttls.password) == ("ann@shop", "p:ss")
    assert (starttls.cafile, starttls.timeout) == ("/tmp/ca.pem", 7.0)
    assert "p:ss" not in repr(starttls)
    assert mail.parse_url("smtps://u:p@mx.example.com").port == 465
    assert mail.parse_url("smtp://localhost").security == "plain"
    with pytest.raises(ValueError) as error:
        mail.parse_url("http://user:secret@mx.example.com")
    assert "secret" not in str(error.value)


def test_the_per_minute_cap_defers_with_the_wait_and_frees_after_a_minute():
    now = [1000.0]
    cap = mail.RateCap(2, clock=lambda: now[0])
    cap.take()
    now[0] += 10
    cap.take()
    with pytest.raises(mail.MailDeferred) as error:
        cap.take()
    assert error.value.retry_after == pytest.approx(50)
    now[0] += 51
    cap.take()  # the first send is more than a minute old
    mail.RateCap(0).take()  # 0: no cap


def test_a_composed_mail_parses_back_with_the_stdlib():
    from email import message_from_bytes, policy

    long_subject = "Ihre Bestellung #1001 ist bestätigt — " + "sehr lang " * 8
    composed = mail.compose(
        {"From": "Jürgens Laden <shop@example.de>", "To": "kunde@example.de",
         "Subject": long_subject, "Message-ID": "<waybill.abc@example.de>",
         "Reply-To": None, "List-Unsubscribe": "<https://example.de/u/" + "t" * 90 + ">"},
        "Hallo Jürgen,\n\n.a line with a dot\n" + "x" * 200 + "\n", "<p>Hallo &amp; tschüss</p>",
        [("lieferschein.pdf", "application/pdf", b"%PDF-1.4\n" + bytes(range(256)))])
    assert (composed.sender, composed.recipients) == ("shop@example.de", ("kunde@example.de",))
    assert b"\n" not in composed.data.replace(b"\r\n", b"") and composed.data.isascii()
    assert all(len(line) <= 998 for line in composed.data.split(b"\r\n"))
    parsed = message_from_bytes(composed.data, policy=policy.default)
    assert parsed["Subject"] == long_subject
    assert parsed["From"].addresses[0].display_name == "Jürgens Laden"
    assert "Reply-To" not in parsed and parsed["Message-ID"] == "<waybill.abc@example.de>"
    # (CRLF on the wire, as SMTP wants: the parser keeps it)
    assert parsed.get_body(("plain",)).get_content().replace("\r\n", "\n") == \
        "Hallo Jürgen,\n\n.a line with a dot\n" + "x" * 200 + "\n"
    assert parsed.get_body(("html",)).get_content().strip() == "<p>Hallo &amp; tschüss</p>"
    (attachment,) = parsed.iter_attachments()
    assert attachment.get_filename() == "lieferschein.pdf"
    assert attachment.get_content() == b"%PDF-1.4\n" + bytes(range(256))
    several = mail.compose({"From": "a@example.com", "To": "Ann <ann@x.io>, bob@y.io"}, "hi")
    assert several.recipients == ("ann@x.io", "bob@y.io")
