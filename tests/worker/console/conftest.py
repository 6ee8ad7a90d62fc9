"""Fixtures for the console: its settings pointed at a migrated database, users of two
tenants made through ``worker.console.users``, and a tenant's worth of sync history made
through the services that make it in production."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from connectors.errors import Transient
from customers import db, service
from customers.aliases import add_alias
from customers.service import get_tenant
from customers.sync_state import Connection, DuplicateReview, SyncConflict, SyncRun
from customers.types import utcnow
from worker import database
from worker.console import users
from worker.failures import record_failure
from worker.settings import get_settings

PASSWORD = "correct horse battery staple"
OPERATOR = "operator@acme.test"
VIEWER = "viewer@acme.test"
OUTSIDER = "someone@else.test"


@pytest.fixture(autouse=True)
def _cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id still, with its smallest cost: the tests hash and check many passwords."""
    monkeypatch.setattr(users, "hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture
def console_sessions(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[sessionmaker[Session]]:
    """The process's settings and database are the test's (jobs the console runs in this
    process use them too)."""
    monkeypatch.setenv("CRMSYNC_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("CRMSYNC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CRMSYNC_CONSOLE_SECRET_KEY", "k" * 48)
    for name in ("CRMSYNC_BROKER_URL", "CRMSYNC_REDIS_URL", "CRMSYNC_TENANT"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    database.reset()
    yield database.sessions()
    database.reset()
    get_settings.cache_clear()


@dataclass
class Seeded:
    """Ids of what was made: ``ours`` in the users' tenant, ``theirs`` in another."""

    ours: dict[str, int] = field(default_factory=dict)
    theirs: dict[str, int] = field(default_factory=dict)


def add_users(sessions: sessionmaker[Session]) -> None:
    with db.transaction(sessions) as session:
        ours = get_tenant(session, "default").id
        theirs = get_tenant(session, "someone-else").id
        users.add_user(session, ours, OPERATOR, PASSWORD, "operator")
        users.add_user(session, ours, VIEWER, PASSWORD, "viewer")
        users.add_user(session, theirs, OUTSIDER, PASSWORD, "operator")


def seed_history(
    session: Session, tenant_slug: str, *, connection_id: int | None = None
) -> dict[str, int]:
    """A connection (unless given), a finished run, a conflict, a categorization failure
    of a customer, and a held record that may duplicate another customer."""
    tenant_id = get_tenant(session, tenant_slug).id
    if connection_id is None:
        connection = Connection(
            tenant_id=tenant_id,
            provider="hubspot",
            account_id=f"{tenant_slug}-1",
            name=f"{tenant_slug} portal",
        )
        session.add(connection)
        session.flush()
        connection_id = connection.id
    address = {"billing_street": "Ring 1", "billing_city": "Köln", "billing_country": "DE"}
    acme = service.create_customer(
        session, tenant_id, {"name": "Acme Corporation", "email": "ap@acme.io", **address}
    )
    globex = service.create_customer(
        session, tenant_id, {"name": "Globex", "email": "ap@globex.example", **address}
    )
    add_alias(session, tenant_id, acme.id, system="erp", reference="C-1001")
    now = utcnow()
    run = SyncRun(
        connection_id=connection_id,
        kind="incremental",
        started_at=now - timedelta(hours=2),
        finished_at=now - timedelta(hours=2) + timedelta(seconds=30),
        outcome="ok",
        counts={"read": 12, "created": 4, "updated": 3, "contacts_created": 2},
    )
    conflict = SyncConflict(
        connection_id=connection_id,
        object_type="company",
        external_id="501",
        local_id=acme.id,
        field="phone",
        base_value="+49 221 1",
        local_value="+49 221 2",
        remote_value="+49 221 3",
        resolved_value="+49 221 3",
        rule="two-way (crm won)",
    )
    review = DuplicateReview(
        tenant_id=tenant_id,
        connection_id=connection_id,
        object_type="company",
        external_id="777",
        values={"name": "ACME Corp.", "domain": "acme-corp.de"},
        candidates=[{"customer_id": acme.id, "score": 91.0, "reasons": ["name"]}],
    )
    session.add_all([run, conflict, review])
    failure = record_failure(
        session,
        direction="categorize",
        local_id=globex.id,
        object_type="customer",
        error=Transient("the categorizer is down", provider="llm"),
        payload={
            "actor": "categorize_customer",
            "args": [globex.id],
            "kwargs": {"api_key": "sk-hidden"},
        },
    )
    secretive = record_failure(
        session,
        direction="inbound",
        connection_id=connection_id,
        object_type="company",
        external_id="901",
        error=Transient("502 from the CRM", provider="hubspot", status=502),
        payload={
            "actor": "sync_records",
            "args": [connection_id, "company", ["901"]],
            "kwargs": {"options": {"access_token": "pat-na1-secret-value"}},
        },
    )
    session.flush()
    return {"secretive": secretive.id, "connection": connection_id, "run": run.id, "conflict": conflict.id, "review": review.id,
            "failure": failure.id, "acme": acme.id, "globex": globex.id}  # fmt: skip


@pytest.fixture
def seeded(console_sessions: sessionmaker[Session]) -> Seeded:
    add_users(console_sessions)
    with db.transaction(console_sessions) as session:
        return Seeded(
            ours=seed_history(session, "default"), theirs=seed_history(session, "someone-else")
        )
