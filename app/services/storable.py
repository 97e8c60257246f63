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
  order before writing anything (importing.import_order, bulk_import._prepare);
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

from .jsonable import to_jsonable

INT32 = (-2**31, 2**31 - 1)
MAX_DEPTH = 64
# In ASCII JSON (json.dumps' default) NUL and surrogates only ever appear as escapes.
_SUSPECT_JSON = re.compile(r"\\u0000|\\ud[89a-f]", re.IGNORECASE)
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

def json_payload(raw: Any):
    """``raw`` as JSON any database and page can hold (see the module docstring). The fast
    case — nothing to escape — costs one C-encoded ``json.dumps``."""
    value = to_jsonable(raw)
    try:
        encoded = json.dumps(value, allow_nan=False)
    except (ValueError, RecursionError, TypeError):
        return _escape(value, 0)
    return _escape(value, 0) if _SUSPECT_JSON.search(encoded) else value


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

def value_problem(value: Any, column) -> str | None:
    """Why ``value`` does not fit ``column`` (its type read from the model), or None."""
    if value is None:
        return None
    kind = column.type
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


def order_problems(normalized) -> list[str]:
    """Each value of a normalised order that its column cannot hold, named by field."""
    from ..models import Customer, Order, OrderLine, Refund

    checks = [
        ("external_id", normalized.external_id, Order.external_id),
        ("order_number", normalized.order_number, Order.order_number),
        ("currency", normalized.currency, Order.currency),
        ("email", normalized.email, Order.email),
        ("customer_name", normalized.customer_name, Order.customer_name),
        ("financial_status", normalized.financial_status, Order.financial_status),
        ("channel_status", normalized.channel_status, Order.channel_status),
        ("shipping_method", normalized.shipping_method, Order.shipping_method),
        ("cancel_reason", normalized.cancel_reason, Order.cancel_reason),
        ("subtotal", normalized.subtotal, Order.subtotal),
        ("shipping_total", normalized.shipping_total, Order.shipping_total),
        ("tax_total", normalized.tax_total, Order.tax_total),
        ("discount_total", normalized.discount_total, Order.discount_total),
        ("total", normalized.total, Order.total),
    ]
    phone = (normalized.shipping_address.phone if normalized.shipping_address else None)
    checks.append(("shipping_address.phone", phone, Customer.phone))
    for i, line in enumerate(normalized.lines or ()):
        where = f"lines[{i}]"
        checks += [
            (f"{where}.external_id", line.external_id, OrderLine.external_id),
            (f"{where}.sku", line.sku, OrderLine.sku),
            (f"{where}.title", line.title, OrderLine.title),
            (f"{where}.quantity", line.quantity, OrderLine.quantity),
            (f"{where}.quantity_cancelled", line.quantity_cancelled, OrderLine.quantity_cancelled),
            (f"{where}.unit_price", line.unit_price, OrderLine.unit_price),
            (f"{where}.tax", line.tax, OrderLine.tax),
            (f"{where}.discount", line.discount, OrderLine.discount),
        ]
    for i, refund in enumerate(normalized.refunds or ()):
        where = f"refunds[{i}]"
        checks += [(f"{where}.external_id", refund.external_id, Refund.external_id),
                   (f"{where}.amount", refund.amount, Refund.amount),
                   (f"{where}.reason", refund.reason, Refund.reason)]
    problems = []
    for field, value, attribute in checks:
        problem = value_problem(value, attribute.property.columns[0])
        if problem:
            problems.append(f"{field} {problem}")
    for field in ("shipping_address", "billing_address"):
        address = getattr(normalized, field)
        if address is not None:
            problems += text_problems(address.as_dict(), field)
    problems += text_problems(list(normalized.tags or []), "tags")
    problems += text_problems(normalized.risk or {}, "risk")
    return problems


def check_order(normalized) -> None:
    """Raise ``Unstorable`` naming every value of the order that its column cannot hold."""
    problems = order_problems(normalized)
    if problems:
        raise Unstorable("cannot be stored: " + "; ".join(problems[:10]))
