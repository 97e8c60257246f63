"""What a channel may send that the database cannot store, found before it is written.

A channel's order is untrusted input. A value that does not fit its column — an id longer
than the column, a number like 10**70 in an integer or money column, a string with NUL
(PostgreSQL's text cannot hold it) or a lone surrogate (not UTF-8) — would make the
database refuse the write. Refused inside a savepoint that costs one order; refused at the
commit, or while writing the sync conflict meant to keep it, it sank the whole page every
run. So:

- ``order_problems(normalized)`` checks a normalised order against the columns it is
  written to (lengths, integer ranges and numeric precision read from the models, not
  repeated here) and names each value that does not fit: the import quarantines such an
  order before writing anything (importing.import_order, bulk_prepare.prepare);
- ``json_payload(raw)`` turns any payload into JSON every database and page can hold:
  NUL and lone surrogates escaped as text (``\\u0000``), non-finite numbers as strings,
  nesting deeper than ``MAX_DEPTH`` kept as its JSON text;
- ``clip(text, column)`` and ``clean_text`` make the few columns of a sync conflict
  itself (external id, error) always writable.
"""
from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from typing import Any, Iterable

from sqlalchemy import Integer, Numeric, String
from sqlalchemy.types import TypeDecorator

from app.services.core.jsonable import to_jsonable

INT32 = (-2**31, 2**31 - 1)
MAX_DEPTH = 64
# In ASCII JSON (json.dumps' default) NUL and surrogates only ever appear as escapes, and
# non-finite floats as bare Infinity / NaN. Plain substring tests (a regular expression
# scanning a whole payload cost more than the import's own encoding); a false alarm (a
# string that happens to hold such text) only takes the slow path, which changes nothing.
_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


def _suspect(encoded: str) -> bool:
    return (("\\u" in encoded and _ESCAPE.search(encoded) is not None)
            or "Infinity" in encoded or "NaN" in encoded)


_BAD_CHARS = re.compile("[\x00\ud800-\udfff]")


class Unstorable(ValueError):
    """A channel value that does not fit the column it is written to."""


# --- text ----------------------------------------------------------------------------------

def bad_text(value: str) -> str | None:
    """Why a string cannot be stored in a text column, or None."""
    found = _BAD_CHARS.search(value)
    if found is None:
        return None
    return "contains NUL (\\u0000)" if found.group() == "\x00" else "contains a lone surrogate"


def clean_text(value: str | None) -> str | None:
    """The string with NUL and lone surrogates written as escapes (``\\u0000``)."""
    if value is None or _BAD_CHARS.search(value) is None:
        return value
    return _BAD_CHARS.sub(lambda m: f"\\u{ord(m.group()):04x}", value)


def clip(value: Any, column) -> str | None:
    """``value`` as a string that fits ``column`` (a String column): cleaned, truncated."""
    if value is None:
        return None
    text = clean_text(str(value))
    length = getattr(column.type, "length", None)
    if length and len(text) > length:
        text = text[:length - 1] + "…"
    return text


# --- JSON ----------------------------------------------------------------------------------

def json_payload(raw: Any, encoded: str | None = None):
    """``raw`` as JSON any database and page can hold (see the module docstring).

    ``encoded``: the payload's ASCII JSON when the caller has it already (the import
    hashes it: importing.encode_payload); then the common case — nothing to escape — costs
    one regular-expression scan more than ``to_jsonable``."""
    try:
        value = to_jsonable(raw)
    except RecursionError:  # parsed, but too deep to walk recursively: kept as its text
        return {"too_deep": clean_text(_deep_text(raw))}
    if encoded is None:
        try:
            encoded = json.dumps(value)
        except (ValueError, RecursionError, TypeError):
            return _escape(value, 0)
    return _escape(value, 0) if _suspect(encoded) else value


