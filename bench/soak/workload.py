"""The soak's workload: creates, edits, deletes and merges in both CRMs and in the
directory, on three threads at once, each with its own seeded generator.

CRM changes go through the sandboxes' own admin methods (as a person in the CRM's UI);
local changes through ``customers.service``, the only code that changes the directory.
Edits set values no one else ever sets (each carries the operation's number), so a check
can tell which edit a value came from. Every operation is logged in the ``History`` with
the local field names it set.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from bench.soak.history import History, crm_key, customer_key
from customers import db, service
from customers.errors import DirectoryError
from customers.models import Customer
from sandbox.hubspot import HubSpotSandbox
from sandbox.salesforce import SalesforceSandbox

# Local field -> (HubSpot property, Salesforce field) for the fields edits change.
EDITED_FIELDS: dict[str, tuple[str, str]] = {
    "name": ("name", "Name"),
    "billing_city": ("city", "BillingCity"),
    "billing_postal_code": ("zip", "BillingPostalCode"),
    "notes": ("description", "Description"),
}

HUBSPOT_ID_PROPERTY = "crmsync_id"
SALESFORCE_ID_FIELD = "CrmsyncId__c"

# Shares of each kind of operation (per side); edits dominate, as in real use.
MIX = (("edit", 0.70), ("create", 0.15), ("delete", 0.08), ("merge", 0.07))


@dataclass(frozen=True)
class Rates:
    ops_per_s: float = 2.0  # per side


def _value(field: str, side: str, number: int) -> str:
    tag = f"{side[0]}{number}"
    if field == "billing_postal_code":
        return f"Z-{tag}"
    if field == "notes":
        return f"note {tag}"
    if field == "name":
        return f"Soak Renamed {tag} GmbH"
    return f"City {tag}"


class Workload:
    def __init__(self, *, seed: int, history: History, hubspot: HubSpotSandbox,
                 salesforce: SalesforceSandbox, sessions: sessionmaker[Session], tenant_id: int,
                 rates: Rates) -> None:  # fmt: skip
        self.seed = seed
        self.history = history
        self.hubspot = hubspot
        self.salesforce = salesforce
        self.sessions = sessions
        self.tenant_id = tenant_id
        self.rates = rates
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.errors: list[str] = []
        self._numbers = iter(range(1, 10**9))
        self._numbers_lock = threading.Lock()

    def number(self) -> int:
        with self._numbers_lock:
            return next(self._numbers)

    # -- running ----------------------------------------------------------------------------

    def start(self) -> None:
        sides: list[tuple[str, Callable[[random.Random, str], None]]] = [
            ("hubspot", self._hubspot), ("salesforce", self._salesforce), ("local", self._local),
        ]  # fmt: skip
        for offset, (side, operate) in enumerate(sides):
            rng = random.Random(self.seed * 1000 + offset)
            thread = threading.Thread(target=self._loop, args=(side, rng, operate),
                                      name=f"soak-{side}", daemon=True)  # fmt: skip
            thread.start()
            self.threads.append(thread)

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def _loop(
        self, side: str, rng: random.Random, operate: Callable[[random.Random, str], None]
    ) -> None:
        while not self.stopping.is_set():
            roll, kind = rng.random(), "edit"
            for name, share in MIX:
                if roll < share:
                    kind = name
                    break
                roll -= share
            try:
                operate(rng, kind)
            except Exception as error:  # a workload bug must show, not stop the soak silently
                self.errors.append(f"{side} {kind}: {type(error).__name__}: {error}")
            self.stopping.wait(rng.expovariate(self.rates.ops_per_s))

    # -- HubSpot ------------------------------------------------------------------------------

    def _hubspot(self, rng: random.Random, kind: str) -> None:
        ids = self.hubspot.ids("companies")
        n = self.number()
        key = lambda i: crm_key("hubspot", "company", i)  # noqa: E731
        if kind == "create" or len(ids) < 4:
            city = _value("billing_city", "hubspot", n)
            created = self.hubspot.create("companies", {"name": f"Soak HubSpot {n} Inc", "domain": f"soak-h{n}.com", "city": city})  # fmt: skip
            self.history.log("hubspot", "create", [key(created["id"])], {"name": f"Soak HubSpot {n} Inc", "billing_city": city})  # fmt: skip
        elif kind == "edit":
            target = rng.choice(ids)
            field = rng.choice(list(EDITED_FIELDS))
            value = _value(field, "hubspot", n)
            self.hubspot.update("companies", target, {EDITED_FIELDS[field][0]: value})
            self.history.log("hubspot", "edit", [key(target)], {field: value})
        elif kind == "delete":
            target = rng.choice(ids)
            carried = self._hubspot_ids([target])
            self.hubspot.archive("companies", target)
            self.history.log("hubspot", "delete", [key(target)], carried=carried)
        else:
            primary, other = rng.sample(ids, 2)
            carried = self._hubspot_ids([primary, other])
            # HubSpot makes a new record of a merge: the first key is where both went.
            new = self.hubspot.merge("companies", primary, other)["id"]
            self.history.log("hubspot", "merge", [key(new), key(primary), key(other)],
                             note=f"{primary} and {other} merged into {new}", carried=carried)  # fmt: skip

    # -- Salesforce -----------------------------------------------------------------------------

    def _salesforce(self, rng: random.Random, kind: str) -> None:
        ids = [r["Id"] for r in self.salesforce.records("Account", include_deleted=False)]
        n = self.number()
        key = lambda i: crm_key("salesforce", "account", i)  # noqa: E731
        if kind == "create" or len(ids) < 4:
            city = _value("billing_city", "salesforce", n)
            name = f"Soak Salesforce {n} Ltd"
            created = self.salesforce.create("Account", {"Name": name, "Website": f"https://soak-s{n}.io", "BillingCity": city})  # fmt: skip
            self.history.log("salesforce", "create", [key(created)], {"name": name, "billing_city": city})  # fmt: skip
        elif kind == "edit":
            target = rng.choice(ids)
            field = rng.choice(list(EDITED_FIELDS))
            value = _value(field, "salesforce", n)
            self.salesforce.update("Account", target, {EDITED_FIELDS[field][1]: value})
            self.history.log("salesforce", "edit", [key(target)], {field: value})
        elif kind == "delete":
            target = rng.choice(ids)
            carried = self._salesforce_ids([target])
            self.salesforce.delete("Account", target)
            self.history.log("salesforce", "delete", [key(target)], carried=carried)
        else:
            master, loser = rng.sample(ids, 2)
            carried = self._salesforce_ids([master, loser])
            self.salesforce.merge("Account", master, [loser])
            self.history.log("salesforce", "merge", [key(master), key(loser)], note=f"{loser} merged into {master}", carried=carried)  # fmt: skip

    def _hubspot_ids(self, ids: list[str]) -> dict[str, str]:
        carried = {}
        for external_id in ids:
            record = self.hubspot.get("companies", external_id) or {"properties": {}}
            carried[external_id] = record["properties"].get(HUBSPOT_ID_PROPERTY) or ""
        return carried

    def _salesforce_ids(self, ids: list[str]) -> dict[str, str]:
        carried = {}
        for external_id in ids:
            record = self.salesforce.record("Account", external_id) or {}
            carried[external_id] = record.get(SALESFORCE_ID_FIELD) or ""
        return carried

    # -- the directory ---------------------------------------------------------------------------

    def _local(self, rng: random.Random, kind: str) -> None:
        with self.sessions() as session:
            ids = list(session.scalars(select(Customer.id).where(
                Customer.tenant_id == self.tenant_id, Customer.archived_at.is_(None),
                Customer.deleted_at.is_(None)).order_by(Customer.id)))  # fmt: skip
        n = self.number()
        if kind == "merge":
            kind = "edit"  # the directory has no merge; duplicates are linked by hand
        if kind == "create" or len(ids) < 4:
            values: dict[str, Any] = {"name": f"Soak Local {n} AG", "email": f"billing@soak-l{n}.de",
                                      "billing_street": f"Soakstraße {n}",
                                      "billing_city": _value("billing_city", "local", n), "billing_country": "DE"}  # fmt: skip
            self._write(
                "create", None, values, lambda s: service.create_customer(s, self.tenant_id, values)
            )
        elif kind == "edit":
            target = rng.choice(ids)
            field = rng.choice(list(EDITED_FIELDS))
            changes = {field: _value(field, "local", n)}
            self._write("edit", target, changes,
                        lambda s: service.update_customer(s, self.tenant_id, target, changes))  # fmt: skip
        else:
            target = rng.choice(ids)
            self._write("archive", target, {},
                        lambda s: service.archive_customer(s, self.tenant_id, target))  # fmt: skip

    def _write(self, kind: str, target: int | None, values: dict[str, Any],
               change: Callable[[Session], Customer]) -> None:  # fmt: skip
        try:
            with db.transaction(self.sessions) as session:
                customer = change(session)
                customer_id = customer.id
        except (DirectoryError, StaleDataError) as error:
            # A refused write (e.g. a version race with the sync) changed nothing: logged so
            # the history shows it, never counted as an edit.
            self.history.log("local", kind, [customer_key(target or 0)], values, note=str(error), ok=False)  # fmt: skip
            return
        self.history.log("local", kind, [customer_key(customer_id)], values)
        time.sleep(0)  # let the other sides interleave
