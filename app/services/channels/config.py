"""Channel reference data: created and edited only here (validation, encryption, audit)."""
from __future__ import annotations


from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Channel
from app.models.sync import CHANNEL_KINDS
from app.services.core import audit
from app.services.core import credential_targets
from app.services.core import secrets
from app.services.core import validation
from app.services.core.actor import Actor
from app.services.core.errors import AlreadyUsed, NotFound, ValidationFailed
from app.services.core.transaction import transactional

PLAIN_FIELDS = ("code", "name", "kind", "base_url", "api_version", "poll_interval_seconds",
                "backfill_days", "stock_buffer", "enabled")
# the rest of a channel's stock rules (inventory/atp.py): numbers in the forms, the warehouse
# lists through the API
STOCK_FIELDS = ("stock_buffer_percent", "stock_cap", "stock_warehouse_ids", "location_warehouses")
# the channel's own ship-by over the shop's settings (orders/ship_by.py)
SHIP_BY_FIELDS = ("ship_by_days", "sla_cutoff_hour", "ship_by_methods")
AUDITED_FIELDS = PLAIN_FIELDS + STOCK_FIELDS + SHIP_BY_FIELDS


def _clean(session: Session, values: dict, channel: Channel | None) -> dict:
    clean = {}
    if "code" in values or channel is None:
        code = validation.code(values.get("code"))
        taken = session.scalar(select(Channel.id).where(Channel.code == code))
        if taken and (channel is None or taken != channel.id):
            raise AlreadyUsed.field("code", f"'{code}' is already used by another channel")
        clean["code"] = code
    if "name" in values or channel is None:
        clean["name"] = validation.text(values.get("name"), "name", max_length=128)
    if "kind" in values or channel is None:
        if values.get("kind") not in CHANNEL_KINDS:
            raise ValidationFailed.field("kind", f"must be one of {', '.join(CHANNEL_KINDS)}")
        clean["kind"] = values["kind"]
    if "base_url" in values:
        clean["base_url"] = validation.http_url(values.get("base_url"))
    if "api_version" in values:
        clean["api_version"] = _api_version(values.get("api_version"),
                                            clean.get("kind") or (channel.kind if channel else None))
    for field in ("poll_interval_seconds", "backfill_days", "stock_buffer"):
        if field in values and values[field] is not None:
            clean[field] = validation.quantity(values[field], field, allow_zero=True)
    if "enabled" in values:
        clean["enabled"] = bool(values["enabled"])
    clean.update(_stock_rules(session, values))
    clean.update(_ship_by_rules(values))
    return clean


SHIP_BY_DAYS_MAX, SHIP_BY_METHODS_MAX = 90, 50  # the ship_by_days setting's bound; methods a channel names


def _ship_by_days(value, field: str) -> int:
    days = validation.quantity(value, field, allow_zero=True)
    if days > SHIP_BY_DAYS_MAX:
        raise ValidationFailed.field(field, f"at most {SHIP_BY_DAYS_MAX} business days")
    return days


def _ship_by_rules(values: dict) -> dict:
    """The channel's own ship-by (orders/ship_by.py): business days and cut-off hour (empty:
    the shop's settings), and days per shipping method as the channel names it."""
    clean = {}
    if "ship_by_days" in values:
        days = values["ship_by_days"]
        clean["ship_by_days"] = None if days in (None, "") else _ship_by_days(days, "ship_by_days")
    if "sla_cutoff_hour" in values:
        hour = values["sla_cutoff_hour"]
        if hour not in (None, ""):
            hour = validation.quantity(hour, "sla_cutoff_hour", allow_zero=True)
            if hour > 23:
                raise ValidationFailed.field("sla_cutoff_hour", "an hour from 0 to 23")
        clean["sla_cutoff_hour"] = None if hour in (None, "") else hour
    if "ship_by_methods" in values:
        methods = values["ship_by_methods"] or None
        if methods is not None and not isinstance(methods, dict):
            raise ValidationFailed.field("ship_by_methods", 'an object {shipping method: business days}')
        if methods and len(methods) > SHIP_BY_METHODS_MAX:
            raise ValidationFailed.field("ship_by_methods", f"at most {SHIP_BY_METHODS_MAX} shipping methods")
        clean["ship_by_methods"] = None if methods is None else {
            _method_name(name): _ship_by_days(days, "ship_by_methods") for name, days in methods.items()}
    return clean


def _method_name(name) -> str:
    """A shipping method as the channel names it: 1-128 characters, ASCII spaces around dropped."""
    trimmed = name.strip(" \t\n\r\f\v") if isinstance(name, str) else ""
    if not trimmed or len(trimmed) > 128 or "\x00" in trimmed:
        raise ValidationFailed.field("ship_by_methods", "a shipping method's name has 1 to 128 characters")
    return trimmed


