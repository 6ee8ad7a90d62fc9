"""``HubSpotSandbox``: one emulated HubSpot portal, its HTTP app and its admin controls.

Tests, the demo and benchmarks build one, seed it, start it on a real socket and point the
unchanged ``hubspot-api-client`` at :attr:`url`. The admin methods act as a person in the
HubSpot UI (changeSource ``CRM_UI``), so a test can change the CRM behind a client's back.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sandbox.faults import Faults
from sandbox.hubspot.api_common import ApiContext
from sandbox.hubspot.app import build_app
from sandbox.hubspot.associations import PRIMARY, UNLABELED
from sandbox.hubspot.auth import DEFAULT_TOKEN_TTL_S, Credentials, TokenAuthority
from sandbox.hubspot.errors import not_found
from sandbox.hubspot.properties import OBJECT_TYPE_ALIASES
from sandbox.hubspot.property_groups import DEFAULT_GROUPS
from sandbox.hubspot.ratelimit import RateLimiter, RateLimits
from sandbox.hubspot.records import Record
from sandbox.hubspot.search import SearchEngine
from sandbox.hubspot.seeding import seed_store
from sandbox.hubspot.sources import UI
from sandbox.hubspot.store import PortalStore, now_ms
from sandbox.hubspot.webhooks import (
    WebhookDispatcher,
    WebhookFaults,
    WebhookOptions,
    WebhookSubscription,
)
from sandbox.runner import ServerThread
from sandbox.seed import SeedCompany

DEFAULT_PORTAL_ID = 48_215_730
_DEFAULT_LIMITS = RateLimits()


class HubSpotSandbox:
    def __init__(
        self,
        *,
        faults: Faults | None = None,
        limits: RateLimits | None = _DEFAULT_LIMITS,
        portal_id: int = DEFAULT_PORTAL_ID,
        search_index_lag_s: float = 0.0,
        oauth_token_ttl_s: float = DEFAULT_TOKEN_TTL_S,
        webhook_subscription: WebhookSubscription | None = None,
        webhook_retry_scale: float = 1.0,
        webhook_faults: WebhookFaults | None = None,
        webhook_timeout_s: float = 5.0,
        webhook_batch_window_s: float = 0.05,
        seed: int = 0,
    ) -> None:
        self.faults = faults if faults is not None else Faults(seed=seed)
        self.limits = limits
        self.portal_id = portal_id
        self.store = PortalStore(
            portal_id=portal_id, search_index_lag_s=search_index_lag_s, seed=seed
        )
        self.auth = TokenAuthority(portal_id=portal_id, token_ttl_s=oauth_token_ttl_s)
        options = WebhookOptions(
            retry_scale=webhook_retry_scale,
            timeout_s=webhook_timeout_s,
            batch_window_s=webhook_batch_window_s,
            faults=webhook_faults or WebhookFaults(),
            seed=seed,
        )
        self.webhooks = WebhookDispatcher(portal_id=portal_id, options=options, faults=self.faults)
        self.webhooks.subscription = webhook_subscription
        self.store.emit = self.webhooks.enqueue
        self._context = context = ApiContext(
            store=self.store,
            search=SearchEngine(self.store),
            auth=self.auth,
            faults=self.faults,
            limiter=RateLimiter(limits) if limits is not None else None,
        )
        self.app = build_app(context, self)
        self._server: ServerThread | None = None

    # ---- lifecycle ---------------------------------------------------------------------

    def start(
        self, host: str = "127.0.0.1", port: int = 0, *, public_host: str | None = None
    ) -> HubSpotSandbox:
        """Serve on ``host``; ``public_host`` is the name clients use, when another."""
        self._context.stopping = False
        self._server = ServerThread(self.app, host=host, port=port, public_host=public_host)
        self._server.start()
        return self

    def stop(self) -> None:
        self._context.stopping = True
        if self._server is not None:
            self._server.stop()
            self._server = None
        self.webhooks.stop()

    def __enter__(self) -> HubSpotSandbox:
        return self.start() if self._server is None else self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox is not started")
        return self._server.url

    # ---- credentials -------------------------------------------------------------------

    @property
    def credentials(self) -> Credentials:
        return self.auth.credentials

    @property
    def access_token(self) -> str:
        """The private-app token: never expires."""
        return self.auth.credentials.private_app_token

    def expire_tokens(self) -> None:
        """Expire every OAuth access token issued so far."""
        self.auth.expire_all()

    def revoke_tokens(self) -> None:
        """Refuse every token issued so far, refresh token and private-app token included
        (the app was uninstalled); ``credentials`` then holds the new ones."""
        self.auth.revoke_all()

    # ---- data --------------------------------------------------------------------------

    def seed(self, companies: Iterable[SeedCompany]) -> tuple[int, int]:
        """Bulk-load companies and their contacts (no webhooks); returns the counts."""
        return seed_store(self.store, companies)

    def add_owner(self, email: str, first_name: str = "", last_name: str = "") -> str:
        """Add a user who can own records (as a person invites one in HubSpot); its owner id."""
        return str(self._context.owners.add(email, first_name, last_name).id)

    def deactivate_owner(self, owner_id: str | int) -> None:
        """Deactivate an owner: listed only with ``archived=true`` from then on."""
        self._context.owners.deactivate(int(owner_id))

    def create_property(
        self,
        object_type: str,
        name: str,
        *,
        label: str | None = None,
        unique: bool = False,
        type: str = "string",
    ) -> dict[str, Any]:
        object_type = _type(object_type)
        body = {"name": name, "label": label or name, "type": type, "groupName": DEFAULT_GROUPS[object_type][0],
                "fieldType": "number" if type == "number" else "text", "hasUniqueValue": unique}  # fmt: skip
        prop = self.store.schema.create(object_type, body, now_ms())
        if unique:
            self.store.add_unique_index(object_type, name)
        return prop.to_json()

    def create(
        self, object_type: str, properties: dict[str, Any], *, company_id: str | int | None = None
    ) -> dict[str, Any]:
        """Create a record as a user would; a contact can be given its primary company."""
        object_type = _type(object_type)
        clean = self.store.schema.validate_write(object_type, properties)
        links = (
            [("companies", int(company_id), {PRIMARY})]
            if company_id and object_type == "contacts"
            else []
        )
        return self._raw(
            object_type, self.store.create(object_type, clean, source=UI, associations=links)
        )

    def update(
        self, object_type: str, object_id: str | int, properties: dict[str, Any]
    ) -> dict[str, Any]:
        object_type = _type(object_type)
        clean = self.store.schema.validate_write(object_type, properties)
        with self.store.lock:
            record = self._record(object_type, object_id)
            return self._raw(object_type, self.store.update(object_type, record, clean, source=UI))

    def archive(self, object_type: str, object_id: str | int) -> None:
        object_type = _type(object_type)
        with self.store.lock:
            self.store.archive(object_type, self._record(object_type, object_id), source=UI)

    def restore(self, object_type: str, object_id: str | int) -> dict[str, Any]:
        object_type = _type(object_type)
        with self.store.lock:
            record = self._record(object_type, object_id, archived=True)
            return self._raw(object_type, self.store.restore(object_type, record, source=UI))

    def merge(self, object_type: str, primary_id: str | int, other_id: str | int) -> dict[str, Any]:
        object_type = _type(object_type)
        with self.store.lock:
            primary = self._record(object_type, primary_id, follow_merges=False)
            other = self._record(object_type, other_id, follow_merges=False)
            return self._raw(object_type, self.store.merge(object_type, primary, other, source=UI))

    def associate(
        self, contact_id: str | int, company_id: str | int, *, primary: bool = False
    ) -> None:
        kinds = {PRIMARY, UNLABELED} if primary else {UNLABELED}
        self.store.associate(
            "contacts", int(contact_id), "companies", int(company_id), kinds, source=UI
        )

    def disassociate(self, contact_id: str | int, company_id: str | int) -> None:
        self.store.disassociate("contacts", int(contact_id), int(company_id), None, source=UI)

    def get(self, object_type: str, object_id: str | int) -> dict[str, Any] | None:
        """Raw state of a record, archived or live; a merged-away id gives the survivor."""
        object_type = _type(object_type)
        with self.store.lock:
            record = self.store.tables[object_type].resolve(int(object_id), follow_merges=True)
            return None if record is None else self._raw(object_type, record)

    def ids(self, object_type: str, *, archived: bool = False) -> list[str]:
        table = self.store.tables[_type(object_type)]
        with self.store.lock:
            return [str(i) for i in (table.archived_ids if archived else table.live_ids)]

    # ---- webhooks ----------------------------------------------------------------------

    def subscribe_webhooks(self, subscription: WebhookSubscription | None) -> None:
        self.webhooks.subscription = subscription

    def flush_webhooks(self, timeout: float = 10.0) -> bool:
        """Wait until every queued event was delivered or given up; False on timeout."""
        return self.webhooks.flush(timeout)

    # ---- helpers -----------------------------------------------------------------------

    def _record(self, object_type: str, object_id: str | int, *, archived: bool = False,
                follow_merges: bool = True) -> Record:  # fmt: skip
        record = self.store.get(
            object_type, str(object_id), archived=archived, follow_merges=follow_merges
        )
        if record is None:
            raise not_found()
        return record

    def _raw(self, object_type: str, record: Record) -> dict[str, Any]:
        body = record.envelope(dict(record.props))
        index = self.store.associations
        other = "companies" if object_type == "contacts" else "contacts"
        body["associations"] = {
            other: [
                {"id": str(i), "kinds": sorted(index.kinds(*index.key(object_type, record.id, i)))}
                for i in index.neighbours(object_type, record.id)
            ]
        }
        return body


def _type(object_type: str) -> str:
    resolved = OBJECT_TYPE_ALIASES.get(object_type)
    if resolved is None:
        raise ValueError(f"unknown object type {object_type!r}")
    return resolved
