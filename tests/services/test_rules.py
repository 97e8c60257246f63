"""Rules: every field and operator, validation naming the field, versions of every change,
position order and stop_processing, the timeline, and a dry run that writes nothing."""
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.models import Order, OrderEvent, OrderHold, Rule, RuleVersion
from app.services.core import fx
from app.services.orders import actions as orders
from app.services.lifecycle import pipeline
from app.services.lifecycle import rules
from app.services.core.errors import NotFound, StaleVersion, ValidationFailed
from app.services.lifecycle.rules import Facts, condition_matches


@pytest.fixture
def shop(make):
    wh = make.warehouse("W1", "US")
    make.warehouse("W2", "US")
    make.product("A-1", stock={wh: 100})
    make.product("B-2", stock={wh: 100})
    return make.channel("web")


def rule_data(conditions, actions, **extra):
    data = {"name": extra.pop("name", "Rule"), "stage": "on_import", "match": "all",
            "conditions": conditions, "actions": actions}
    data.update(extra)
    return data


def enabled_rule(session, actor, conditions, actions, **extra):
    rule = rules.create_rule(session, rule_data(conditions, actions, **extra), actor())
    return rules.set_enabled(session, rule.id, True, actor())


def count(session, model, *where):
    return session.scalar(select(func.count()).select_from(model).where(*where))


# --- every field and operator ---------------------------------------------------------------

def test_every_field_and_operator(session, make, shop, actor):
    fx.set_rate(session, "EUR", "1.10", actor())
    earlier = make.order(shop, [("A-1", 1, "5")], email="Ada@Example.com")
    order = make.order(shop, [("A-1", 2, "50"), ("b-2", 3, "10")], email="ada@example.com",
                       currency="EUR", shipping_method="Express Air", tags=["vip", "gift"],
                       shipping_address=None)
    order.shipping_address = {"line1": "1 Rue", "city": "Paris", "region": "Île-de-France",
                              "postcode": "75 001", "country": "FR"}
    order.ship_country = "FR"
    facts = Facts(session, order)
    assert order.total_base == Decimal("143.00")  # (100 + 30) EUR × 1.10

    def check(field, op, value=None):
        return condition_matches({"field": field, "op": op, "value": value}, facts)

    # total (base currency): numeric comparisons
    assert check("total", "gt", "143") is False and check("total", "gte", "143")
    assert check("total", "lt", "143.01") and check("total", "lte", "143")
    assert check("total", "eq", "143.00") and check("total", "ne", "1")
    # codes: case-insensitive, lists
    assert check("currency", "eq", "EUR") and check("currency", "ne", "USD")
    assert check("currency", "in", ["USD", "EUR"]) and check("currency", "not_in", ["GBP"])
    assert check("channel", "eq", "web") and check("channel", "in", ["web", "amz"])
    assert check("country", "eq", "FR") and check("country", "not_in", ["US", "CA"])
    # free text
    assert check("region", "eq", "île-de-france") and check("region", "contains", "de-fr")
    assert check("region", "starts_with", ["Île"]) and check("region", "not_in", ["Bavaria"])
    assert check("postcode", "starts_with", ["75", "92"]) and not check("postcode", "starts_with", ["92"])
    assert check("postcode", "eq", "75001")  # spaces ignored
    # SKU of any line (the channel's SKU normalised or the product's)
    assert check("sku", "contains", "B-2") and check("sku", "not_contains", "C-3")
    assert check("sku", "in", ["X", "A-1"]) and check("sku", "not_in", ["X", "Y"])
    assert check("sku", "starts_with", ["B-"])
    # counts
    assert check("line_count", "eq", 2) and check("line_count", "gt", 1)
    assert check("quantity", "eq", 5) and check("quantity", "lte", 5) and not check("quantity", "lt", 5)
    assert check("previous_orders", "eq", 1) and check("previous_orders", "gte", 1)
    assert check("first_order", "is_false") and not check("first_order", "is_true")
    assert condition_matches({"field": "first_order", "op": "is_true"}, Facts(session, earlier))
    # e-mail domain, tags, shipping method
    assert check("email_domain", "eq", "EXAMPLE.com") and check("email_domain", "in", ["example.com"])
    assert check("tags", "contains", "VIP") and check("tags", "not_contains", "wholesale")
    assert check("tags", "in", ["gift", "x"]) and check("tags", "not_in", ["x"])
    assert check("shipping_method", "contains", "express") and check("shipping_method", "starts_with", ["Exp"])
    assert check("shipping_method", "ne", "Ground")