def _warehouse_ids(session: Session, value, field: str) -> list[int]:
    from app.models import Warehouse

    if not isinstance(value, list) or not value:
        raise ValidationFailed.field(field, "a non-empty list of warehouse ids")
    ids = sorted({validation.identifier(v, field) for v in value})
    known = set(session.scalars(select(Warehouse.id).where(Warehouse.id.in_(ids))))
    if set(ids) - known:
        raise ValidationFailed.field(field, f"unknown warehouse(s) {sorted(set(ids) - known)}")
    return ids


def _stock_rules(session: Session, values: dict) -> dict:
    """The channel's stock rules: a buffer in percent (0-100), a cap (empty: none), the
    warehouses that serve it (empty: every active one), {location id: [warehouse ids]}."""
    clean = {}
    if "stock_buffer_percent" in values and values["stock_buffer_percent"] is not None:
        percent = validation.quantity(values["stock_buffer_percent"], "stock_buffer_percent", allow_zero=True)
        if percent > 100:
            raise ValidationFailed.field("stock_buffer_percent", "must be between 0 and 100")
        clean["stock_buffer_percent"] = percent
    if "stock_cap" in values:
        cap = values["stock_cap"]
        clean["stock_cap"] = None if cap in (None, "") else validation.quantity(cap, "stock_cap", allow_zero=True)
    if "stock_warehouse_ids" in values:
        value = values["stock_warehouse_ids"]
        clean["stock_warehouse_ids"] = None if not value else _warehouse_ids(session, value, "stock_warehouse_ids")
    if "location_warehouses" in values:
        value = values["location_warehouses"] or None
        if value is not None and not isinstance(value, dict):
            raise ValidationFailed.field("location_warehouses", "an object {location id: [warehouse ids]}")
        clean["location_warehouses"] = None if value is None else {
            str(location)[:128]: _warehouse_ids(session, ids, "location_warehouses") for location, ids in value.items()}
    return clean


def _api_version(value, kind: str | None) -> str | None:
    """An API version the channel's connector can read, or None for the connector's default."""
    from connectors.registry import API_VERSIONS

    version = validation.text(value, "api_version", max_length=16, required=False)
    if version is None:
        return None
    allowed = API_VERSIONS.get(kind or "", ())
    if version not in allowed:
        raise ValidationFailed.field("api_version", f"a {kind} channel reads {', '.join(allowed) or 'no versions'}"
                                     if allowed else f"a {kind} channel has no API version to choose")
    return version


@transactional
def save_channel(session: Session, values: dict, actor: Actor, channel_id: int | None = None,
                 *, credentials: dict | None = None, webhook_secret: str | None = None) -> Channel:
    """Create or update a channel. ``credentials`` / ``webhook_secret`` replace the stored
    ones when given (they are write-only: nothing reads them back out). Changing where
    the credentials go (``base_url``) needs them given again (services/core/credential_targets.py)."""
    channel = None
    if channel_id is not None:
        channel = session.get(Channel, channel_id)
        if channel is None:
            raise NotFound(f"Channel {channel_id} not found")
    clean = _clean(session, values, channel)
    if channel is not None and "base_url" in clean:
        # A new destination for the stored credentials needs them entered again.
        credential_targets.guard(
            session, actor, "channel", channel.id, old_url=channel.base_url,
            new_url=clean["base_url"], has_stored_credentials=bool(channel.credentials_encrypted),
            credentials_given=credentials is not None)
    before = {f: getattr(channel, f) for f in AUDITED_FIELDS} if channel else {}
    if channel is None:
        channel = Channel(**clean)
        session.add(channel)
    else:
        for key, value in clean.items():
            setattr(channel, key, value)
    secret_changes = {}
    if credentials is not None:
        _check_credentials(credentials)
        channel.credentials_encrypted = secrets.encrypt(credentials)
        secret_changes["credentials"] = {"old": audit.SECRET_MASK, "new": audit.SECRET_MASK}
    if webhook_secret is not None:
        validation.text(webhook_secret, "webhook_secret", max_length=255, required=False)
        channel.webhook_secret_encrypted = secrets.encrypt(webhook_secret)
        secret_changes["webhook_secret"] = {"old": audit.SECRET_MASK, "new": audit.SECRET_MASK}
    session.flush()
    after = {f: getattr(channel, f) for f in AUDITED_FIELDS}
    audit.record(session, actor, "channel", channel.id, "update" if before else "create",
                 {**audit.diff(before, after), **secret_changes})
    return channel


def _check_credentials(credentials) -> None:
    """An object whose values are texts or lists of texts (what every connector reads)."""
    if not isinstance(credentials, dict):
        raise ValidationFailed.field("credentials", "must be an object of key/value pairs")
    for key, value in credentials.items():
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(item, str) for item in items):
            raise ValidationFailed.field(f"credentials.{str(key)[:40]}",
                                         "must be a text or a list of texts")


def credentials_of(channel: Channel) -> dict:
    return secrets.decrypt_json(channel.credentials_encrypted)


def webhook_secret_of(channel: Channel) -> str | None:
    return secrets.decrypt(channel.webhook_secret_encrypted)