def _escape(value, depth: int):
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (dict, list)) and depth >= MAX_DEPTH:
        return {"too_deep": clean_text(_deep_text(value))}
    if isinstance(value, dict):
        return {clean_text(str(k)): _escape(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_escape(v, depth + 1) for v in value]
    return value


def _deep_text(value) -> str:
    """JSON text of a structure too deep to keep as JSON (iterative: no recursion limit)."""
    out, stack = [], [value]
    while stack:
        item = stack.pop()
        if isinstance(item, _Token):
            out.append(item.text)
        elif isinstance(item, dict):
            parts: list = [_Token("{")]
            for i, (k, v) in enumerate(item.items()):
                parts += ([_Token(",")] if i else []) + [_Token(json.dumps(str(k)) + ":"), v]
            stack.extend(reversed(parts + [_Token("}")]))
        elif isinstance(item, list):
            parts = [_Token("[")]
            for i, v in enumerate(item):
                parts += ([_Token(",")] if i else []) + [v]
            stack.extend(reversed(parts + [_Token("]")]))
        else:
            out.append(json.dumps(to_jsonable(item), default=str))
    return "".join(out)


class _Token:
    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text


# --- a normalised order against its columns ---------------------------------------------------

def _column_type(column):
    """The type the database column has: a TypeDecorator's (Money, UnitPrice) is its impl's."""
    kind = column.type
    return kind.impl_instance if isinstance(kind, TypeDecorator) else kind


def value_problem(value: Any, column) -> str | None:
    """Why ``value`` does not fit ``column`` (its type read from the model), or None."""
    if value is None:
        return None
    kind = _column_type(column)
    if isinstance(value, str):
        problem = bad_text(value)
        if problem:
            return problem
        length = getattr(kind, "length", None)
        if isinstance(kind, String) and length and len(value) > length:
            return f"is {len(value)} characters long, at most {length} fit"
        return None
    if isinstance(kind, Integer) and isinstance(value, int) and not isinstance(value, bool):
        if not INT32[0] <= value <= INT32[1]:
            return f"{_short(value)} is out of range"
        return None
    if isinstance(kind, Numeric) and isinstance(value, (Decimal, int, float)):
        return _numeric_problem(Decimal(str(value)), kind)
    return None


def _numeric_problem(value: Decimal, kind: Numeric) -> str | None:
    if not value.is_finite():
        return f"{value} is not a finite amount"
    if kind.precision is None:
        return None
    integer_digits = kind.precision - (kind.scale or 0)
    if value != 0 and value.adjusted() >= integer_digits:
        return f"{_short(value)} is too large (at most {integer_digits} digits before the point)"
    return None


def _short(value) -> str:
    text = str(value)
    return text if len(text) <= 24 else f"{text[:10]}…({len(text)} digits)"


def text_problems(value: Any, where: str) -> Iterable[str]:
    """Strings with NUL or lone surrogates anywhere in a JSON-like value (keys too)."""
    stack = [(where, value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            problem = bad_text(item)
            if problem:
                yield f"{path} {problem}"
        elif isinstance(item, dict):
            for key, sub in item.items():
                if isinstance(key, str) and bad_text(key):
                    yield f"{path} has a key that {bad_text(key)}"
                stack.append((f"{path}.{key}", sub))
        elif isinstance(item, (list, tuple)):
            stack.extend((f"{path}[{i}]", sub) for i, sub in enumerate(item))


_ORDER_FIELDS = (
    "external_id", "order_number", "currency", "email", "customer_name", "financial_status",
    "channel_status", "shipping_method", "cancel_reason", "subtotal", "shipping_total",
    "tax_total", "discount_total", "total")
_LINE_FIELDS = {"external_id": "external_id", "sku": "sku", "title": "title",
                "quantity": "quantity", "quantity_cancelled": "quantity_cancelled",
                "unit_price": "unit_price", "tax": "tax", "discount": "discount"}
_REFUND_FIELDS = {"external_id": "external_id", "amount": "amount", "reason": "reason"}
_columns_cache: dict | None = None


def _columns() -> dict:
    """{"order"|"line"|"refund": [(field, checker)], "phone": checker}: one checker per
    column, built once from the models' column types."""
    global _columns_cache
    if _columns_cache is None:
        from app.models import Customer, Order, OrderLine, Refund

        _columns_cache = {
            "order": [(f, _checker(Order.__table__.c[f])) for f in _ORDER_FIELDS],
            "line": [(f, _checker(OrderLine.__table__.c[c])) for f, c in _LINE_FIELDS.items()],
            "refund": [(f, _checker(Refund.__table__.c[c])) for f, c in _REFUND_FIELDS.items()],
            "phone": _checker(Customer.__table__.c.phone),
        }
    return _columns_cache


def _checker(column):
    """A fast ``value -> problem or None`` for one column (the import's hot path: the
    common case is a couple of type checks and comparisons)."""
    kind = _column_type(column)
    length = getattr(kind, "length", None) if isinstance(kind, String) else None
    if isinstance(kind, Numeric) and kind.precision is not None:
        limit = Decimal(10) ** (kind.precision - (kind.scale or 0))
    else:
        limit = None
    integer = isinstance(kind, Integer)

    def check(value):
        kind_of = type(value)
        if kind_of is str:
            if (length and len(value) > length) or _BAD_CHARS.search(value):
                return value_problem(value, column)
        elif kind_of is Decimal and limit is not None:
            if not value.is_finite() or abs(value) >= limit:
                return value_problem(value, column)
        elif kind_of is int and (integer or limit is not None):
            if not INT32[0] <= value <= INT32[1] or (limit is not None and abs(value) >= limit):
                return value_problem(value, column)
        elif value is not None and kind_of not in (bool, float, str, int, Decimal):
            return None
        elif kind_of is float and limit is not None:
            return value_problem(value, column)
        return None

    return check


def order_problems(normalized) -> list[str]:
    """Each value of a normalised order that its column cannot hold, named by field."""
    columns = _columns()
    problems: list[str] = []
    for field, check in columns["order"]:
        problem = check(getattr(normalized, field))
        if problem:
            problems.append(f"{field} {problem}")
    if normalized.shipping_address is not None:
        problem = columns["phone"](normalized.shipping_address.phone)
        if problem:
            problems.append(f"shipping_address.phone {problem}")
    for i, line in enumerate(normalized.lines or ()):
        for field, check in columns["line"]:
            problem = check(getattr(line, field))
            if problem:
                problems.append(f"lines[{i}].{field} {problem}")
    for i, refund in enumerate(normalized.refunds or ()):
        for field, check in columns["refund"]:
            problem = check(getattr(refund, field))
            if problem:
                problems.append(f"refunds[{i}].{field} {problem}")
    for field in ("shipping_address", "billing_address"):
        address = getattr(normalized, field)
        if address is not None:
            values = address.__dict__
            if _BAD_CHARS.search("".join(v for v in values.values() if type(v) is str)):
                problems += text_problems(values, field)
    if normalized.tags and _BAD_CHARS.search("".join(t for t in normalized.tags if type(t) is str)):
        problems += text_problems(list(normalized.tags), "tags")
    if normalized.risk:
        problems += text_problems(normalized.risk, "risk")
    return problems


def check_order(normalized) -> None:
    """Raise ``Unstorable`` naming every value of the order that its column cannot hold."""
    problems = order_problems(normalized)
    if problems:
        raise Unstorable("cannot be stored: " + "; ".join(problems[:10]))
