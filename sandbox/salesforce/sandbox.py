"""``SalesforceSandbox``: the public face of the Salesforce emulator.

One instance is one org. It serves the REST API over TLS (simple-salesforce only speaks
https) with a certificate made at start-up, and offers admin methods that act as a user
would in Salesforce's own UI: create, edit, delete, undelete and merge records, expire
sessions, register Outbound Messages, inject faults. The same admin actions are served
over HTTP under ``/__sandbox/salesforce/`` (see :mod:`sandbox.salesforce.admin`).

    with SalesforceSandbox() as sf_sandbox:
        sf_sandbox.seed(generate_companies(100))
        sf = sf_sandbox.client()            # an unchanged simple_salesforce.Salesforce
        sf.query("SELECT Id, Name FROM Account LIMIT 5")
"""

from __future__ import annotations

import secrets
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import requests
from simple_salesforce import Salesforce
from starlette.applications import Starlette
from starlette.routing import Mount, Route

from sandbox.faults import Faults
from sandbox.runner import ServerThread
from sandbox.seed import SeedCompany

from .admin import admin_routes
from .auth import DEFAULT_DAILY_API_LIMIT, DEFAULT_SESSION_LIFETIME_S, Credentials
from .ids import BASE62, IdFactory, checksum_suffix, truncate_ms
from .org import Org
from .outbound import DEFAULT_TIMEOUT_S, OutboundMessenger, Registration
from .rest import data_endpoint, token_endpoint
from .schema import CustomField, build_schema
from .seeding import account_row, contact_row
from .sobjects import record_json
from .tls import SelfSignedCertificate

DEFAULT_API_VERSION = "59.0"
ADMIN_PREFIX = "/__sandbox/salesforce"
SHUTDOWN_GRACE_S = 0.05


def _random_org_id() -> str:
    id15 = "00D" + "5J0" + "".join(secrets.choice(BASE62) for _ in range(9))
    return id15 + checksum_suffix(id15)


def _system_clock() -> datetime:
    return datetime.now(UTC)


