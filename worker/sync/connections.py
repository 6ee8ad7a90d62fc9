"""Connections: creating them, and building a working connector from a stored one.

Credentials are stored encrypted (``connectors.credentials``); a refreshed token is written
back at once, in its own transaction, so a token the CRM rotated is never lost with a
rolled-back sync. Request budgets are shared by every process through the Redis of the
shared state when there is one (``worker.shared_state``), else by every thread of this
process.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from functools import cache
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from connectors.base import Connector
from connectors.budget import RequestBudget
from connectors.credentials import CredentialCipher, Credentials, load_cipher
from connectors.errors import Permanent
from connectors.fields import FieldLists, FieldReport
from connectors.registry import budget_for, connector_for, limits_for
from customers.db import transaction
from customers.errors import NotFound
from customers.sync_state import Connection, ConnectionStatus
from customers.types import utcnow
from worker import shared_state
from worker.database import sessions
from worker.settings import get_settings
from worker.sync.target import field_specs, maps_for

log = logging.getLogger(__name__)

_budgets: dict[tuple[str, str], RequestBudget] = {}
_budgets_lock = threading.Lock()

REUSABLE_CONNECTORS = 32  # per thread, least recently used dropped first
_reusable = threading.local()

# The CRM field lists each connection's connectors read, shared by every thread of the
# process: a job whose thread has no connector for the connection builds one, and without
# this it would list the CRM's fields again (one call per object type). An entry holds
# only the fields the sync asks about (a few KB), so many connections fit.
KEPT_FIELD_LISTS = 4_096  # connections, least recently used dropped first
_field_lists: OrderedDict[tuple[Any, ...], FieldLists] = OrderedDict()
_field_lists_lock = threading.Lock()


@cache
def cipher() -> CredentialCipher:
    settings = get_settings()
    key = settings.encryption_key.get_secret_value() if settings.encryption_key else None
    embedded = settings.resolved_database_url.startswith("sqlite") and not settings.has_broker
    return load_cipher(encryption_key=key, data_dir=settings.data_dir, make_key_file=embedded)


def budget(provider: str, account_id: str) -> RequestBudget:
    with _budgets_lock:
        key = (provider, account_id)
        if key not in _budgets:
            settings = get_settings()
            limits = limits_for(
                provider,
                hubspot_per_10s=settings.hubspot_burst_requests,
                hubspot_search_per_s=settings.hubspot_search_per_s,
                hubspot_daily=settings.hubspot_daily_requests,
                salesforce_daily=settings.salesforce_daily_requests,
                daily_reserve=settings.crm_daily_reserve,
            )
            _budgets[key] = budget_for(
                provider, account_id, limits=limits, redis=shared_state.client(settings)
            )
        return _budgets[key]


def create_connection(
    session: Session,
    *,
    tenant_id: int,
    provider: str,
    account_id: str,
    name: str,
    credentials: Credentials,
    base_url: str | None = None,
    options: dict[str, Any] | None = None,
    auto_create: bool = True,
    mapping: str | None = None,
) -> Connection:
    connection = Connection(
        tenant_id=tenant_id,
        provider=provider,
        account_id=account_id,
        name=name,
        base_url=base_url,
        credentials=cipher().encrypt(credentials),
        settings={"connector": options or {}},
        auto_create=auto_create,
        mapping=mapping,
        webhook_token=secrets.token_urlsafe(24),
    )
    session.add(connection)
    session.flush()
    return connection


def build(
    provider: str,
    *,
    account_id: str,
    base_url: str | None,
    credentials: Credentials,
    options: dict[str, Any],
    on_tokens: Callable[[Credentials], None] | None,
    field_lists: FieldLists | None = None,
) -> Connector:
    """A connector from plain values (e.g. to set up a connection before it is saved)."""
    return connector_for(
        provider,
        account_id=account_id,
        base_url=base_url,
        credentials=credentials,
        budget=budget(provider, account_id),
        on_tokens=on_tokens,
        # The connection's own options win over the process-wide defaults.
        options={**_defaults(provider), **options},
        field_lists=field_lists,
    )


def _defaults(provider: str) -> dict[str, Any]:
    """Connector options the process-wide settings give every connection of ``provider``."""
    settings = get_settings()
    defaults: dict[str, Any] = {"overlap_s": settings.crm_overlap_s}
    if provider == "salesforce":
        defaults["bulk_threshold"] = settings.salesforce_bulk_threshold
    return defaults


def connect(
    sessions_: sessionmaker[Session],
    *,
    tenant_id: int,
    provider: str,
    account_id: str,
    name: str,
    credentials: Credentials,
    base_url: str | None = None,
    options: dict[str, Any] | None = None,
    auto_create: bool = True,
    mapping: str | None = None,
    on_fields: Callable[[FieldReport], None] | None = None,
) -> int:
    """Set the CRM account up, then save the connection and return its id.

    The setup runs before anything is written: a failed setup (a ``ConnectorError``) saves
    nothing, and tokens refreshed during it are the ones stored. It makes the map's CRM
    fields where the CRM allows it; ``on_fields`` gets what it made and what is still
    missing (Salesforce fields an admin must add). A new connection starts at the end of
    the outbox; a reconcile pushes what the CRM lacks.
    """
    from worker.sync.outbound import start_at_end

    latest = [credentials]
    report = build(
        provider,
        account_id=account_id,
        base_url=base_url,
        credentials=credentials,
        options=options or {},
        on_tokens=latest.append,
    ).ensure_setup(field_specs(maps_for(provider, mapping)))
    if on_fields is not None:
        on_fields(report)
    with transaction(sessions_) as session:
        connection = create_connection(
            session,
            tenant_id=tenant_id,
            provider=provider,
            account_id=account_id,
            name=name,
            credentials=latest[-1],
            base_url=base_url,
            options=options,
            auto_create=auto_create,
            mapping=mapping,
        )
        start_at_end(session, connection.id, tenant_id)
        return connection.id


def reconnect(
    sessions_: sessionmaker[Session],
    connection_id: int,
    *,
    credentials: Credentials,
    base_url: str | None = None,
    options: dict[str, Any] | None = None,
    mapping: str | None = None,
    on_fields: Callable[[FieldReport], None] | None = None,
) -> None:
    """Give a removed or auth_failed connection new credentials and make it active again.

    The setup runs first with the new credentials, so credentials the CRM refuses change
    nothing. Links, cursors and history are the connection's own and stay: records already
    linked are not made again, and the next scan starts where the last one stopped."""
    with sessions_() as session:
        row = session.get(Connection, connection_id)
        if row is None:
            raise NotFound("connection", connection_id)
        provider, account_id = row.provider, row.account_id
        kept_mapping = row.mapping or None
    latest = [credentials]
    setup = build(
        provider,
        account_id=account_id,
        base_url=base_url,
        credentials=credentials,
        options=options or {},
        on_tokens=latest.append,
    )
    report = setup.ensure_setup(field_specs(maps_for(provider, mapping or kept_mapping)))
    if on_fields is not None:
        on_fields(report)
    with transaction(sessions_) as session:
        row = session.get(Connection, connection_id)
        if row is None:
            raise NotFound("connection", connection_id)
        row.credentials = cipher().encrypt(latest[-1])
        row.base_url = base_url
        row.settings = {**(row.settings or {}), "connector": options or {}}
        if mapping is not None:
            row.mapping = mapping
        row.status, row.status_reason, row.updated_at = ConnectionStatus.ACTIVE, None, utcnow()
    log.info("connection %s: reconnected with new credentials", connection_id)


def reusable_connector(connection: Connection) -> Connector:
    """The connector this thread built for ``connection`` before, if nothing it was built
    from has changed since; else a new one (kept for the next job).

    A connector per job cost an SDK client and new HTTP connections each time. It is kept
    per thread, so two jobs never share one (nor its SDK session or call counter) at
    once. A token refreshed by any process changes the stored credentials, and the next
    job builds a connector with them."""
    key = _built_from(connection)
    cache: OrderedDict[int, tuple[tuple[Any, ...], Connector]] | None = getattr(
        _reusable, "connectors", None
    )
    if cache is None:
        cache = _reusable.connectors = OrderedDict()
    kept = cache.get(connection.id)
    if kept is not None and kept[0] == key:
        cache.move_to_end(connection.id)
        return kept[1]
    built = connector(connection)
    cache[connection.id] = (key, built)
    cache.move_to_end(connection.id)
    while len(cache) > REUSABLE_CONNECTORS:
        cache.popitem(last=False)
    return built


def _built_from(connection: Connection) -> tuple[Any, ...]:
    """What a connector for ``connection`` is built from: when any of it changes (new
    credentials, a refreshed token, other options), a new one is built."""
    return (
        connection.id,
        connection.provider,
        connection.account_id,
        connection.base_url,
        connection.credentials,
        json.dumps(connection.settings or {}, sort_keys=True, default=str),
    )


def connector(connection: Connection) -> Connector:
    """A connector for a stored connection, writing refreshed tokens back."""
    if connection.credentials is None:
        raise Permanent(
            f"connection {connection.id} has no stored credentials; connect the account again",
            provider=connection.provider,
            code="NO_CREDENTIALS",
        )
    connection_id = connection.id

    def store_tokens(refreshed: Credentials) -> None:
        with transaction(sessions()) as session:
            row = session.get(Connection, connection_id)
            if row is not None:
                row.credentials = cipher().encrypt(refreshed)
                row.updated_at = utcnow()
        log.info("connection %s: stored refreshed credentials", connection_id)

    return build(
        connection.provider,
        account_id=connection.account_id,
        base_url=connection.base_url,
        credentials=cipher().decrypt(connection.credentials),
        options=(connection.settings or {}).get("connector", {}),
        on_tokens=store_tokens,
        field_lists=field_lists(connection),
    )


def field_lists(connection: Connection) -> FieldLists:
    """Where this process's connectors for ``connection`` keep the CRM's field lists: the
    same for each connector built from the same values, so the lists are read again
    when a connector would be built anew on one thread for a change (a reconnect, which
    may have created properties; new options)."""
    key = _built_from(connection)
    with _field_lists_lock:
        kept = _field_lists.get(key)
        if kept is None:
            kept = _field_lists[key] = {}
            while len(_field_lists) > KEPT_FIELD_LISTS:
                _field_lists.popitem(last=False)
        _field_lists.move_to_end(key)
        return kept
