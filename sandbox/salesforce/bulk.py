"""Bulk API 2.0 query jobs: a SOQL query run as a job and read back as CSV by locator.

``POST /jobs/query`` creates a job (``query`` or ``queryAll``) in state ``UploadComplete``;
the first read of the job's info finds it ``InProgress``, the second ``JobComplete``, so a
client's poll loop runs as it does against a real org, only faster. The query is parsed
and evaluated by the same code as the REST query resource, when the job is created: a bad
query is refused there and then, as Salesforce does, and the rows are a snapshot from that
moment. Results come as CSV with a header row in every set: every value quoted, null as
an empty string, booleans ``true``/``false``, datetimes ``2024-01-01T00:00:00.000Z``,
parent fields under dotted names (``Account.Name``). ``Sforce-Locator`` names the next
set (``null`` after the last) and ``Sforce-NumberOfRecords`` counts this one.

Bulk API 2.0 refuses aggregate functions (``COUNT()``) and ``OFFSET``; so does this.
Each request is one API call, counted and charged by :mod:`.rest` like every other.
This module must not know HTTP beyond the response it builds.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from starlette.responses import Response

from .errors import ApiError, not_found
from .ids import IdFactory, format_datetime
from .query import QueryEngine

CSV_TYPE = "text/csv"
DEFAULT_RESULT_RECORDS = 100_000  # a result set when the client names no maxRecords
MAX_KEPT_JOBS = 50  # oldest finished jobs are forgotten beyond this
POLLS_TO_COMPLETE = 2  # job info reads until a job is JobComplete (the first: InProgress)
MIN_VERSION = 47  # query jobs arrived in API version 47.0
OPERATIONS = ("query", "queryAll")
COLUMN_DELIMITERS = {
    "BACKQUOTE": "`",
    "CARET": "^",
    "COMMA": ",",
    "PIPE": "|",
    "SEMICOLON": ";",
    "TAB": "\t",
}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
FINAL_STATES = ("JobComplete", "Failed", "Aborted")


@dataclass
class QueryJob:
    id: str
    operation: str
    object_name: str
    version: str
    column_delimiter: str
    line_ending: str
    created: str
    header: list[str]
    rows: list[list[str]]
    state: str = "UploadComplete"
    polls: int = 0
    error_message: str | None = None
    modstamp: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def info(self, created_by: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "operation": self.operation,
            "object": self.object_name,
            "createdById": created_by,
            "createdDate": self.created,
            "systemModstamp": self.modstamp or self.created,
            "state": self.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(self.version),
            "lineEnding": self.line_ending,
            "columnDelimiter": self.column_delimiter,
        }
        return body

    def details(self, created_by: str) -> dict[str, Any]:
        """Job info as ``GET /jobs/query/{id}`` answers it: with the processing figures."""
        body = self.info(created_by)
        done = self.state == "JobComplete"
        body.update(
            {
                "jobType": "V2Query",
                "numberRecordsProcessed": len(self.rows) if done else 0,
                "retries": 0,
                "totalProcessingTime": 0,
                "isPkChunkingSupported": True,
            }
        )
        if self.error_message:
            body["errorMessage"] = self.error_message
        return body


def csv_value(value: Any) -> str:
    """One value as Bulk API 2.0 writes it in CSV."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return format_datetime(value).replace("+0000", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | float):
        return json.dumps(value)
    return str(value)


def encode_locator(start: int) -> str:
    """Salesforce's locators are opaque; these are the base64 of the next row's index."""
    return base64.b64encode(str(start).encode()).decode().rstrip("=")


def decode_locator(locator: str) -> int | None:
    try:
        text = base64.b64decode(locator + "=" * (-len(locator) % 4), validate=True).decode()
    except ValueError:
        return None
    return int(text) if text.isdigit() else None


