"""A full Salesforce pass read through one Bulk API 2.0 query job instead of REST batches.

A million records cost 500 REST query batches; one ``queryAll`` job costs its creation, a
few status polls and one results call per :data:`RESULT_RECORDS` rows. The connector uses
it for a pass that reads an object from the start (a first pass, a reconcile) when one
``SELECT COUNT() FROM <Object>`` says the object holds more than ``bulk_threshold`` rows;
incremental passes stay on REST.

The job is run by the unchanged simple-salesforce (``sf.bulk2.<Object>.query_all``) with
the SOQL the REST pass would send (same fields, ``ORDER BY SystemModstamp, Id``), and its
CSV is turned back into the records the REST query gives: null for an empty value,
booleans and numbers by the field's ``describe`` type (an ``int`` field an int, other
numbers floats, as REST's JSON has them), datetimes in REST's
``2024-01-01T00:00:00.000+0000`` form, field names as the org spells them. :meth:`SalesforceBulk.batches` hands them out in REST-shaped batches of
``{"records", "done"}`` so the connector's one scan loop makes the pages and cursors.

A job that fails, or results cut off halfway, fail the pass with a connector error; the
pass never falls back to REST unseen. Calls go through
:class:`connectors.salesforce.api.SalesforceApi`; this module must not know cursors.
"""

from __future__ import annotations

import csv
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import requests
from simple_salesforce import format_soql

from connectors.errors import Transient
from connectors.salesforce.api import PROVIDER, SalesforceApi
from connectors.salesforce.fields import SalesforceFields
from connectors.salesforce.writes import SOBJECTS

DEFAULT_BULK_THRESHOLD = 10_000  # rows above which a full pass runs as a Bulk API 2.0 job
DEFAULT_BULK_POLL_S = 5.0  # the SDK's wait before the first status poll, and between polls
# Rows per results call (maxRecords). The SDK's default is 50,000; a set is held whole
# (the SDK's bytes and text of it side by side, and the last set's text until the next one
# is read), which at 50,000 rows raised a worker's peak by some 80 MB against 10,000
# (measured: a 60,000-account first pass). Four more calls for each 50,000 rows.
RESULT_RECORDS = 10_000
BATCH_RECORDS = 2_000  # rows per batch handed to the scan: a REST batch, one page
NUMBER_TYPES = {"double", "currency", "percent"}  # and "int"
_JOB_STATUS = re.compile(r"/jobs/query/[0-9A-Za-z]{15,18}/?$")

Batch = dict[str, Any]
Converter = Callable[[str], Any]


