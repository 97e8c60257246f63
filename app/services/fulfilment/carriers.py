"""Carrier accounts: created and edited only here (validation, encryption, audit). Credentials
and the webhook secret are write-only (never read back out); changing where credentials go
(``base_url``, ``tracking_url``) needs them entered again (core.credential_targets)."""
from __future__ import annotations


from flask import current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors import carriers as carrier_connectors
from connectors.carriers.base import Account

from app.models import CarrierAccount
from app.models.fulfillment import CARRIER_KINDS, LABEL_FORMATS
from app.services.core import audit, credential_targets, secrets, validation
from app.services.core.actor import Actor
from app.services.core.errors import AlreadyUsed, NotFound, ValidationFailed
from app.services.core.transaction import transactional

PLAIN_FIELDS = ("code", "name", "kind", "base_url", "tracking_url", "account_number", "label_format", "enabled")
URL_FIELDS = ("base_url", "tracking_url")  # where the credentials go
# what each kind needs among its credentials
REQUIRED_CREDENTIALS = {"ups": ("client_id", "client_secret"), "easypost": ("api_key",), "manual": (),
                        "fedex": ("client_id", "client_secret"), "usps": ("client_id", "client_secret"),
                        "dhl": ("username", "password", "api_key")}


def _clean(session: Session, values: dict, account: CarrierAccount | None) -> dict:
    clean = {}
    if "code" in values or account is None:
        code = validation.code(values.get("code"))
        taken = session.scalar(select(CarrierAccount.id).where(CarrierAccount.code == code))
        if taken and (account is None or taken != account.id):
            raise AlreadyUsed.field("code", f"'{code}' is already used by another carrier account")
        clean["code"] = code
    if "name" in values or account is None:
        clean["name"] = validation.text(values.get("name"), "name", max_length=128)
    if "kind" in values or account is None:
        if values.get("kind") not in CARRIER_KINDS:
            raise ValidationFailed.field("kind", f"must be one of {', '.join(CARRIER_KINDS)}")
        if account is not None and values["kind"] != account.kind:
            raise ValidationFailed.field("kind", "a carrier account keeps its kind: add another account")
        clean["kind"] = values["kind"]
    for field in URL_FIELDS:
        if field in values:
            url = validation.http_url(values.get(field), field)
            clean[field] = url.rstrip("/") if url else None
    if "account_number" in values:
        clean["account_number"] = validation.text(values.get("account_number"), "account_number",
                                                  max_length=32, required=False)
    if "label_format" in values:
        if values["label_format"] not in LABEL_FORMATS:
            raise ValidationFailed.field("label_format", f"must be one of {', '.join(LABEL_FORMATS)}")
        clean["label_format"] = values["label_format"]
    if "enabled" in values:
        clean["enabled"] = bool(values["enabled"])
    return clean


def _check_credentials(kind: str, credentials) -> dict:
    if not isinstance(credentials, dict) or not all(isinstance(v, str) for v in credentials.values()):
        raise ValidationFailed.field("credentials", "must be an object of text values")
    missing = [k for k in REQUIRED_CREDENTIALS.get(kind, ()) if not credentials.get(k)]
    if missing:
        raise ValidationFailed.field("credentials", f"a {kind} account needs {', '.join(missing)}")
    return credentials


@transactional
def save_account(session: Session, values: dict, actor: Actor, account_id: int | None = None, *,
                 credentials: dict | None = None, webhook_secret: str | None = None) -> CarrierAccount:
    """Create or update a carrier account; ``credentials``/``webhook_secret`` replace the
    stored ones when given (write-only)."""
    account = None
    if account_id is not None:
        account = session.get(CarrierAccount, account_id)
        if account is None:
            raise NotFound(f"Carrier account {account_id} not found")
    clean = _clean(session, values, account)
    kind = clean.get("kind") or account.kind
    if kind != "manual" and not (clean.get("base_url") or (account and account.base_url)):
        raise ValidationFailed.field("base_url", f"a {kind} account needs the carrier's API URL")
    if credentials is not None:
        credentials = _check_credentials(kind, credentials)
    elif account is None and kind != "manual":
        raise ValidationFailed.field("credentials", f"a {kind} account needs its credentials")
    for field in URL_FIELDS:
        if account is not None and field in clean:
            credential_targets.guard(session, actor, "carrier_account", account.id, old_url=getattr(account, field),
                                     new_url=clean[field], has_stored_credentials=account.has_credentials,
                                     credentials_given=credentials is not None, url_field=field)
    before = {f: getattr(account, f) for f in PLAIN_FIELDS} if account else {}
    if account is None:
        account = CarrierAccount(**{"label_format": "PDF", "enabled": True, **clean})
        session.add(account)
    else:
        for key, value in clean.items():
            setattr(account, key, value)
    secret_changes = {}
    if credentials is not None:
        account.credentials_encrypted = secrets.encrypt(credentials)
        secret_changes["credentials"] = {"old": audit.SECRET_MASK, "new": audit.SECRET_MASK}
    if webhook_secret is not None:
        validation.text(webhook_secret, "webhook_secret", max_length=255, required=False)
        account.webhook_secret_encrypted = secrets.encrypt(webhook_secret)
        secret_changes["webhook_secret"] = {"old": audit.SECRET_MASK, "new": audit.SECRET_MASK}
    session.flush()
    after = {f: getattr(account, f) for f in PLAIN_FIELDS}
    audit.record(session, actor, "carrier_account", account.id, "update" if before else "create",
                 {**audit.diff(before, after), **secret_changes})
    return account


def get_account(session: Session, code_or_id) -> CarrierAccount:
    query = select(CarrierAccount)
    if isinstance(code_or_id, int) or str(code_or_id).isdigit():
        account = session.get(CarrierAccount, int(code_or_id))
    else:
        account = session.scalar(query.where(CarrierAccount.code == str(code_or_id)))
    if account is None:
        raise NotFound(f"Carrier account {code_or_id} not found")
    return account


def webhook_secret_of(account: CarrierAccount) -> str | None:
    return secrets.decrypt(account.webhook_secret_encrypted)


def _time_scale() -> float:
    options = current_app.config.get("OMS_CONNECTOR_OPTIONS") or {} if has_app_context() else {}
    return float(options.get("time_scale", 1.0))


def connector_account(account: CarrierAccount) -> Account:
    """The plain data a carrier connector needs (credentials decrypted in memory only)."""
    return Account(code=account.code, kind=account.kind, base_url=account.base_url or "",
                   tracking_url=account.tracking_url,
                   credentials=secrets.decrypt_json(account.credentials_encrypted),
                   account_number=account.account_number, time_scale=_time_scale())


def client(account: CarrierAccount):
    return carrier_connectors.connect(connector_account(account))
