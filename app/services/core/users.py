"""Users, roles and API keys (FAB's security manager does the storing and hashing)."""
from __future__ import annotations

import secrets

from app.services.core import validation
from app.services.core.errors import Conflict, NotFound, ValidationFailed


def ensure_admin(sm, username: str, password: str | None) -> tuple[bool, str | None]:
    """Create the admin once. Without a configured password one is generated (and shown
    once by the caller). Returns (created, password)."""
    if sm.find_user(username=username):
        return False, None
    password = password or secrets.token_urlsafe(12)
    user = sm.add_user(username, "Waybill", "Admin", f"{username}@waybill.invalid",
                       sm.find_role(sm.auth_role_admin), password)
    if not user:
        raise ValidationFailed.field("username", f"could not create admin {username}")
    return True, password


def create_user(sm, username: str, role: str, password: str, email: str | None = None):
    username = validation.text(username, "username", max_length=64)
    if sm.find_user(username=username):
        raise ValidationFailed.field("username", f"'{username}' already exists")
    role_row = sm.find_role(role)
    if role_row is None:
        raise ValidationFailed.field("role", f"unknown role '{role}' (run `flask oms init` first)")
    if not password or len(password) < 8:
        raise ValidationFailed.field("password", "must have at least 8 characters")
    email = validation.email(email) or f"{username}@waybill.invalid"
    user = sm.add_user(username, username, role, email, role_row, password)
    if not user:
        raise ValidationFailed.field("email", f"could not create user (e-mail {email} taken?)")
    return user


def create_api_key(sm, username: str, name: str) -> str:
    """A new API key of ``username``; returns the key, which is stored only hashed and so
    can be shown this once. The audit row comes from services/core/security_audit.py."""
    user = sm.find_user(username=username)
    if user is None:
        raise ValidationFailed.field("username", f"unknown user '{username}'")
    if not user.active:
        raise ValidationFailed.field("username", f"user '{username}' is deactivated")
    name = validation.text(name, "name", max_length=64)
    created = sm.create_api_key(user, name=name)
    if not created:
        raise ValidationFailed.field("name", "the key could not be stored (see the server log)")
    return created["key"]


def revoke_api_key(sm, key_uuid: str):
    """Revoke a key (kept, with when it was revoked, for the audit trail)."""
    key = sm.get_api_key_by_uuid(key_uuid)
    if key is None:
        raise NotFound(f"No API key {key_uuid}")
    if key.revoked_on is not None:
        raise Conflict(f"The API key '{key.name}' is already revoked")
    if not sm.revoke_api_key(key_uuid):
        raise Conflict(f"The API key '{key.name}' could not be revoked (see the server log)")
    return key


def list_api_keys(session):
    """Every API key with its user, newest first (the admins' page)."""
    from flask_appbuilder.security.sqla.models import ApiKey
    from sqlalchemy import select
    from sqlalchemy.orm import joinedload

    return session.scalars(select(ApiKey).options(joinedload(ApiKey.user))
                           .order_by(ApiKey.created_on.desc(), ApiKey.id.desc())).all()
