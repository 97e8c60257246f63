"""Typed domain errors: a stable ``code`` for machines, a message for people, and the
HTTP status the API answers with. Views flash ``str(err)``; APIs render ``err.to_dict()``."""
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
        return cls(f"{field}: {message}", errors={field: [message]})


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
