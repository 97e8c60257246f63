"""Input checks shared by every service, every API schema and the request guard: each
failure names its field (ValidationFailed) and says what is wrong in words a person uses.

The bounds here are those of the database columns the values end in (PostgreSQL refuses
an INTEGER of 2**31 or a NUMERIC(12,2) of 1e30 with an error, a text with NUL outright):
whatever passes these checks can be stored."""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from app.services.core.errors import FIELD_LABELS, ValidationFailed, label  # noqa: F401 (re-exported)

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
# INTEGER columns (ids, quantities, priorities, versions) and the NUMERIC(14,2) of money:
# an amount typed in stays below 10**10, which leaves room for totals (price x units).
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
MONEY_LIMIT = Decimal("10000000000")
# Characters no text column can hold: NUL (PostgreSQL refuses it in text) and lone UTF-16
# surrogates (no UTF-8 encoding exists for them).
_UNSTORABLE_RE = re.compile("[\x00\ud800-\udfff]")

def unstorable_character(value: str) -> str | None:
    """A description of the first character of ``value`` no column can store, or None."""
    match = _UNSTORABLE_RE.search(value)
    if match is None:
        return None
    return "a NUL character" if match.group() == "\x00" else "a broken character (lone surrogate)"


def storable_text(value: str, field: str) -> str:
    problem = unstorable_character(value)
    if problem:
        raise ValidationFailed.field(field, f"contains {problem}; remove it and try again")
    return value


ADDRESS_FIELDS = {
    "name": 200, "company": 200, "line1": 255, "line2": 255, "city": 128, "region": 128,
    "postcode": 32, "country": 2, "phone": 64,
}


class Errors:
    """Collects field errors so a form can show all of them at once."""

    def __init__(self):
        self.errors: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def merge(self, err: ValidationFailed) -> None:
        for field, messages in err.errors.items():
            for message in messages:
                self.add(field, message)

    def raise_if_any(self, message: str = "Some fields are not valid") -> None:
        if self.errors:
            raise ValidationFailed.fields(self.errors, lead=message)


def text(value: Any, field: str, *, max_length: int, required: bool = True) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValidationFailed.field(field, f"Enter {_article(label(field))}")
        return None
    if not isinstance(value, str):
        raise ValidationFailed.field(field, "must be text")
    value = storable_text(value.strip(), field)
    if len(value) > max_length:
        raise ValidationFailed.field(
            field, f"is too long: {len(value)} characters, at most {max_length} fit")
    return value


def _article(noun: str) -> str:
    return f"an {noun}" if noun[:1].lower() in "aeio" else f"a {noun}"


def integer(value: Any, field: str, *, minimum: int = INT_MIN, maximum: int = INT_MAX) -> int:
    """A whole number within [minimum, maximum] (by default what an INTEGER column holds)."""
    if isinstance(value, bool):
        raise ValidationFailed.field(field, "must be a whole number")
    if isinstance(value, str):
        value = value.strip()
        if len(value) > 40:  # int() of a huge digit string is itself a cost
            raise ValidationFailed.field(field, f"must be at most {maximum:,}")
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        raise ValidationFailed.field(field, "must be a whole number") from None
    if isinstance(value, float) and value != number:
        raise ValidationFailed.field(field, "must be a whole number")
    if number < minimum:
        raise ValidationFailed.field(field, f"must be at least {minimum:,}")
    if number > maximum:
        raise ValidationFailed.field(field, f"must be at most {maximum:,}")
    return number


def identifier(value: Any, field: str) -> int:
    """The id of a record: a whole number from 1 to the largest INTEGER."""
    return integer(value, field, minimum=1)


def email(value: Any, field: str = "email", *, required: bool = False) -> str | None:
    value = text(value, field, max_length=254, required=required)
    if value is None:
        return None
    if not EMAIL_RE.match(value):
        raise ValidationFailed.field(field, f"'{value}' is not a valid e-mail address")
    return value.lower()


