"""Sync conflict actions."""
from __future__ import annotations

from marshmallow import fields

from ...services.conflicts import OUTCOMES
from .common import InSchema


class ConflictCloseInSchema(InSchema):
    status = fields.Str(load_default="resolved", metadata={"enum": list(OUTCOMES)})
    note = fields.Str(allow_none=True, load_default=None, metadata={
        "description": "what was done (or why nothing is needed: required to discard)"})
