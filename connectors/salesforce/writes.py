"""Salesforce writes: sObject Collections upserts keyed on our External ID field, updates of
linked records by Id, and deletes; per-record results mapped back to their requests.

A retried create can never make a second record, because records we create are only ever
created by an upsert on the External ID that holds our local id. Calls go through
:class:`connectors.salesforce.api.SalesforceApi`; this module knows no scans or cursors.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import format_datetime
from functools import partial
from typing import Any
from urllib.parse import quote

from connectors.base import WriteRequest, WriteResult
from connectors.batching import chunks, split_on_error
from connectors.errors import Changed, ConnectorError, NotFound, Permanent
from connectors.salesforce.api import PROVIDER, SalesforceApi, classify, first_error

SOBJECTS = {"account": "Account", "contact": "Contact"}
COLLECTION_SIZE = 200  # sObject Collections maximum
COMPOSITE_SIZE = 25  # Composite subrequests maximum


def http_date(moment: datetime) -> str:
    """An HTTP date (whole seconds, floored), as ``If-Unmodified-Since`` takes it."""
    return format_datetime(moment.astimezone(UTC), usegmt=True)


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
        conditional = [
            n for n in unique if requests[n].external_id and requests[n].unmodified_since
        ]
        rest = [n for n in unique if n not in set(conditional)]
        for chunk in chunks(conditional, COMPOSITE_SIZE):
            send = partial(self._write_unless_changed, object_type, requests, results=results)
            split_on_error(chunk, send, failed)
        for linked in (True, False):
            todo = [n for n in rest if bool(requests[n].external_id) == linked]
            for chunk in chunks(todo, COLLECTION_SIZE):
                send = partial(self._write, object_type, requests, results=results, linked=linked)
                split_on_error(chunk, send, failed)
        for n, error in failed.items():
            results[n] = WriteResult(requests[n].local_id, requests[n].external_id, error=error)
        return [results[last[r.local_id]] for r in requests]

    def _body(self, object_type: str, request: WriteRequest) -> dict[str, Any]:
        record: dict[str, Any] = dict(request.properties)
        record[self.external_id_field] = request.local_id
        if object_type == "contact" and request.associations:
            record["AccountId"] = request.associations[0]
        return record

    def _write_unless_changed(
        self,
        object_type: str,
        requests: Sequence[WriteRequest],
        chunk: list[int],
        *,
        results: dict[int, WriteResult],
    ) -> None:
        """Update linked records each on the condition that nobody changed it since we read
        it: sObject Rows PATCHes with ``If-Unmodified-Since``, 25 to a Composite call (sObject
        Collections take no condition). A record changed meanwhile answers 412 and is not
        written; it comes back as :class:`Changed`, to be read, merged and written again."""
        sobject = SOBJECTS[object_type]
        subrequests = []
        for n in chunk:
            request = requests[n]
            assert request.external_id and request.unmodified_since
            subrequests.append(
                {
                    "method": "PATCH",
                    "url": f"/services/data/v{self.api.version}/sobjects/{sobject}/"
                    f"{quote(request.external_id, safe='')}",
                    "referenceId": f"r{n}",
                    "body": self._body(object_type, request),
                    "httpHeaders": {"If-Unmodified-Since": http_date(request.unmodified_since)},
                }
            )
        body = {"allOrNone": False, "compositeRequest": subrequests}
        answer = self.api.call(
            "composite", lambda sf, o: sf.restful("composite", method="POST", json=body, **o)
        )
        by_reference = {
            str(sub.get("referenceId")): sub
            for sub in (answer or {}).get("compositeResponse") or []
        }
        for n in chunk:
            request = requests[n]
            sub = by_reference.get(f"r{n}")
            status = int(sub.get("httpStatusCode") or 0) if sub else 0
            if 200 <= status < 300:
                results[n] = WriteResult(request.local_id, request.external_id)
                continue
            if sub is None:
                error: ConnectorError = Permanent(
                    "no result for this record", provider=PROVIDER, code="MISSING_RESULT"
                )
            elif status == 412:
                error = Changed(
                    f"{sobject} {request.external_id} changed in Salesforce after "
                    f"{http_date(request.unmodified_since or datetime.now(UTC))}, "
                    "when it was last read",
                    provider=PROVIDER,
                    code="PRECONDITION_FAILED",
                    status=412,
                )
            else:
                code, message = first_error(sub.get("body"))
                error = classify(status, code, message, details=sub.get("body"))
            results[n] = WriteResult(request.local_id, request.external_id, error=error)

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
            record = {"attributes": {"type": sobject}, **self._body(object_type, request)}
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
