"""The people who may use the operator console: one tenant each, a role, a password hash.

A user belongs to exactly one tenant and sees only that tenant's rows. The role is
``viewer`` (reads everything) or ``operator`` (may also pause, sync, replay, decide held
records). Only an argon2 hash of the password is stored. Emails are stored lower-cased and
are unique across tenants, so signing in needs no tenant name.

The console's code (``worker.console``) uses this table; the directory's never does.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from customers.models import Base
from customers.types import utcnow


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"


class ConsoleUser(Base):
    __tablename__ = "console_users"
    __table_args__ = (CheckConstraint("role IN ('viewer', 'operator')", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
