"""Typed domain errors: a stable ``code`` for machines, a message for people, and the
HTTP status the API answers with. Views flash ``str(err)``; APIs render ``err.to_dict()``.

Messages are sentences a person reads ("Enter a reason", "Quantity must be a whole
number"), never ``field: is required``; the field keys stay in ``errors`` for machines
(and for forms, which put each message next to its field)."""
from __future__ import annotations


class DomainError(Exception):
    status = 400
    code = "domain_error"

    def __init__(self, message: str, *, errors: dict[str, list[str]] | None = None,
                 code: str | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}
        if code:
            self.code = code

    def to_dict(self) -> dict:
        return {"message": self.message, "code": self.code, "errors": self.errors}


class ValidationFailed(DomainError):
    """Bad input; ``errors`` names each offending field."""

    status = 422
    code = "validation_failed"

    @classmethod
    def field(cls, field: str, message: str) -> "ValidationFailed":
        sentence = field_sentence(field, message)
        return cls(sentence, errors={field: [sentence]})

    @classmethod
    def fields(cls, errors: dict[str, list[str]], *, lead: str = "") -> "ValidationFailed":
        """Several field errors at once; each message becomes a sentence."""
        sentences = {f: [field_sentence(f, m) for m in ms] for f, ms in errors.items()}
        return cls(join_sentences(sentences, lead), errors=sentences)


class AlreadyUsed(ValidationFailed):
    """A value that must be unique (a code, a SKU) is taken: still a field error (forms
    show it next to the field), but the request itself was well formed, so the API
    answers 409 Conflict, not 422."""

    status = 409
    code = "already_used"


class NotInState(ValidationFailed):
    """The request is well formed, but the record it acts on cannot do this in its
    present state (a channel of a kind without a connector, or without a base URL): a
    field error naming what is missing, answered 409 Conflict."""

    status = 409
    code = "conflict"


class UnknownRecord(ValidationFailed):
    """A body names a record that does not exist (``product_id: 300``, an unknown SKU):
    a field error, answered 404 by the API like an id in the path that does not exist
    (the request is well formed; the record is missing)."""

    status = 404
    code = "not_found"


# How a field is called in a sentence (the key itself otherwise, underscores as spaces).
FIELD_LABELS = {
    "line1": "street", "line2": "second address line", "postcode": "postcode",
    "expected_version": "version", "delta": "change", "qty": "quantity",
    "hold_id": "hold", "product_id": "product", "warehouse_id": "warehouse",
    "channel_id": "channel", "order_id": "order", "ids": "ids", "q": "search",
    "body": "request body", "sku": "SKU", "email": "e-mail address",
}


def label(field: str) -> str:
    """``shipping_address.line1`` -> "street"; ``page_size`` -> "page size"."""
    last = field.rsplit(".", 1)[-1]
    if last.isdigit() and "." in field:
        last = field.rsplit(".", 2)[-2]
    return FIELD_LABELS.get(last, last.replace("_", " "))


def field_sentence(field: str, message: str) -> str:
    """``("reason", "is required")`` -> "Reason is required"; a message that is already a
    sentence (it starts with a capital: "Enter a reason") is kept as it is."""
    message = str(message).strip()
    if not message or message[0].isupper() or message[0].isdigit() or message[0] in "'\"":
        return message
    subject = label(field)
    if message.startswith("is required"):
        # "reason: is required" -> "Enter a reason"; "(or give the sku)" and such stay
        rest = message[len("is required"):]
        article = "an" if subject[:1].lower() in "aeio" else "a"
        return f"Enter {article} {subject}{rest}"
    return f"{subject[:1].upper()}{subject[1:]} {message}"


def join_sentences(errors: dict[str, list[str]], lead: str = "") -> str:
    parts = [m.rstrip(".") for ms in errors.values() for m in ms]
    body = ". ".join(parts)
    if lead and body:
        return f"{lead.rstrip('.')}: {body}."
    return f"{body}." if body else (lead or "Some fields are not valid")


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class InvalidTransition(Conflict):
    code = "invalid_transition"


class StaleVersion(Conflict):
    code = "stale_version"


class InsufficientStock(Conflict):
    code = "insufficient_stock"


class PermissionDenied(DomainError):
    status = 403
    code = "forbidden"
