"""Encryption at rest for channel credentials and webhook secrets (Fernet with
OMS_CREDENTIALS_KEY). Plain values exist only in memory, never in a log or a response."""
from __future__ import annotations

import json

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app, has_app_context

from app.services.core.errors import DomainError


def _fernet() -> Fernet:
    if has_app_context():
        key = current_app.config["OMS_CREDENTIALS_KEY"]
    else:
        import config

        key = config.OMS_CREDENTIALS_KEY
    return Fernet(key.encode() if isinstance(key, str) else key)


def encrypt(value: str | dict | None) -> str | None:
    if value is None or value == "" or value == {}:
        return None
    plain = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return _fernet().encrypt(plain.encode()).decode()


def decrypt(token: str | None) -> str | None:
    if not token:
        return None
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise DomainError("Stored secret cannot be decrypted: was OMS_CREDENTIALS_KEY changed?",
                          code="secret_undecryptable") from None


def decrypt_json(token: str | None) -> dict:
    plain = decrypt(token)
    return json.loads(plain) if plain else {}
