"""Console users: add, list, remove, and check a password at sign-in.

Passwords are hashed with argon2id (argon2-cffi's defaults). Checking a password costs the
same whether or not the email is known, so timing does not tell which emails have accounts.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from customers.console_users import ConsoleUser, Role
from customers.errors import InvalidInput, NotFound
from customers.types import utcnow

MIN_PASSWORD = 12
MAX_PASSWORD = 1024
hasher = PasswordHasher()
# Checked against when the email is unknown, so a miss costs what a wrong password costs.
_UNKNOWN_USER_HASH = hasher.hash("no such user: this hash is only ever compared against")


def normal_email(email: str) -> str:
    text = email.strip().lower()
    local, at, domain = text.partition("@")
    if (
        not at
        or not local
        or "." not in domain
        or len(text) > 254
        or any(c.isspace() or not c.isprintable() for c in text)
    ):
        raise InvalidInput.single("email", f"{email!r} is not an email address")
    return text


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput.single("password", f"use at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise InvalidInput.single("password", f"use at most {MAX_PASSWORD} characters")


def add_user(session: Session, tenant_id: int, email: str, password: str, role: str) -> ConsoleUser:
    """A new user of the tenant; the email may not be used by anyone, in any tenant."""
    address = normal_email(email)
    if role not in {r.value for r in Role}:
        raise InvalidInput.single("role", f"{role!r}: use viewer or operator")
    check_password(password)
    taken = session.scalar(select(ConsoleUser.id).where(ConsoleUser.email == address))
    if taken is not None:
        raise InvalidInput.single("email", f"{address} already has a console account")
    user = ConsoleUser(
        tenant_id=tenant_id, email=address, password_hash=hasher.hash(password), role=role
    )
    session.add(user)
    session.flush()
    return user


def list_users(session: Session, tenant_id: int) -> list[ConsoleUser]:
    return list(
        session.scalars(
            select(ConsoleUser)
            .where(ConsoleUser.tenant_id == tenant_id)
            .order_by(ConsoleUser.email)
        )
    )


def remove_user(session: Session, tenant_id: int, email: str) -> None:
    """Remove the tenant's user; their open sessions end at their next request."""
    address = email.strip().lower()
    user = None
    if "\x00" not in address:  # no stored email holds one (and PostgreSQL text cannot)
        user = session.scalar(
            select(ConsoleUser).where(
                ConsoleUser.tenant_id == tenant_id, ConsoleUser.email == address
            )
        )
    if user is None:
        raise NotFound("console user", email)
    session.delete(user)


def authenticate(session: Session, email: str, password: str) -> ConsoleUser | None:
    """The user whose email and password these are, or None (in the same time either way)."""
    address = email.strip().lower()[:254]
    user = None
    if "\x00" not in address:  # no stored email holds one (and PostgreSQL text cannot)
        user = session.scalar(select(ConsoleUser).where(func.lower(ConsoleUser.email) == address))
    try:
        hasher.verify(user.password_hash if user else _UNKNOWN_USER_HASH, password[:MAX_PASSWORD])
    except (VerificationError, InvalidHashError):
        return None
    if user is None:
        return None
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    user.last_login_at = utcnow()
    return user


def user_dict(user: ConsoleUser) -> dict[str, object]:
    """A user as listed (never the hash)."""
    return {
        "id": user.id,
        "email": user.email,
        "role": user.role,
        "created_at": user.created_at.isoformat(),
        "last_login_at": user.last_login_at.isoformat() if user.last_login_at else None,
    }
