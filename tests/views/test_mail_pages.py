"""The mail log and the templates in the UI and the API: a shipped mail readable as the
customer sees it, resend from the order page and POST /api/v1/order/<pk>/resend (Support
yes, Warehouse no), /api/v1/notification/, a template preview on a real order and a
template error refused at save, channel switches, the public opt-out link."""
from __future__ import annotations


from sqlalchemy import select

from app.models import MailOptOut, MailTemplate
from app.models.notifications import OutboxMessage
from app.services.notify import customer_mail
from tests.services.test_customer_mail import mails, send, ship, shop  # noqa: F401


def _shipped(session, make, shop):  # noqa: F811
    order = make.order(shop, [("SKU-1", 1, "9.99")])
    ship(session, order.id)
    send()
    return order


def test_the_mail_log_shows_the_mail_and_support_resends_it(
        session, make, shop, client_for, api_headers):  # noqa: F811
    order = _shipped(session, make, shop)
    (mail,) = mails(session)
    support = client_for("support")
    page = support.get("/mail-log/list/").get_data(as_text=True)
    assert "has shipped" in page and "buyer@example.com" in page
    shown = support.get(f"/mail-log/show/{mail.id}").get_data(as_text=True)
    assert "JD0001" in shown and 'sandbox=""' in shown
    assert "&lt;a href=" in shown and "tracking-id=JD0001" in shown  # escaped in srcdoc
    order_page = support.get(f"/orders/show/{order.id}").get_data(as_text=True)
    assert "Customer mails" in order_page and "Resend" in order_page
    response = support.post(f"/orders/{order.id}/resend", data={
        "csrf_token": support.csrf_token, "notification_id": mail.id, "to": "me@example.com"})
    assert response.status_code == 302
    api = client_for(None)
    answer = api.post(f"/api/v1/order/{order.id}/resend", json={"event": "shipped"},
                      headers=api_headers("support"))
    assert answer.status_code == 202, answer.get_data(as_text=True)
    refused = api.post(f"/api/v1/order/{order.id}/resend", json={"event": "shipped"},
                       headers=api_headers("warehouse"))
    assert refused.status_code == 403
    bad = api.post(f"/api/v1/order/{order.id}/resend", json={"event": "x", "to": "nope"},
                   headers=api_headers("support"))
    assert bad.status_code == 422 and "event" in bad.json["errors"]
    send()
    listed = api.get("/api/v1/notification/", headers=api_headers("operations")).json
    assert listed["count"] == 3
    assert {r["to_address"] for r in listed["result"]} == {"buyer@example.com",
                                                           "me@example.com"}
    assert api.get("/api/v1/notification/", headers=api_headers("warehouse")).status_code == 403


def test_templates_preview_on_a_real_order_and_refuse_an_error_at_save(
        session, make, shop, client_for):  # noqa: F811
    order = _shipped(session, make, shop)
    ops = client_for("operations")
    assert "shipped" in ops.get("/mail-templates/list/").get_data(as_text=True)
    preview = ops.post("/mail-templates/edit/shipped/de", data={
        "csrf_token": ops.csrf_token, "order": order.order_number,
        "subject": "Unterwegs: {{ order.number }}", "html": "<p>{{ shipment.tracking_url }}</p>",
        "text": "{{ customer_name }}"}).get_data(as_text=True)
    assert f"Unterwegs: {order.order_number}" in preview and "tracking-id=JD0001" in preview
    broken = ops.post("/mail-templates/save/shipped/de", data={
        "csrf_token": ops.csrf_token, "subject": "{% if %}", "html": "x", "text": "x"},
        follow_redirects=True).get_data(as_text=True)
    assert "TemplateSyntaxError" in broken
    assert session.scalar(select(MailTemplate)) is None
    ops.post("/mail-templates/save/shipped/de", data={
        "csrf_token": ops.csrf_token, "subject": "Unterwegs", "html": "x", "text": "x"})
    session.rollback()
    assert session.scalar(select(MailTemplate.subject)) == "Unterwegs"
    viewer = client_for("viewer")
    assert viewer.post("/mail-templates/save/shipped/de", data={
        "csrf_token": viewer.csrf_token, "subject": "x", "html": "x",
        "text": "x"}).status_code in (302, 403)
    session.rollback()
    assert session.scalar(select(MailTemplate.subject)) == "Unterwegs"
    ops.post(f"/mail-templates/channel/{shop.id}", data={
        "csrf_token": ops.csrf_token, "events": ["delivered"], "default_language": "de"})
    session.rollback()
    assert customer_mail.events_on(session, shop) == {"delivered"}


def test_the_opt_out_link_asks_on_get_and_records_on_post(session, make, shop, client_for):  # noqa: F811
    _shipped(session, make, shop)
    (mail,) = mails(session)
    link = mail.text_body.split("Unsubscribe from these mails: ")[1].split()[0]
    path = link.split("localhost:8080")[-1] if "localhost" in link else link
    anonymous = client_for(None)
    assert anonymous.get(path).status_code == 200
    session.rollback()
    assert session.scalar(select(MailOptOut)) is None  # a GET changes nothing
    assert "Done" in anonymous.post(path).get_data(as_text=True)
    assert anonymous.post(path + "x").status_code == 404
    session.rollback()
    assert session.scalar(select(MailOptOut.email)) == "buyer@example.com"
    assert session.scalar(select(OutboxMessage.id).where(
        OutboxMessage.dedupe_key.like("mail:delayed:%"))) is None


def test_the_opt_out_page_is_rate_limited_per_address(app, client_for):
    from app import mail_public

    mail_public.LIMIT.clear()
    app.config["OMS_MAIL_PUBLIC_LIMIT"] = 3
    try:
        anonymous = client_for(None)
        codes = [anonymous.get("/mail/unsubscribe/nope").status_code for _ in range(4)]
    finally:
        app.config.pop("OMS_MAIL_PUBLIC_LIMIT")
        mail_public.LIMIT.clear()
    assert codes == [404, 404, 404, 429]


def test_a_channel_s_own_template_is_edited_and_dropped_in_the_ui(
        session, make, shop, client_for):  # noqa: F811
    ops = client_for("operations")
    page = ops.get(f"/mail-templates/edit/shipped/en?channel={shop.id}").get_data(as_text=True)
    assert "has none of its own" in page  # shows the template that applies meanwhile
    ops.post("/mail-templates/save/shipped/en", data={
        "csrf_token": ops.csrf_token, "channel": shop.id, "subject": "Ours", "html": "x",
        "text": "x"})
    session.rollback()
    row = session.scalar(select(MailTemplate))
    assert (row.channel_id, row.subject) == (shop.id, "Ours")
    assert "own: shop" in ops.get("/mail-templates/list/").get_data(as_text=True)
    assert ops.get("/mail-templates/edit/shipped/en?channel=99999").status_code == 404
    viewer = client_for("viewer")
    assert viewer.post("/mail-templates/reset/shipped/en", data={
        "csrf_token": viewer.csrf_token, "channel": shop.id}).status_code in (302, 403)
    session.rollback()
    assert session.scalar(select(MailTemplate)) is not None
    ops.post("/mail-templates/reset/shipped/en", data={
        "csrf_token": ops.csrf_token, "channel": shop.id})
    session.rollback()
    assert session.scalar(select(MailTemplate)) is None
