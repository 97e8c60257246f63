"""Rules editor (Operations write, everyone reads) with its dry run and history, and the review
queue (Support) with approve/reject one by one and in bulk."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.models import Order, Rule, RuleVersion
from app.services.lifecycle import rules

from .conftest import ROLES, post

CONDITION = {"cond_field": ["quantity", ""], "cond_op": ["gte", ""], "cond_value": ["5", ""]}


def form(**extra):
    data = {"name": "Bulk buyers", "stage": "on_import", "match": "all", "description": "",
            **CONDITION, "act_type": ["add_tag", "review"], "act_value": ["bulk", "call them"],
            "submit": "save"}
    data.update(extra)
    return data


def count(session, model):
    return session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def big_order(make, shop):
    return make.order(shop.channel, [("SKU-1", 6, "1.00")], email="bulk@example.com")


@pytest.mark.parametrize("role", ROLES)
def test_pages_per_role(client_for, shop, session, actor, role):
    rule = rules.create_rule(session, {
        "name": "R", "conditions": [{"field": "country", "op": "eq", "value": "US"}],
        "actions": [{"type": "add_tag", "value": "us"}]}, actor())
    client = client_for(role)
    writes = role in ("admin", "operations")
    reviews = role in ("admin", "support")
    assert client.get("/rules/list/").status_code == 200
    assert client.get(f"/rules/show/{rule.id}").status_code == 200
    assert client.get("/rules/add/").status_code == (200 if writes else 403)
    assert client.get(f"/rules/edit/{rule.id}").status_code == (200 if writes else 403)
    assert post(client, f"/rules/{rule.id}/enable").status_code == (302 if writes else 403)
    assert client.get("/review/list/").status_code == (200 if reviews else 403)
    menu = client.get("/orders/list/").get_data(as_text=True)
    assert "/rules/list/" in menu
    assert ("/review/list/" in menu) == reviews
    assert ("/settings/" in menu) == (role in ("admin", "operations"))


def test_create_from_the_form_starts_disabled_with_a_dry_run(client_for, session, shop,
                                                              big_order):
    client = client_for("operations")
    response = post(client, "/rules/add/", form())
    assert response.status_code == 302
    rule = session.scalars(select(Rule)).one()
    assert response.headers["Location"].endswith(f"/rules/edit/{rule.id}")
    assert rule.enabled is False and rule.conditions == [
        {"field": "quantity", "op": "gte", "value": 5}]
    assert rule.actions == [{"type": "add_tag", "value": "bulk"},
                            {"type": "review", "value": "call them"}]
    page = client.get(f"/rules/edit/{rule.id}").get_data(as_text=True)
    assert "would match <strong>1</strong> of the last 2 orders" in page
    assert big_order.order_number in page and "add tag &#39;bulk&#39;" in page
    assert "Enable the saved rule" in page

    response = post(client, f"/rules/{rule.id}/enable", {"next": f"/rules/edit/{rule.id}"})
    assert response.headers["Location"].endswith(f"/rules/edit/{rule.id}")
    session.refresh(rule)
    assert rule.enabled and rule.version == 2


def test_dry_run_of_the_form_saves_nothing(client_for, session, shop, big_order):
    client = client_for("operations")
    response = post(client, "/rules/add/", form(name="", submit="dry_run"))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "would match <strong>1</strong>" in page and big_order.order_number in page
    assert count(session, Rule) == 0 and count(session, RuleVersion) == 0
    assert session.get(Order, big_order.id).tags == []


def test_invalid_rule_shows_field_errors_and_stores_nothing(client_for, session, shop):
    client = client_for("operations")
    response = post(client, "/rules/add/", form(cond_value=["many", ""],
                                                act_type=["set_priority"], act_value=["x"]))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "must be a whole number" in page
    assert 'value="many"' in page  # the form keeps what was typed
    assert count(session, Rule) == 0


def test_edit_move_history_and_delete(client_for, session, shop, actor):
    ops = actor("operations")
    a = rules.create_rule(session, {"name": "A", "conditions": [
        {"field": "country", "op": "eq", "value": "US"}], "actions": [
        {"type": "add_tag", "value": "a"}]}, ops)
    b = rules.create_rule(session, {"name": "B", "conditions": [
        {"field": "country", "op": "eq", "value": "US"}], "actions": [
        {"type": "add_tag", "value": "b"}]}, ops)
    client = client_for("operations")
    response = post(client, f"/rules/edit/{a.id}", form(name="A renamed", version="1"))
    assert response.status_code == 302
    stale = post(client, f"/rules/edit/{a.id}", form(name="A again", version="1"))
    assert stale.status_code == 409 and "Someone else changed" in stale.get_data(as_text=True)
    post(client, f"/rules/{b.id}/move", {"direction": "up"})
    listing = client.get("/rules/list/").get_data(as_text=True)
    assert listing.index(">B<") < listing.index(">A renamed<")
    history = client_for("viewer").get(f"/rules/show/{a.id}").get_data(as_text=True)
    assert "user:operations" in history and "<td>reorder</td>" in history and "A renamed" in history
    assert post(client, f"/rules/{a.id}/delete").status_code == 302
    assert "A renamed" not in client.get("/rules/list/").get_data(as_text=True)
    assert client.get(f"/rules/show/{a.id}").status_code == 404
    assert [v.change for v in rules.versions(session, a.id)][0] == "delete"


def test_rule_hits_show_in_the_order_timeline(client_for, session, shop, make, actor):
    rule = rules.create_rule(session, {"name": "Tag big", "conditions": [
        {"field": "quantity", "op": "gte", "value": "3"}], "actions": [
        {"type": "add_tag", "value": "big"}]}, actor())
    rules.set_enabled(session, rule.id, True, actor())
    order = make.order(shop.channel, [("SKU-1", 3, "1.00")])
    page = client_for("viewer").get(f"/orders/show/{order.id}").get_data(as_text=True)
    assert "Rule Tag big fired: tagged &#39;big&#39;" in page


# --- review queue ---------------------------------------------------------------------------

@pytest.fixture
def under_review(make, shop):
    return [make.order(shop.channel, [("SKU-1", 1, "6000")], email=f"r{i}@example.com")
            for i in range(3)]


def test_queue_lists_orders_with_reasons(client_for, under_review, shop):
    page = client_for("support").get("/review/list/").get_data(as_text=True)
    for order in under_review:
        # Each order once (its link, its row with who and how much), its actions under it.
        assert page.count(f'href="/orders/show/{order.id}"') == 1
        row = page[page.index(f'id="review-{order.id}"'):]
        row, actions = row.split('class="oms-review-actions"', 1)
        assert order.email in row and "6,000.00" in row and "above the review threshold" in row
        actions = actions.split('class="oms-review-order"', 1)[0]
        assert f"/review/{order.id}/approve" in actions and f"/review/{order.id}/reject" in actions
        assert f'name="ids" value="{order.id}" form="oms-review-bulk"' in row
    assert shop.order.order_number not in page  # allocated, nothing to review


def test_approve_and_reject_one_by_one(client_for, session, under_review):
    client = client_for("support")
    first, second, _ = under_review
    response = post(client, f"/review/{first.id}/approve", {"note": "known buyer"})
    assert response.status_code == 302
    assert session.get(Order, first.id).status == "allocated"
    page = client.get("/review/list/").get_data(as_text=True)
    assert "approved: allocated" in page
    assert f'href="/orders/show/{first.id}"><strong>' not in page
    post(client, f"/review/{second.id}/reject", {"reason": ""})
    assert "Enter a reason" in client.get("/review/list/").get_data(as_text=True)
    assert session.get(Order, second.id).status == "new"
    post(client, f"/review/{second.id}/reject", {"reason": "chargeback risk"})
    order = session.get(Order, second.id)
    assert order.status == "cancelled" and order.cancel_reason == "rejected in review: chargeback risk"


def test_bulk_summary_says_what_failed_and_why(client_for, session, under_review, shop):
    client = client_for("support")
    ids = [str(o.id) for o in under_review[:2]] + [str(shop.order.id)]
    response = post(client, "/review/bulk", {"action": "approve", "ids": ids, "text": "ok"},
                    follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Approved 2 of 3" in page
    number = shop.order.order_number
    assert f"Not approved: 1 of 3 — {number}: Order {number} is not waiting for review" in page
    response = post(client, "/review/bulk", {"action": "reject", "ids": [str(under_review[2].id)]},
                    follow_redirects=True)
    assert "Enter a reason" in response.get_data(as_text=True)
    response = post(client, "/review/bulk", {"action": "reject", "text": "fraud",
                                             "ids": [str(under_review[2].id)]},
                    follow_redirects=True)
    assert "Rejected 1 of 1" in response.get_data(as_text=True)
    assert session.get(Order, under_review[2].id).status == "cancelled"


def test_review_actions_refused_without_amend(client_for, session, under_review):
    for role in ("operations", "warehouse", "viewer"):
        client = client_for(role)
        assert post(client, f"/review/{under_review[0].id}/approve").status_code == 403
        assert post(client, "/review/bulk", {"action": "approve",
                                             "ids": [str(under_review[0].id)]}).status_code == 403
    assert session.get(Order, under_review[0].id).status == "new"