class SalesforceBulk:
    """Whether a pass is worth a Bulk API 2.0 job, and its rows as REST batches."""

    def __init__(
        self,
        *,
        api: SalesforceApi,
        fields: SalesforceFields,
        threshold: int = DEFAULT_BULK_THRESHOLD,
        poll_s: float = DEFAULT_BULK_POLL_S,
    ) -> None:
        self.api = api
        self.fields = fields
        self.threshold = threshold
        self.poll_s = poll_s
        self.result_records = RESULT_RECORDS
        self._polls = threading.local()
        api.session.hooks["response"].append(self._count_poll)

    def batches(self, object_type: str, fields: Sequence[str]) -> Iterator[Batch] | None:
        """REST-shaped batches of every row of the object (the recycle bin too), in
        ``SystemModstamp, Id`` order, read by one job; None when the object holds
        ``threshold`` rows or fewer (or bulk reads are off)."""
        if self.threshold <= 0 or self.count(object_type) <= self.threshold:
            return None
        return self._batches(object_type, fields)

    def count(self, object_type: str) -> int:
        """The object's live rows (the recycle bin, read too, is small beside them)."""
        soql = format_soql("SELECT COUNT() FROM {:literal}", SOBJECTS[object_type])
        answer = self.api.call("query", lambda sf, o: sf.query(soql, **o), bulk=True)
        return int((answer or {}).get("totalSize") or 0)

    def _batches(self, object_type: str, fields: Sequence[str]) -> Iterator[Batch]:
        soql = format_soql(
            "SELECT {:literal} FROM {:literal} ORDER BY SystemModstamp, Id",
            ", ".join(fields),
            SOBJECTS[object_type],
        )
        described = self.fields.describe(object_type, fields)
        batch: list[dict[str, Any]] = []
        for text in self._chunks(SOBJECTS[object_type], soql):
            reader = csv.reader(csv_lines(text))
            header = next(reader, None)
            if header is None:
                continue  # no rows: Salesforce may send an empty body
            columns = [_column(name, described) for name in header]
            for row in reader:
                if len(batch) == BATCH_RECORDS:
                    yield {"records": batch, "done": False}
                    batch = []
                batch.append(
                    {
                        name: convert(value)
                        for (name, convert), value in zip(columns, row, strict=True)
                    }
                )
        yield {"records": batch, "done": True}

    def _chunks(self, sobject: str, soql: str) -> Iterator[str]:
        """The CSV of each result set. The job's creation, its polls and the first set
        are one step; each later set is one. A step that failed is not taken again: the
        SDK's generator ends when it raises, and reading on would look like the end.

        Counted calls equal the requests made: each poll is counted as it is answered,
        and the step that learns the last set was the last makes no request but stands
        for the first set, which rode on the job's step."""
        state: dict[str, Any] = {"sets": None, "broken": False}

        def first(sf: Any, options: dict[str, Any]) -> str | None:
            state["sets"] = getattr(sf.bulk2, sobject).query_all(
                soql, max_records=self.result_records, wait=self.poll_s
            )
            return self._next(state)

        def later(sf: Any, options: dict[str, Any]) -> str | None:
            if state["broken"]:
                raise Transient(
                    "the Bulk API 2.0 query results were cut off; the pass must start again",
                    provider=PROVIDER,
                    code="BULK_RESULTS_INTERRUPTED",
                )
            return self._next(state)

        self._polls.count = 0
        text = self.api.call("bulk2.query", first, bulk=True)
        if self._polls.count:
            self.api.counter.add("bulk2.poll", self._polls.count)
        while text is not None:
            yield text
            text = self.api.call("bulk2.results", later, bulk=True)

    @staticmethod
    def _next(state: dict[str, Any]) -> str | None:
        try:
            text = next(state["sets"], None)
        except Exception:
            state["broken"] = True
            raise
        return None if text is None else str(text)

    def _count_poll(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        # The SDK polls the job's status inside one step; the counter should see each poll.
        request = response.request
        if request.method == "GET" and _JOB_STATUS.search(request.path_url.split("?")[0]):
            self._polls.count = getattr(self._polls, "count", 0) + 1


def csv_lines(text: str) -> Iterator[str]:
    """The lines of a results set for ``csv.reader``, each ending with its ``\n`` (a quoted
    value's own line breaks stay in it), as ``io.StringIO(text)`` gives them but sliced
    one at a time: a ``StringIO`` holds a copy of the whole set at four bytes a character,
    which at 50,000 rows a set was some 77 MB at the worker's peak."""
    start, end = 0, len(text)
    while start < end:
        stop = text.find("\n", start)
        stop = end if stop < 0 else stop + 1
        yield text[start:stop]
        start = stop


def _column(name: str, described: Mapping[str, Mapping[str, Any]]) -> tuple[str, Converter]:
    """The field's name as REST spells it, and how to read its CSV text as REST's value."""
    found = described.get(name.lower())
    if found is None:
        return name, _text
    field_type = str(found.get("type"))
    spelled = str(found.get("name") or name)
    if field_type == "boolean":
        return spelled, _boolean
    if field_type == "int":
        return spelled, _integer
    if field_type in NUMBER_TYPES:
        return spelled, _decimal
    if field_type == "datetime":
        return spelled, _datetime
    return spelled, _text


def _text(value: str) -> str | None:
    return value or None


def _boolean(value: str) -> bool | None:
    return None if value == "" else value.lower() == "true"


def _integer(value: str) -> int | None:
    return None if value == "" else int(float(value))


def _decimal(value: str) -> float | None:
    # REST's JSON writes these as floats (30.0) whatever the CSV writes (30 or 30.0).
    return None if value == "" else float(value)


def _datetime(value: str) -> str | None:
    """``2024-01-01T00:00:00.000Z`` (Bulk CSV) as ``2024-01-01T00:00:00.000+0000`` (REST)."""
    if not value:
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"
