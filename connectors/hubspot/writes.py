"""HubSpot writes: batch upserts keyed on our own unique property, batch updates of linked
records, default contact -> company associations, and batch archive.

A retried create can never make a second record, because records we create are only ever
created by an upsert on the property that holds our local id. A batch HubSpot refuses for
bad data is halved until the bad records stand alone (``connectors.batching``). Calls go
through :class:`connectors.hubspot.api.HubSpotApi`; this module knows no scans or cursors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from connectors.base import WriteRequest, WriteResult
from connectors.batching import chunks, split_on_error
from connectors.errors import ConnectorError, NotFound, Permanent
from connectors.hubspot.api import PROVIDER, HubSpotApi
from connectors.hubspot.records import SEGMENTS, parse_time

BATCH_SIZE = 100  # HubSpot's limit for every batch verb
HISTORY_BATCH = 50  # records per read when property history is asked for
ASSOCIATION_BATCH = 1_000
# Edits found in a record's property history: name -> (the newest value, when it was set).
Edits = dict[str, tuple[str, datetime]]


class HubSpotWrites:
    def __init__(
        self, *, api: HubSpotApi, id_property: str, watched: Callable[[str], Sequence[str]]
    ) -> None:
        self.api = api
        self.id_property = id_property
        # Per object type, the properties whose edits a sync reads (the guard's history).
        self.watched = watched

    def upsert(self, object_type: str, requests: Sequence[WriteRequest]) -> list[WriteResult]:
        results: dict[int, WriteResult] = {}
        # The last request per local id wins; HubSpot refuses a batch naming an id twice.
        last = {r.local_id: n for n, r in enumerate(requests)}
        unique = list(last.values())
        linked = [n for n in unique if requests[n].external_id]
        new = [n for n in unique if not requests[n].external_id]
        failed: dict[int, ConnectorError] = {}
        for chunk in chunks(linked, BATCH_SIZE):
            split_on_error(chunk, lambda c: self._update(object_type, requests, c, results), failed)
        for chunk in chunks(new, BATCH_SIZE):
            split_on_error(chunk, lambda c: self._upsert(object_type, requests, c, results), failed)
        for n, error in failed.items():
            results[n] = WriteResult(requests[n].local_id, requests[n].external_id, error=error)
        if object_type == "contact":
            self._associate(requests, unique, results)
        return [results[last[r.local_id]] for r in requests]

    def _props(self, request: WriteRequest) -> dict[str, Any]:
        props = {k: ("" if v is None else str(v)) for k, v in request.properties.items()}
        props[self.id_property] = request.local_id
        return props

    def _update(
        self,
        object_type: str,
        requests: Sequence[WriteRequest],
        chunk: list[int],
        results: dict[int, WriteResult],
    ) -> None:
        segment = SEGMENTS[object_type]
        body = {
            "inputs": [
                {"id": requests[n].external_id, "properties": self._props(requests[n])}
                for n in chunk
            ]
        }
        response = self.api.call(
            f"{segment}.batch.update",
            lambda api, o: api.sdk(f"crm.{segment}.batch_api").update(body, **o),
        )
        by_id = {str(raw["id"]): raw for raw in (response.data or {}).get("results") or []}
        written: dict[int, datetime | None] = {}
        for n in chunk:
            request = requests[n]
            raw = by_id.get(str(request.external_id))
            if raw is None:
                error = NotFound(
                    f"{object_type} {request.external_id} not found (deleted or merged)",
                    provider=PROVIDER,
                    code="OBJECT_NOT_FOUND",
                    status=404,
                )
                results[n] = WriteResult(request.local_id, request.external_id, error=error)
                continue
            written[n] = parse_time(raw.get("updatedAt"))
            results[n] = WriteResult(request.local_id, request.external_id, modified_at=written[n])
        for n, (overwritten, unseen) in self._replaced(object_type, requests, written).items():
            results[n] = replace(results[n], overwritten=overwritten, unseen=unseen)

    def _replaced(
        self,
        object_type: str,
        requests: Sequence[WriteRequest],
        written: dict[int, datetime | None],
    ) -> dict[int, tuple[Edits, Edits]]:
        """CRM edits made between our last read of each updated record and the update,
        as (replaced, left alone) per request. HubSpot has no conditional write, so each
        updated record that was read before (``unmodified_since``) is read again with
        ``propertiesWithHistory`` (50 records a call) for the properties written and every
        other one a sync reads: a value set after that read and before our write was never
        merged. Replaced: other than the one we wrote. Left alone: a property we did not
        write; the write's time becomes the time up to which the record is known, so no
        later write would see that edit. The caller merges both by the fields' rules."""
        todo = [n for n in written if requests[n].unmodified_since is not None]
        if not todo:
            return {}
        segment = SEGMENTS[object_type]
        watched = [name for name in self.watched(object_type) if name != self.id_property]
        names = sorted({*watched, *(name for n in todo for name in requests[n].properties)})
        lost: dict[int, tuple[Edits, Edits]] = {}
        for chunk in chunks(todo, HISTORY_BATCH):
            body = {
                "properties": [],
                "propertiesWithHistory": names,
                "inputs": [{"id": requests[n].external_id} for n in chunk],
            }
            response = self.api.call(
                f"{segment}.batch.read",
                lambda api, o, b=body: api.sdk(f"crm.{segment}.batch_api").read(b, **o),
            )
            by_id = {
                str(raw["id"]): raw.get("propertiesWithHistory") or {}
                for raw in (response.data or {}).get("results") or []
            }
            for n in chunk:
                request = requests[n]
                history = by_id.get(str(request.external_id)) or {}
                replaced = {
                    name: edit
                    for name, value in request.properties.items()
                    if (edit := _edit_between(history.get(name) or [], request, written[n], value))
                }
                unseen = {
                    name: edit
                    for name in watched
                    if name not in request.properties
                    and (edit := _edit_between(history.get(name) or [], request, written[n]))
                }
                if replaced or unseen:
                    lost[n] = (replaced, unseen)
        return lost

    def _upsert(
        self,
        object_type: str,
        requests: Sequence[WriteRequest],
        chunk: list[int],
        results: dict[int, WriteResult],
    ) -> None:
        segment = SEGMENTS[object_type]
        id_property = self.id_property
        body = {
            "inputs": [
                {
                    "id": requests[n].local_id,
                    "idProperty": id_property,
                    "properties": self._props(requests[n]),
                }
                for n in chunk
            ]
        }
        response = self.api.call(
            f"{segment}.batch.upsert",
            lambda api, o: api.sdk(f"crm.{segment}.batch_api").upsert(body, **o),
        )
        by_local = {
            str((raw.get("properties") or {}).get(id_property)): raw
            for raw in (response.data or {}).get("results") or []
        }
        for n in chunk:
            request = requests[n]
            raw = by_local.get(request.local_id)
            if raw is None:
                error = Permanent(
                    f"HubSpot did not answer for {object_type} {request.local_id}",
                    provider=PROVIDER,
                    code="MISSING_RESULT",
                )
                results[n] = WriteResult(request.local_id, None, error=error)
            else:
                results[n] = WriteResult(
                    request.local_id,
                    str(raw["id"]),
                    bool(raw.get("new")),
                    modified_at=parse_time(raw.get("updatedAt")),
                )

    def _associate(
        self, requests: Sequence[WriteRequest], indices: list[int], results: dict[int, WriteResult]
    ) -> None:
        """Default contact -> company associations for written contacts (idempotent)."""
        pairs = [
            (n, company_id)
            for n in indices
            if results[n].ok and results[n].external_id
            for company_id in requests[n].associations
        ]
        errors: dict[int, ConnectorError] = {}

        def send(chunk: list[int]) -> None:
            body = {
                "inputs": [
                    {"from": {"id": results[pairs[p][0]].external_id}, "to": {"id": pairs[p][1]}}
                    for p in chunk
                ]
            }
            self.api.call(
                "associations.batch.associate_default",
                lambda api, o: api.sdk("crm.associations.v4.batch_api").create_default(
                    "contacts", "companies", body, **o
                ),
            )

        for chunk in chunks(list(range(len(pairs))), ASSOCIATION_BATCH):
            split_on_error(chunk, send, errors)
        for p, error in errors.items():
            n = pairs[p][0]
            results[n] = replace(results[n], error=error)

    def archive(self, object_type: str, external_ids: Sequence[str]) -> None:
        segment = SEGMENTS[object_type]
        for chunk in chunks(list(dict.fromkeys(external_ids)), BATCH_SIZE):
            body = {"inputs": [{"id": i} for i in chunk]}
            self.api.call(
                f"{segment}.batch.archive",
                lambda api, o, b=body: api.sdk(f"crm.{segment}.batch_api").archive(b, **o),
            )


_NOT_WRITTEN = object()


def _edit_between(
    history: list[dict[str, Any]],
    request: WriteRequest,
    written_at: datetime | None,
    ours: Any = _NOT_WRITTEN,
) -> tuple[str, datetime] | None:
    """The newest value of one property set after ``request.unmodified_since`` and before
    our write at ``written_at``; for a property we wrote (``ours``), one that differs from
    what we wrote (our own entry, and edits after our write, which the next read sees, do
    not count)."""
    since = request.unmodified_since
    wrote = None if ours is _NOT_WRITTEN else ("" if ours is None else str(ours))
    newest: tuple[str, datetime] | None = None
    for entry in history:
        when = parse_time(entry.get("timestamp"))
        value = "" if entry.get("value") is None else str(entry.get("value"))
        if when is None or since is None or when <= since or value == wrote:
            continue
        if written_at is not None and when >= written_at:
            continue
        if newest is None or when > newest[1]:
            newest = (value, when)
    return newest