def test_unknown_values_only_satisfy_negative_operators(session, make, shop, actor):
    order = make.order(shop, [("A-1", 1, "5")], currency="JPY")  # no rate: total_base unknown
    assert order.total_base is None
    facts = Facts(session, order)
    assert not condition_matches({"field": "total", "op": "lt", "value": "1000000"}, facts)
    assert not condition_matches({"field": "total", "op": "gt", "value": "0"}, facts)
    assert condition_matches({"field": "total", "op": "ne", "value": "0"}, facts)
    assert not condition_matches({"field": "region", "op": "eq", "value": "x"}, facts)


# --- validation -----------------------------------------------------------------------------

@pytest.mark.parametrize("conditions, actions, field", [
    ([{"field": "colour", "op": "eq", "value": "red"}], [{"type": "add_tag", "value": "x"}],
     "conditions[0].field"),
    ([{"field": "total", "op": "contains", "value": "1"}], [{"type": "add_tag", "value": "x"}],
     "conditions[0].op"),
    ([{"field": "total", "op": "gt", "value": "lots"}], [{"type": "add_tag", "value": "x"}],
     "conditions[0].value"),
    ([{"field": "quantity", "op": "gt", "value": "-1"}], [{"type": "add_tag", "value": "x"}],
     "conditions[0].value"),
    ([{"field": "country", "op": "eq", "value": "France"}], [{"type": "add_tag", "value": "x"}],
     "conditions[0].value"),
    ([{"field": "currency", "op": "in", "value": ""}], [{"type": "add_tag", "value": "x"}],
     "conditions[0].value"),
    ([{"field": "total", "op": "gt", "value": "1", "code": "__import__('os')"}],
     [{"type": "add_tag", "value": "x"}], "conditions[0].code"),
    ([], [{"type": "add_tag", "value": "x"}], "conditions"),
    ([{"field": "total", "op": "gt", "value": "1"}], [], "actions"),
    ([{"field": "total", "op": "gt", "value": "1"}], [{"type": "eval", "value": "1+1"}],
     "actions[0].type"),
    ([{"field": "total", "op": "gt", "value": "1"}], [{"type": "add_tag", "value": ""}],
     "actions[0].value"),
    ([{"field": "total", "op": "gt", "value": "1"}], [{"type": "set_priority", "value": "high"}],
     "actions[0].value"),
    ([{"field": "total", "op": "gt", "value": "1"}], [{"type": "ship_by_days", "value": "-2"}],
     "actions[0].value"),
    ([{"field": "total", "op": "gt", "value": "1"}],
     [{"type": "prefer_warehouses", "value": "W1, NOPE"}], "actions[0].value"),
    ([{"field": "total", "op": "gt", "value": "1"}],
     [{"type": "forbid_split"}, {"type": "forbid_split"}], "actions[1].type"),
])
def test_invalid_definitions_name_the_field(session, shop, actor, conditions, actions, field):
    with pytest.raises(ValidationFailed) as err:
        rules.create_rule(session, rule_data(conditions, actions), actor("operations"))
    assert field in err.value.errors, err.value.errors
    assert count(session, Rule) == 0 and count(session, RuleVersion) == 0