class BulkQueryJobs:
    """The query jobs of one org."""

    def __init__(
        self, query: QueryEngine, ids: IdFactory, *, user_id: str, clock: Callable[[], datetime]
    ) -> None:
        self.query = query
        self.ids = ids
        self.user_id = user_id
        self.clock = clock
        self._jobs: OrderedDict[str, QueryJob] = OrderedDict()
        self._lock = threading.Lock()
        # When set, jobs end Failed with this message instead of JobComplete (a test's way
        # to make Salesforce give up on a query, e.g. after too many internal retries).
        self.failure: str | None = None

    def create(self, body: Any, version: str) -> tuple[int, Any]:
        if float(version) < MIN_VERSION:
            raise not_found()
        if not isinstance(body, dict):
            raise ApiError(400, "API_ERROR", "Invalid JSON: the body must be a job definition")
        operation = body.get("operation")
        soql = body.get("query")
        if operation not in OPERATIONS:
            raise ApiError(400, "INVALIDJOB", f"Invalid operation: {operation!r}")
        if not isinstance(soql, str) or not soql.strip():
            raise ApiError(400, "INVALIDJOB", "The query is required for a query job")
        content_type = body.get("contentType", "CSV")
        delimiter = body.get("columnDelimiter", "COMMA")
        line_ending = body.get("lineEnding", "LF")
        if content_type != "CSV":
            raise ApiError(400, "INVALIDJOB", f"Invalid content type: {content_type!r}")
        if delimiter not in COLUMN_DELIMITERS:
            raise ApiError(400, "INVALIDJOB", f"Invalid column delimiter: {delimiter!r}")
        if line_ending not in LINE_ENDINGS:
            raise ApiError(400, "INVALIDJOB", f"Invalid line ending: {line_ending!r}")
        compiled = self.query.compile(soql)
        if compiled.count:
            raise ApiError(
                400,
                "API_ERROR",
                "Aggregate functions such as COUNT() are not supported in Bulk Query",
            )
        if compiled.offset:
            raise ApiError(400, "API_ERROR", "OFFSET is not supported in Bulk Query")
        rows = self.query.rows(compiled, include_deleted=operation == "queryAll")
        job = QueryJob(
            id=self.ids.new("BulkJob"),
            operation=operation,
            object_name=compiled.object_name,
            version=version,
            column_delimiter=delimiter,
            line_ending=line_ending,
            created=format_datetime(self.clock()),
            header=[column.key for column in compiled.columns],
            rows=[[csv_value(column.get(row)) for column in compiled.columns] for row in rows],
        )
        with self._lock:
            self._jobs[job.id] = job
            finished = [k for k, v in self._jobs.items() if v.state in FINAL_STATES]
            for job_id in finished[: max(len(self._jobs) - MAX_KEPT_JOBS, 0)]:
                del self._jobs[job_id]
        return 200, job.info(self.user_id)

    def job(self, job_id: str) -> QueryJob:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise not_found()
        return job

    def get(self, job_id: str) -> tuple[int, Any]:
        """Job info; each read moves an unfinished job one state on."""
        job = self.job(job_id)
        with job.lock:
            if job.state not in FINAL_STATES:
                job.polls += 1
                if job.polls < POLLS_TO_COMPLETE:
                    job.state = "InProgress"
                elif self.failure is not None:
                    job.state, job.error_message = "Failed", self.failure
                    job.rows = []
                else:
                    job.state = "JobComplete"
                job.modstamp = format_datetime(self.clock())
            return 200, job.details(self.user_id)

    def abort(self, job_id: str, body: Any) -> tuple[int, Any]:
        job = self.job(job_id)
        state = body.get("state") if isinstance(body, dict) else None
        if state != "Aborted":
            raise ApiError(400, "INVALIDJOBSTATE", f"Invalid state for a query job: {state!r}")
        with job.lock:
            if job.state in FINAL_STATES:
                raise ApiError(
                    400, "INVALIDJOBSTATE", f"Job {job.id} is {job.state}: it cannot be aborted"
                )
            job.state, job.rows = "Aborted", []
            job.modstamp = format_datetime(self.clock())
            return 200, job.info(self.user_id)

    def delete(self, job_id: str) -> tuple[int, Any]:
        job = self.job(job_id)
        if job.state not in FINAL_STATES:
            raise ApiError(
                400, "INVALIDJOBSTATE", f"Job {job.id} is {job.state}: abort it before deleting"
            )
        with self._lock:
            self._jobs.pop(job_id, None)
        return 204, None

    def results(self, job_id: str, params: dict[str, str]) -> tuple[int, Any]:
        """One result set: the CSV, and the headers that say where the next begins."""
        job = self.job(job_id)
        if job.state != "JobComplete":
            raise ApiError(400, "INVALIDJOBSTATE", f"Job {job.id} is {job.state}, not JobComplete")
        size_text = params.get("maxRecords")
        if size_text is None:
            size = DEFAULT_RESULT_RECORDS
        elif size_text.isdigit() and int(size_text) > 0:
            size = int(size_text)
        else:
            raise ApiError(400, "INVALIDREQUEST", f"Invalid maxRecords: {size_text!r}")
        locator = params.get("locator")
        start = 0 if not locator else decode_locator(locator)
        if start is None or start > len(job.rows) or (locator and start == 0):
            raise ApiError(400, "INVALIDLOCATOR", f"Invalid locator: {locator!r}")
        end = min(start + size, len(job.rows))
        chunk = job.rows[start:end]
        text = io.StringIO()
        writer = csv.writer(
            text,
            delimiter=COLUMN_DELIMITERS[job.column_delimiter],
            lineterminator=LINE_ENDINGS[job.line_ending],
            quoting=csv.QUOTE_ALL,
        )
        writer.writerow(job.header)
        writer.writerows(chunk)
        headers = {
            "Sforce-Locator": encode_locator(end) if end < len(job.rows) else "null",
            "Sforce-NumberOfRecords": str(len(chunk)),
        }
        return 200, Response(text.getvalue().encode("utf-8"), headers=headers, media_type=CSV_TYPE)