def quantity(value: Any, field: str = "quantity", *, allow_zero: bool = False,
             allow_negative: bool = False, maximum: int = INT_MAX) -> int:
    number = integer(value, field, minimum=-maximum, maximum=maximum)
    if number < 0 and not allow_negative:
        raise ValidationFailed.field(field, "must not be negative")
    if number == 0 and not allow_zero:
        raise ValidationFailed.field(field, "must not be zero")
    return number


def decimal(value: Any, field: str, *, positive: bool = False,
            limit: Decimal = MONEY_LIMIT) -> Decimal:
    """A finite number whose size is below ``limit`` (by default what a money column
    holds); "1e30" is a number, but none that can be stored."""
    if isinstance(value, bool):
        raise ValidationFailed.field(field, "must be a number")
    if isinstance(value, float):
        value = repr(value)
    text_value = str(value).strip()
    if len(text_value) > 60:
        raise ValidationFailed.field(field, "must be a number")
    try:
        number = Decimal(text_value)
    except (InvalidOperation, TypeError, ValueError):
        raise ValidationFailed.field(field, "must be a number") from None
    if not number.is_finite():
        raise ValidationFailed.field(field, "must be a number")
    if abs(number) >= limit:
        raise ValidationFailed.field(field, f"is too large: it must be below {limit:,}")
    if positive and number <= 0:
        raise ValidationFailed.field(field, "must be greater than zero")
    return number


def country(value: Any, field: str = "country") -> str:
    value = (text(value, field, max_length=2) or "").upper()
    if not COUNTRY_RE.match(value):
        raise ValidationFailed.field(field, "must be a two-letter ISO country code")
    return value


def currency(value: Any, field: str = "currency") -> str:
    value = (text(value, field, max_length=3) or "").upper()
    if not CURRENCY_RE.match(value):
        raise ValidationFailed.field(field, "must be a three-letter ISO currency code")
    return value


def address(value: Any, field: str = "address") -> dict:
    """A postal address: known keys only, line1, city and country required."""
    if not isinstance(value, dict):
        raise ValidationFailed.field(field, "must be an object with address fields")
    errors = Errors()
    unknown = set(value) - set(ADDRESS_FIELDS)
    for key in sorted(unknown):
        errors.add(f"{field}.{key}", "is not an address field")
    clean = {}
    for key, max_length in ADDRESS_FIELDS.items():
        try:
            required = key in {"line1", "city", "country"}
            if key == "country":
                clean[key] = country(value.get(key), f"{field}.country")
            else:
                clean[key] = text(value.get(key), f"{field}.{key}", max_length=max_length,
                                  required=required)
        except ValidationFailed as err:
            for name, messages in err.errors.items():
                for message in messages:
                    errors.add(name, message)
    errors.raise_if_any("The address is not valid")
    return clean


CODE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{1,31}$")


def code(value: Any, field: str = "code") -> str:
    """A record's short code (channels, carrier accounts): 2-32 letters, digits, - or _,
    kept in lower case."""
    clean = (text(value, field, max_length=32) or "").lower()
    if not CODE_RE.match(clean):
        raise ValidationFailed.field(field, "use 2-32 lower-case letters, digits, - or _")
    return clean


def http_url(value: Any, field: str = "base_url", *, max_length: int = 255) -> str | None:
    """An optional API root: http:// or https://."""
    url = text(value, field, max_length=max_length, required=False)
    if url and not re.match(r"^https?://", url):
        raise ValidationFailed.field(field, "must start with http:// or https://")
    return url


# "host" or "host:port": a host name or IPv4 address, a port from 1 to 65535 (the API's
# schema documents the same pattern)
PORT_PATTERN = r"([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
HOST_PORT_PATTERN = (r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
                     rf"(:{PORT_PATTERN})?")


def host_port(value: Any, field: str, *, default_port: int) -> str | None:
    """An optional network address, "host" or "host:port" (a host name or IPv4 address),
    returned as "host:port"."""
    address = text(value, field, max_length=255, required=False)
    if address is None:
        return None
    if not re.fullmatch(HOST_PORT_PATTERN, address, flags=re.ASCII):
        raise ValidationFailed.field(field, f"a host name or IPv4 address and a port, e.g. 192.168.1.50:{default_port}")
    return address if ":" in address else f"{address}:{default_port}"