def test_name_stage_match_validated_and_all_errors_at_once(session, shop, actor):
    rules.create_rule(session, rule_data([{"field": "total", "op": "gt", "value": "1"}],
                                         [{"type": "add_tag", "value": "x"}], name="Taken"),
                      actor())
    with pytest.raises(ValidationFailed) as err:
        rules.create_rule(session, {"name": "Taken", "stage": "later", "match": "most",
                                    "conditions": [{"field": "sku", "op": "gt", "value": "1"}],
                                    "actions": [{"type": "hold"}]}, actor())
    assert {"name", "stage", "match", "conditions[0].op"} <= set(err.value.errors)


def test_values_are_normalised_when_saved(session, shop, actor):
    rule = rules.create_rule(session, rule_data(
        [{"field": "country", "op": "in", "value": "us, ca"},
         {"field": "total", "op": "gte", "value": 100},
         {"field": "first_order", "op": "is_true", "value": "ignored"}],
        [{"type": "exclude_warehouses", "value": "w2, w2"},
         {"type": "set_priority", "value": "5"}]), actor())
    assert rule.conditions == [{"field": "country", "op": "in", "value": ["US", "CA"]},
                               {"field": "total", "op": "gte", "value": "100"},
                               {"field": "first_order", "op": "is_true", "value": None}]
    assert rule.actions == [{"type": "exclude_warehouses", "value": ["W2"]},
                            {"type": "set_priority", "value": 5}]
    assert rule.enabled is False  # enabled only after a dry run, on purpose


# --- versions -------------------------------------------------------------------------------

def test_every_change_is_a_version(session, shop, actor):
    ops = actor("operations")
    a = rules.create_rule(session, rule_data([{"field": "total", "op": "gt", "value": "1"}],
                                             [{"type": "add_tag", "value": "a"}], name="A"), ops)
    b = rules.create_rule(session, rule_data([{"field": "total", "op": "gt", "value": "1"}],
                                             [{"type": "add_tag", "value": "b"}], name="B"), ops)
    rules.update_rule(session, a.id, {**rules.snapshot(a), "name": "A2"}, ops,
                      expected_version=1)
    rules.update_rule(session, a.id, rules.snapshot(a), ops)  # no change: no version
    rules.set_enabled(session, a.id, True, ops)
    rules.set_enabled(session, a.id, False, actor("admin"))
    rules.move(session, b.id, "up", ops)
    assert [r.name for r in rules.list_rules(session)] == ["B", "A2"]
    rules.delete_rule(session, a.id, ops)

    history = rules.versions(session, a.id)
    assert [v.change for v in history] == ["delete", "reorder", "disable", "enable", "update",
                                           "create"]
    assert [v.version for v in history] == [6, 5, 4, 3, 2, 1]
    assert history[-1].before is None and history[-1].after["name"] == "A"
    assert history[-2].before["name"] == "A" and history[-2].after["name"] == "A2"
    assert rules.changed_fields(history[-2]) == ["name"]
    assert history[3].actor == "user:operations" and history[2].actor == "user:admin"
    assert history[0].after is None and history[0].before["name"] == "A2"
    assert history[0].created_at is not None
    assert [v.change for v in rules.versions(session, b.id)] == ["reorder", "create"]
    # deleted: gone from the list and from evaluation, history kept, name free again
    assert [r.name for r in rules.list_rules(session)] == ["B"]
    with pytest.raises(NotFound):
        rules.get_rule(session, a.id)
    rules.create_rule(session, rule_data([{"field": "total", "op": "gt", "value": "1"}],
                                         [{"type": "add_tag", "value": "a"}], name="A2"), ops)


def test_stale_edit_is_refused(session, shop, actor):
    rule = rules.create_rule(session, rule_data([{"field": "total", "op": "gt", "value": "1"}],
                                                [{"type": "add_tag", "value": "a"}]), actor())
    rules.set_enabled(session, rule.id, True, actor())
    with pytest.raises(StaleVersion):
        rules.update_rule(session, rule.id, {**rules.snapshot(rule), "name": "B"}, actor(),
                          expected_version=1)
    assert session.get(Rule, rule.id).name == "Rule"


