"""HubSpot owners: the portal's users who can own records, as ``/crm/v3/owners`` serves them.

``GET /crm/v3/owners/`` pages through them (``limit`` up to 500, ``after`` a cursor) and
filters by ``email``; ``GET /crm/v3/owners/{ownerId}`` reads one by owner id, or by user id
with ``idProperty=userId``. ``archived=true`` lists deactivated owners instead of active
ones. Shapes follow hubspot-api-client's ``crm.owners`` models (``PublicOwner``,
``CollectionResponsePublicOwnerForwardPaging``): ids are strings, user ids integers.
The portal starts with :data:`sandbox.seed.SALES_REPS` as its owners.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from sandbox.hubspot.api_common import ApiContext, bool_param, int_param, json_response
from sandbox.hubspot.errors import not_found, validation_error
from sandbox.hubspot.records import iso_ms
from sandbox.hubspot.store import now_ms
from sandbox.seed import SALES_REPS, SeedPerson

MAX_LIMIT = 500
DEFAULT_LIMIT = 100
FIRST_OWNER_ID = 51_000_001
FIRST_USER_ID = 7_100_001


@dataclass
class Owner:
    id: int
    user_id: int
    email: str
    first_name: str
    last_name: str
    created_ms: int
    updated_ms: int
    archived: bool = False

    def body(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "email": self.email,
            "type": "PERSON",
            "firstName": self.first_name,
            "lastName": self.last_name,
            "userId": self.user_id,
            "userIdIncludingInactive": self.user_id,
            "createdAt": iso_ms(self.created_ms),
            "updatedAt": iso_ms(self.updated_ms),
            "archived": self.archived,
            "teams": [],
        }


@dataclass
class OwnerDirectory:
    owners: list[Owner] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(0))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def seeded(cls, people: tuple[SeedPerson, ...] = SALES_REPS) -> OwnerDirectory:
        directory = cls()
        for person in people:
            directory.add(person.email, person.first_name, person.last_name)
        return directory

    def add(self, email: str, first_name: str, last_name: str) -> Owner:
        with self._lock:
            n = next(self._ids)
            now = now_ms()
            owner = Owner(FIRST_OWNER_ID + n, FIRST_USER_ID + n, email, first_name, last_name,
                          now, now)  # fmt: skip
            self.owners.append(owner)
            return owner

    def deactivate(self, owner_id: int) -> None:
        with self._lock:
            for owner in self.owners:
                if owner.id == owner_id:
                    owner.archived, owner.updated_ms = True, now_ms()


async def list_owners(ctx: ApiContext, request: Request, _: str) -> Response:
    limit = int_param(request, "limit", DEFAULT_LIMIT)
    if not 1 <= limit <= MAX_LIMIT:
        raise validation_error(f"limit must be between 1 and {MAX_LIMIT}; got {limit}.")
    after = int_param(request, "after", 0)
    archived = bool_param(request, "archived")
    email = (request.query_params.get("email") or "").strip().lower()
    owners = [
        owner
        for owner in ctx.owners.owners
        if owner.archived == archived and (not email or owner.email.lower() == email)
    ]
    page = owners[after : after + limit]
    body: dict[str, Any] = {"results": [owner.body() for owner in page]}
    if after + limit < len(owners):
        following = str(after + limit)
        link = str(request.url.include_query_params(after=following))
        body["paging"] = {"next": {"after": following, "link": link}}
    return json_response(body)


async def get_owner(ctx: ApiContext, request: Request, _: str) -> Response:
    id_property = request.query_params.get("idProperty", "id")
    if id_property not in ("id", "userId"):
        raise validation_error(f"idProperty must be id or userId; got {id_property!r}.")
    archived = bool_param(request, "archived")
    raw = request.path_params["owner_id"]
    for owner in ctx.owners.owners:
        key = owner.id if id_property == "id" else owner.user_id
        if str(key) == raw and owner.archived == archived:
            return json_response(owner.body())
    raise not_found()
