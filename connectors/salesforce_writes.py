"""Salesforce writes: sObject Collections upserts keyed on our External ID field, updates of
linked records by Id, and deletes; per-record results mapped back to their requests.

A retried create can never make a second record, because records we create are only ever
created by an upsert on the External ID that holds our local id. Calls go through
:class:`connectors.salesforce_api.SalesforceApi`; this module knows no scans or cursors.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from connectors.base import WriteRequest, WriteResult
from connectors.batching import chunks, split_on_error
from connectors.errors import ConnectorError, NotFound, Permanent
from connectors.salesforce_api import PROVIDER, SalesforceApi, classify

SOBJECTS = {"account": "Account", "contact": "Contact"}
COLLECTION_SIZE = 200  # sObject Collections maximum


class SalesforceWrites:
    def __init__(self, *, api: SalesforceApi, external_id_field: str) -> None:
        self.api = api
        self.external_id_field = external_id_field

    def upsert(self, object_type: str, requests: Sequence[WriteRequest]) -> list[WriteResult]:
        results: dict[int, WriteResult] = {}
        # The last request per local id wins; Salesforce refuses a call naming one twice.
        last = {r.local_id: n for n, r in enumerate(requests)}
        unique = list(last.values())
        failed: dict[int, ConnectorError] = {}
        for linked in (True, False):
            todo = [n for n in unique if bool(requests[n].external_id) == linked]
            for chunk in chunks(todo, COLLECTION_SIZE):
                send = partial(self._write, object_type, requests, results=results, linked=linked)
                split_on_error(chunk, send, failed)
        for n, error in failed.items():
            results[n] = WriteResult(requests[n].local_id, requests[n].external_id, error=error)
        return [results[last[r.local_id]] for r in requests]

    def _write(
        self,
        object_type: str,
        requests: Sequence[WriteRequest],
        chunk: list[int],
        *,
        results: dict[int, WriteResult],
        linked: bool,
    ) -> None:
        sobject = SOBJECTS[object_type]
        external = self.external_id_field
        body_records = []
        for n in chunk:
            request = requests[n]
            record: dict[str, Any] = {"attributes": {"type": sobject}, **request.properties}
            record[external] = request.local_id
            if object_type == "contact" and request.associations:
                record["AccountId"] = request.associations[0]
            if linked:
                record["Id"] = request.external_id
            body_records.append(record)
        body = {"allOrNone": False, "records": body_records}
        path = "composite/sobjects" if linked else f"composite/sobjects/{sobject}/{external}"
        answer = self.api.call(
            "collections.update" if linked else "collections.upsert",
            lambda sf, o: sf.restful(path, method="PATCH", json=body, **o),
        )
        for n, outcome in zip(chunk, answer or [], strict=False):
            request = requests[n]
            if outcome.get("success"):
                created = bool(outcome.get("created")) and not linked
                results[n] = WriteResult(request.local_id, outcome.get("id"), created)
            else:
                first = (outcome.get("errors") or [{}])[0]
                error = classify(
                    None, first.get("statusCode"), str(first.get("message", "")), details=outcome
                )
                results[n] = WriteResult(request.local_id, request.external_id, error=error)
        for n in chunk[len(answer or []) :]:
            results[n] = WriteResult(
                requests[n].local_id,
                requests[n].external_id,
                error=Permanent(
                    "no result for this record", provider=PROVIDER, code="MISSING_RESULT"
                ),
            )

    def archive(self, object_type: str, external_ids: Sequence[str]) -> None:
        problems: list[ConnectorError] = []
        for chunk in chunks(list(dict.fromkeys(external_ids)), COLLECTION_SIZE):
            params = {"ids": ",".join(chunk), "allOrNone": "false"}
            answer = self.api.call(
                "collections.delete",
                lambda sf, o, p=params: sf.restful(
                    "composite/sobjects", params=p, method="DELETE", **o
                ),
            )
            for outcome in answer or []:
                first = (outcome.get("errors") or [{}])[0]
                if outcome.get("success") or first.get("statusCode") == "ENTITY_IS_DELETED":
                    continue
                problems.append(
                    classify(None, first.get("statusCode"), str(first.get("message", "")))
                )
        if problems:
            worst = next((p for p in problems if not isinstance(p, NotFound)), None)
            if worst is not None:
                raise worst