def test_reorder_keeps_positions_of_unlisted_rules(session, shop, actor):
    made = [rules.create_rule(session, rule_data(
        [{"field": "total", "op": "gt", "value": "1"}], [{"type": "add_tag", "value": n}],
        name=n), actor()) for n in "ABCD"]
    rules.reorder(session, [made[2].id, made[0].id], actor())
    assert [r.name for r in rules.list_rules(session)] == ["C", "B", "A", "D"]
    with pytest.raises(ValidationFailed):
        rules.reorder(session, [made[0].id, made[0].id], actor())


# --- evaluation -----------------------------------------------------------------------------

def test_rules_fire_in_order_on_import_and_show_in_the_timeline(session, make, shop, actor):
    enabled_rule(session, actor, [{"field": "sku", "op": "contains", "value": "A-1"}],
                 [{"type": "add_tag", "value": "has-a"}, {"type": "set_priority", "value": 7},
                  {"type": "prefer_warehouses", "value": "W2"},
                  {"type": "exclude_warehouses", "value": "W1"}, {"type": "forbid_split"},
                  {"type": "ship_by_days", "value": 1}], name="Tag A")
    enabled_rule(session, actor, [{"field": "quantity", "op": "gte", "value": 10}],
                 [{"type": "hold", "value": "bulk buyer: call first"}], name="Bulk")
    order = make.order(shop, [("A-1", 12, "5")])
    assert order.tags == ["has-a"] and order.priority == 7
    assert rules.routing(order) == {"prefer_warehouses": ["W2"], "exclude_warehouses": ["W1"],
                                    "forbid_split": True}
    assert order.ship_by == order.placed_at + timedelta(days=1)
    assert [(h.reason, h.note) for h in order.open_holds] == [("rule", "bulk buyer: call first")]
    assert order.status == "new"  # held before allocation
    fired = session.scalars(select(OrderEvent).where(
        OrderEvent.order_id == order.id, OrderEvent.type == "rule_fired")
        .order_by(OrderEvent.id)).all()
    assert [e.data["rule"] for e in fired] == ["Tag A", "Bulk"]
    assert fired[1].message == "Rule Bulk fired: held (bulk buyer: call first)"
    assert fired[0].data["version"] == 2 and fired[0].data["actions"][0]["type"] == "add_tag"
    assert "tagged 'has-a'" in fired[0].message

    other = make.order(shop, [("B-2", 1, "5")])
    assert other.status == "allocated" and other.tags == []
    assert count(session, OrderEvent, OrderEvent.order_id == other.id,
                 OrderEvent.type == "rule_fired") == 0


def test_stop_processing_disabled_and_other_stage_rules(session, make, shop, actor):
    enabled_rule(session, actor, [{"field": "country", "op": "eq", "value": "US"}],
                 [{"type": "add_tag", "value": "first"}], name="First", stop_processing=True)
    enabled_rule(session, actor, [{"field": "country", "op": "eq", "value": "US"}],
                 [{"type": "add_tag", "value": "second"}], name="Second")
    rules.create_rule(session, rule_data([{"field": "country", "op": "eq", "value": "US"}],
                                         [{"type": "add_tag", "value": "off"}], name="Off"),
                      actor())
    enabled_rule(session, actor, [{"field": "country", "op": "eq", "value": "US"}],
                 [{"type": "add_tag", "value": "alloc"}], name="Alloc", stage="on_allocation")
    order = make.order(shop, [("A-1", 1, "5")])
    # the on_allocation stage is run by allocation (after the on_import rules)
    assert order.tags == ["first", "alloc"]
    assert rules.evaluate_for_allocation(session, order, actor())["forbid_split"] is False
    assert order.tags == ["first", "alloc"]


