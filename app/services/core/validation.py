"""Input checks shared by every service: each failure names its field (ValidationFailed)."""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from app.services.core.errors import ValidationFailed

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
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

    def raise_if_any(self, message: str = "Some fields are not valid") -> None:
        if self.errors:
            detail = "; ".join(f"{f}: {', '.join(m)}" for f, m in self.errors.items())
            raise ValidationFailed(f"{message} — {detail}", errors=self.errors)


def text(value: Any, field: str, *, max_length: int, required: bool = True) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValidationFailed.field(field, "is required")
        return None
    if not isinstance(value, str):
        raise ValidationFailed.field(field, "must be text")
    value = value.strip()
    if len(value) > max_length:
        raise ValidationFailed.field(field, f"is too long ({len(value)} > {max_length} characters)")
    return value


def record_id(value: Any, field: str, kind: str = "record") -> int:
    """An id a caller names a record by: an integer (a bool or a text that is no integer is
    refused, naming the field)."""
    try:
        if isinstance(value, bool):
            raise ValueError
        return int(value)
    except (TypeError, ValueError):
        raise ValidationFailed.field(field, f"'{value}' is not an {kind} id"
                                     if kind[0] in "aeiou" else f"'{value}' is not a {kind} id") from None


def email(value: Any, field: str = "email", *, required: bool = False) -> str | None:
    value = text(value, field, max_length=254, required=required)
    if value is None:
        return None
    if not EMAIL_RE.match(value):
        raise ValidationFailed.field(field, f"'{value}' is not a valid e-mail address")
    return value.lower()


def quantity(value: Any, field: str = "quantity", *, allow_zero: bool = False,
             allow_negative: bool = False) -> int:
    if isinstance(value, bool):
        raise ValidationFailed.field(field, "must be a whole number")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationFailed.field(field, "must be a whole number") from None
    if isinstance(value, float) and value != number:
        raise ValidationFailed.field(field, "must be a whole number")
    if number < 0 and not allow_negative:
        raise ValidationFailed.field(field, "must not be negative")
    if number == 0 and not allow_zero:
        raise ValidationFailed.field(field, "must not be zero")
    return number


def decimal(value: Any, field: str, *, positive: bool = False) -> Decimal:
    if isinstance(value, float):
        value = repr(value)
    try:
        number = Decimal(str(value))
    except (InvalidOperation, TypeError, ValueError):
        raise ValidationFailed.field(field, "must be a number") from None
    if not number.is_finite():
        raise ValidationFailed.field(field, "must be a number")
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
