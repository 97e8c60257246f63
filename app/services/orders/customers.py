"""Customers, deduplicated across channels by normalised e-mail."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Customer


def normalize_email(email: str | None) -> str | None:
    email = (email or "").strip().lower()
    return email or None


def find_or_create(session: Session, email: str | None, name: str | None,
                   phone: str | None = None) -> Customer | None:
    """The customer with this e-mail (created when new); None without an e-mail. No commit."""
    key = normalize_email(email)
    if key is None:
        return None
    customer = session.scalar(select(Customer).where(Customer.email == key))
    if customer is None:
        customer = Customer(email=key, name=name, phone=phone)
        session.add(customer)
        session.flush()
    else:
        if name and not customer.name:
            customer.name = name
        if phone and not customer.phone:
            customer.phone = phone
    return customer