class SalesforceSandbox:
    """An in-memory Salesforce org served over HTTPS."""

    def __init__(
        self,
        *,
        faults: Faults | None = None,
        daily_api_limit: int = DEFAULT_DAILY_API_LIMIT,
        org_id: str | None = None,
        session_lifetime_s: float = DEFAULT_SESSION_LIFETIME_S,
        with_external_id: bool = True,
        custom_fields: Iterable[CustomField] = (),
        with_crmsync_fields: bool = True,
        restricted_picklists: bool = False,
        clock: Callable[[], datetime] | None = None,
        outbound_time_scale: float = 1.0,
        outbound_timeout_s: float = DEFAULT_TIMEOUT_S,
        outbound_verify: bool | str = True,
        api_version: str = DEFAULT_API_VERSION,
    ) -> None:
        if org_id is not None and not (len(org_id) == 18 and org_id.startswith("00D")):
            raise ValueError(f"an org id is 18 characters starting with 00D, got {org_id!r}")
        self.faults = faults if faults is not None else Faults()
        self.api_version = api_version
        self.org = Org(
            org_id=org_id or _random_org_id(),
            schema=build_schema(
                with_external_id=with_external_id,
                custom_fields=custom_fields,
                with_crmsync_fields=with_crmsync_fields,
            ),
            ids=IdFactory(),
            clock=clock or _system_clock,
            faults=self.faults,
            daily_api_limit=daily_api_limit,
            session_lifetime_s=session_lifetime_s,
            restricted_picklists=restricted_picklists,
        )
        self.outbound = OutboundMessenger(
            self.org,
            time_scale=outbound_time_scale,
            timeout_s=outbound_timeout_s,
            verify=outbound_verify,
            api_version=api_version,
        )
        self.app = Starlette(
            routes=[
                Route("/services/oauth2/token", token_endpoint, methods=["POST"]),
                Route(
                    "/services/data{rest:path}",
                    data_endpoint,
                    methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
                ),
                Mount(ADMIN_PREFIX, routes=admin_routes()),
            ]
        )
        self.app.state.org = self.org
        self.app.state.sandbox = self
        self._certificate: SelfSignedCertificate | None = None
        self._server: ServerThread | None = None
        self._sessions: weakref.WeakSet[requests.Session] = weakref.WeakSet()

    # --- lifecycle -------------------------------------------------------------------

    def start(
        self, host: str = "127.0.0.1", port: int = 0, *, public_host: str | None = None
    ) -> SalesforceSandbox:
        """Serve on ``host``; ``public_host`` is the name clients use, when another (the
        certificate covers it, and the OAuth token response gives it as instance_url)."""
        self._certificate = SelfSignedCertificate(hosts=[public_host] if public_host else [])
        self._server = ServerThread(
            self.app,
            host=host,
            port=port,
            ssl_certfile=self._certificate.cert_path,
            ssl_keyfile=self._certificate.key_path,
            public_host=public_host,
        ).start()
        self.org.instance_url = self._server.url
        self.org.stopping.clear()
        self.outbound.start()
        return self

    def stop(self) -> None:
        self.org.stopping.set()
        self.outbound.stop()
        for session in list(self._sessions):
            session.close()
        if self._server is not None:
            self._shut_down(self._server)
            self._server = None
        if self._certificate is not None:
            self._certificate.cleanup()
            self._certificate = None

    @staticmethod
    def _shut_down(server: ServerThread) -> None:
        """Stop the server without waiting on idle TLS keep-alive connections.

        On shutdown uvicorn closes idle connections, but a TLS close waits for the
        client's close_notify, which an idle pooled client never sends (and a client
        socket stays open while anything still references a response read from it), so
        the stop would wait out its join timeout. After a short grace for clients to go,
        the server side of what is left is aborted on the server's own event loop.
        """
        state = getattr(getattr(server, "_server", None), "server_state", None)
        deadline = time.monotonic() + SHUTDOWN_GRACE_S
        while state is not None and state.connections and time.monotonic() < deadline:
            time.sleep(0.01)
        for connection in list(state.connections if state is not None else ()):
            transport = getattr(connection, "transport", None)
            loop = getattr(connection, "loop", None)
            if transport is not None and loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(transport.abort)
        server.stop()

    def serve_forever(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Start, print where to connect, and serve until interrupted (for a CLI)."""
        self.start(host, port)
        print(f"Salesforce sandbox at {self.url} (org {self.org_id})")
        print(f"trust this certificate: {self.cert_path}")
        print(f"credentials: {self.url}{ADMIN_PREFIX}/credentials")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def __enter__(self) -> SalesforceSandbox:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- where and how to connect ----------------------------------------------------

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox is not started")
        return self._server.url

    @property
    def instance_url(self) -> str:
        return self.url

    @property
    def token_url(self) -> str:
        return f"{self.url}/services/oauth2/token"

    @property
    def cert_path(self) -> str:
        if self._certificate is None:
            raise RuntimeError("the sandbox is not started")
        return self._certificate.cert_path

    @property
    def org_id(self) -> str:
        return self.org.org_id

    @property
    def credentials(self) -> Credentials:
        return self.org.credentials

    def access_token(self) -> str:
        """A fresh session id, as if the OAuth flow had just run."""
        return self.org.sessions.issue()

    def http_session(self) -> requests.Session:
        """A requests session that trusts the sandbox's certificate.

        ``trust_env`` is off because requests lets ``REQUESTS_CA_BUNDLE`` /
        ``CURL_CA_BUNDLE`` from the environment override ``Session.verify``; with it on,
        a machine that sets them would reject the sandbox's certificate.
        """
        session = requests.Session()
        session.verify = self.cert_path
        session.trust_env = False
        self._sessions.add(session)
        return session

    def client(self, session_id: str | None = None, *, version: str | None = None) -> Salesforce:
        """An unchanged simple-salesforce client connected with public arguments only."""
        return Salesforce(
            instance_url=self.instance_url,
            session_id=session_id or self.access_token(),
            session=self.http_session(),
            version=version or self.api_version,
        )

    # --- admin: sessions and limits ----------------------------------------------------

    def expire_sessions(self) -> None:
        self.org.sessions.expire_all()

    def revoke_refresh_token(self, revoked: bool = True) -> None:
        self.org.refresh_token_revoked = revoked

    @property
    def api_usage(self) -> int:
        return self.org.usage.used

    def set_api_usage(self, used: int) -> None:
        self.org.usage.set_used(used)

    def fail_bulk_queries(self, message: str | None = "Query timed out") -> None:
        """Bulk API 2.0 query jobs end ``Failed`` with ``message`` from now on (None: they
        complete again)."""
        self.org.bulk.failure = message

    # --- admin: records, as a user in Salesforce --------------------------------------

    def seed(self, companies: Iterable[SeedCompany]) -> list[str]:
        """Bulk-load companies as Accounts and their contacts as Contacts; returns Account ids."""
        store = self.org.store
        account_ids = []
        with store.lock:
            for company in companies:
                account_id = store.insert("Account", account_row(company))
                account_ids.append(account_id)
                for contact in company.contacts:
                    store.insert("Contact", contact_row(contact, account_id, company))
        return account_ids

    def add_user(self, email: str, first_name: str = "", last_name: str = "User") -> str:
        """Add an active User, as an admin does in Setup; its Id."""
        return self.org.store.add_user(email=email, first_name=first_name, last_name=last_name)

    def deactivate_user(self, user_id: str) -> None:
        self.org.store.deactivate_user(user_id)

    def add_field(self, custom: CustomField) -> None:
        """What an admin does in Setup > Object Manager: the field appears in describe,
        queries and writes at once; existing records hold null in it."""
        for object_name in custom.objects:
            self.org.store.add_field(object_name, custom.to_field())

    def create(self, object_name: str, fields: Mapping[str, Any]) -> str:
        return self.org.store.create(object_name, fields)

    def update(
        self, object_name: str, record_id: str, fields: Mapping[str, Any], *, system: bool = False
    ) -> None:
        """Edit a record; ``system=True`` acts as automation (SystemModstamp only)."""
        self.org.store.update(object_name, record_id, fields, system=system)

    def delete(self, object_name: str, record_id: str) -> None:
        self.org.store.delete(object_name, record_id)

    def undelete(self, object_name: str, record_id: str) -> None:
        self.org.store.undelete(object_name, record_id)

    def merge(
        self,
        object_name: str,
        master_id: str,
        loser_ids: list[str],
        master_fields: Mapping[str, Any] | None = None,
    ) -> None:
        self.org.store.merge(object_name, master_id, loser_ids, master_fields)

    def record(self, object_name: str, record_id: str) -> dict[str, Any] | None:
        """The record's raw state (deleted ones too) as the REST API would render it."""
        store = self.org.store
        with store.lock:
            found = store.find(object_name, record_id)
        if found is None:
            return None
        return record_json(store.object(object_name), found, self.api_version)

    def records(self, object_name: str, *, include_deleted: bool = True) -> list[dict[str, Any]]:
        store = self.org.store
        obj = store.object(object_name)
        return [
            record_json(obj, record, self.api_version)
            for record in store.snapshot(object_name)
            if include_deleted or not record["IsDeleted"]
        ]

    def now(self) -> datetime:
        return truncate_ms(self.org.clock())

    # --- admin: outbound messages -----------------------------------------------------

    def register_outbound(
        self,
        endpoint_url: str,
        object_name: str,
        fields: list[str],
        *,
        send_session_id: bool = False,
    ) -> Registration:
        return self.outbound.register(
            endpoint_url, object_name, fields, send_session_id=send_session_id
        )

    def unregister_outbound(self, registration_id: str) -> None:
        self.outbound.unregister(registration_id)

    def flush_outbound(self, timeout: float = 10.0) -> bool:
        return self.outbound.flush(timeout)

    def pause_outbound(self) -> None:
        self.outbound.pause()

    def resume_outbound(self) -> None:
        self.outbound.resume()
