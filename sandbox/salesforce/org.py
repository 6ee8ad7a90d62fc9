"""One org's moving parts in one place: records, queries, bulk query jobs, sessions, API
usage, faults.

:class:`Org` is what the REST app, the admin endpoints and :class:`SalesforceSandbox`
share; it holds no HTTP code.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from sandbox.faults import Faults
from sandbox.seed import SALES_REPS

from .auth import ApiUsage, Credentials, Sessions
from .bulk import BulkQueryJobs
from .ids import IdFactory
from .query import QueryEngine
from .schema import ObjectDef
from .store import OrgStore

# API versions the org answers to (Summer '14 .. Winter '25); simple-salesforce uses 59.0.
MIN_VERSION = 31
MAX_VERSION = 62
_SEASONS = ("Winter", "Spring", "Summer")


def version_label(major: int) -> str:
    offset = major - MAX_VERSION
    return f"{_SEASONS[offset % 3]} '{25 + offset // 3}"


def supported_versions() -> list[dict[str, str]]:
    return [
        {
            "label": version_label(major),
            "url": f"/services/data/v{major}.0",
            "version": f"{major}.0",
        }
        for major in range(MIN_VERSION, MAX_VERSION + 1)
    ]


def is_supported_version(version: str) -> bool:
    major, _, minor = version.partition(".")
    return major.isdigit() and minor == "0" and MIN_VERSION <= int(major) <= MAX_VERSION


class Org:
    """The state of one sandbox org."""

    def __init__(
        self,
        *,
        org_id: str,
        schema: dict[str, ObjectDef],
        ids: IdFactory,
        clock: Callable[[], datetime],
        faults: Faults,
        daily_api_limit: int,
        session_lifetime_s: float,
        restricted_picklists: bool,
    ) -> None:
        self.org_id = org_id
        self.ids = ids
        self.clock = clock
        self.user_id = ids.new("User")
        self.store = OrgStore(
            schema,
            ids=ids,
            clock=clock,
            user_id=self.user_id,
            restricted_picklists=restricted_picklists,
        )
        # The API user, then the people who own records (the same in the HubSpot sandbox).
        self.store.add_user(
            email="integration@crmsync.example", first_name="crmsync",
            last_name="Integration", user_id=self.user_id,
        )  # fmt: skip
        for person in SALES_REPS:
            self.store.add_user(
                email=person.email, first_name=person.first_name, last_name=person.last_name
            )
        self.query = QueryEngine(self.store, ids)
        self.bulk = BulkQueryJobs(self.query, ids, user_id=self.user_id, clock=clock)
        self.sessions = Sessions(org_id, clock, session_lifetime_s)
        self.usage = ApiUsage(daily_api_limit, clock)
        self.credentials = Credentials.generate(org_id, self.user_id)
        self.refresh_token_revoked = False
        self.faults = faults
        self.instance_url = ""
        # Set when the server stops, so stalled ("timeout" fault) requests end at once.
        self.stopping = threading.Event()