def test_match_any_and_review_action(session, make, shop, actor):
    enabled_rule(session, actor, [{"field": "email_domain", "op": "eq", "value": "fraud.test"},
                                  {"field": "quantity", "op": "gt", "value": 50}],
                 [{"type": "review", "value": "known bad domain or huge"}], match="any",
                 name="Suspicious")
    order = make.order(shop, [("A-1", 1, "5")], email="x@fraud.test")
    assert [(h.reason, h.note) for h in order.open_holds] == [("review", "known bad domain or huge")]


def test_releasing_a_rule_hold_does_not_run_rules_again(session, make, shop, actor):
    enabled_rule(session, actor, [{"field": "country", "op": "eq", "value": "US"}],
                 [{"type": "hold", "value": "check"}], name="Hold all")
    order = make.order(shop, [("A-1", 1, "5")])
    assert order.is_held and order.screened_at is not None
    orders.release_hold(session, order.id, actor("support"), note="checked")
    assert order.status == "allocated" and not order.is_held
    assert count(session, OrderHold, OrderHold.order_id == order.id) == 1


def test_rules_do_not_screen_an_order_twice(session, make, shop, actor):
    order = make.order(shop, [("A-1", 1, "5")])
    enabled_rule(session, actor, [{"field": "country", "op": "eq", "value": "US"}],
                 [{"type": "add_tag", "value": "late"}], name="Late")
    pipeline.process(session, order, actor())
    assert order.tags == []


# --- dry run --------------------------------------------------------------------------------

def test_dry_run_reports_and_writes_nothing(session, make, shop, actor):
    small = make.order(shop, [("A-1", 1, "5")])
    big = make.order(shop, [("A-1", 20, "5")], tags=["vip"])
    session.commit()
    before = {name: count(session, model) for name, model in
              (("events", OrderEvent), ("holds", OrderHold), ("rules", Rule),
               ("versions", RuleVersion))}
    versions_before = {o.id: o.version for o in session.scalars(select(Order))}

    result = rules.dry_run(session, rule_data(
        [{"field": "quantity", "op": "gte", "value": 10}],
        [{"type": "hold", "value": "big"}, {"type": "add_tag", "value": "vip"},
         {"type": "set_priority", "value": 3}]), last_n=200)
    assert [row.order_number for row in result.matched] == [big.order_number]
    row = result.matched[0]
    assert row.conditions == [True]
    assert row.would == ["hold: big", "set priority 3"]  # already tagged: nothing to do
    assert [r.matched for r in result.rows] == [True, False]  # newest first
    assert result.rows[1].order_id == small.id

    session.rollback()
    after = {name: count(session, model) for name, model in
             (("events", OrderEvent), ("holds", OrderHold), ("rules", Rule),
              ("versions", RuleVersion))}
    assert after == before
    assert {o.id: o.version for o in session.scalars(select(Order))} == versions_before
    assert session.get(Order, big.id).priority == 0


def test_dry_run_validates_limits_and_uses_history(session, make, shop, actor):
    for _ in range(3):
        make.order(shop, [("A-1", 1, "5")], email="same@example.com")
    make.order(shop, [("A-1", 1, "5")], email="new@example.com")
    with pytest.raises(ValidationFailed) as err:
        rules.dry_run(session, rule_data([{"field": "nope", "op": "eq", "value": 1}],
                                         [{"type": "forbid_split"}]))
    assert "conditions[0].field" in err.value.errors
    result = rules.dry_run(session, rule_data([{"field": "first_order", "op": "is_true"}],
                                              [{"type": "forbid_split"}]), last_n=3)
    assert len(result.rows) == 3
    assert [r.matched for r in result.rows] == [True, False, False]


def test_dry_run_of_a_saved_rule(session, make, shop, actor):
    make.order(shop, [("A-1", 1, "5")])
    rule = rules.create_rule(session, rule_data([{"field": "country", "op": "eq", "value": "US"}],
                                                [{"type": "add_tag", "value": "x"}]), actor())
    result = rules.dry_run_rule(session, rule.id, last_n=10)
    assert len(result.matched) == 1 and result.matched[0].would == ["add tag 'x'"]
