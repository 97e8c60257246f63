"""Business rules (conditions and actions as JSON) and every version of them."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from flask_appbuilder import Model
from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import TimestampMixin, UTCDateTime, status_check

RULE_STAGES = ("on_import", "on_allocation")
RULE_MATCH = ("all", "any")


class Rule(TimestampMixin, Model):
    __tablename__ = "rules"
    __table_args__ = (status_check("stage", RULE_STAGES), status_check("match", RULE_MATCH))

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True, nullable=False)
    description: Mapped[Optional[str]] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer, default=100, nullable=False, index=True)
    stage: Mapped[str] = mapped_column(String(16), default="on_import", nullable=False)
    match: Mapped[str] = mapped_column(String(8), default="all", nullable=False)
    conditions: Mapped[list] = mapped_column(JSON, default=list, nullable=False)
    actions: Mapped[list] = mapped_column(JSON, default=list, nullable=False)
    stop_processing: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    version: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    # Deleted rules are kept (their history stays readable) but never evaluated.
    deleted_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)

    versions = relationship("RuleVersion", back_populates="rule", order_by="RuleVersion.version")

    def __repr__(self) -> str:
        return self.name


class RuleVersion(Model):
    __tablename__ = "rule_versions"
    __table_args__ = (UniqueConstraint("rule_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("rules.id"), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    actor: Mapped[str] = mapped_column(String(128), nullable=False)
    change: Mapped[Optional[str]] = mapped_column(String(16))  # create, update, enable, ...
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    before: Mapped[Optional[dict]] = mapped_column(JSON)
    after: Mapped[Optional[dict]] = mapped_column(JSON)

    rule = relationship("Rule", back_populates="versions")
