from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from connectors.errors import InvalidPayload
from connectors.parsing import money, parse_time, unit_price

UTC = timezone.utc


@pytest.mark.parametrize("value,expected", [
    ("19940", Decimal("19940")), ("0.9", Decimal("0.9")), ("20.2", Decimal("20.2")), ("-10.00", Decimal("-10.00")),
    ("1.569521782042E9", Decimal("1569521782.042")), (12, Decimal("12")), (12.99, Decimal("12.99")),
    (0.1, Decimal("0.1")), (" 3.50 ", Decimal("3.50")),
])
def test_money(value, expected):
    result = money(value)
    assert isinstance(result, Decimal) and result == expected


@pytest.mark.parametrize("value", ["12,50", "N/A", True, [1], "NaN", "Infinity"])
def test_bad_money(value):
    with pytest.raises(InvalidPayload):
        money(value, "total")


def test_empty_money_is_default():
    assert money("", default=None) is None and money(None, default=Decimal(0)) == 0


@pytest.mark.parametrize("value,kwargs,expected", [
    ("2008-01-10T11:00:00-05:00", {}, datetime(2008, 1, 10, 16, 0, tzinfo=UTC)),
    ("2017-01-20T19:49:35Z", {}, datetime(2017, 1, 20, 19, 49, 35, tzinfo=UTC)),
    ("2017-01-20T19:49:35.000Z", {}, datetime(2017, 1, 20, 19, 49, 35, tzinfo=UTC)),
    ("2017-03-22T19:28:02", {"naive_is_utc": True}, datetime(2017, 3, 22, 19, 28, 2, tzinfo=UTC)),
    ("2024-05-01 10:00:00+0200", {}, datetime(2024, 5, 1, 8, 0, tzinfo=UTC)),
    (1569521782, {}, datetime(2019, 9, 26, 18, 16, 22, tzinfo=UTC)),
])
def test_times_are_aware_utc(value, kwargs, expected):
    result = parse_time(value, **kwargs)
    assert result == expected and result.tzinfo == UTC


def test_naive_time_without_rule_is_refused():
    with pytest.raises(InvalidPayload, match="no time zone"):
        parse_time("2017-03-22T16:28:02", "date_created")


def test_unit_price_from_line_total():
    assert unit_price(Decimal("29.97"), 3) == Decimal("9.99")
    assert unit_price(Decimal("1990"), 2) == Decimal("995")
    assert unit_price(Decimal("10.00"), 3) == Decimal("3.333333")
    assert unit_price(Decimal("17.95"), 2) == Decimal("8.975")  # exact, not 8.98
    assert unit_price(Decimal("12.345"), 5) == Decimal("2.469")  # KWD
    assert unit_price(Decimal("0"), 0) == Decimal("0")
