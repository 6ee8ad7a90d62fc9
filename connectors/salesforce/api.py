"""How the Salesforce connector calls the unchanged ``simple-salesforce``: one place that takes
from the request budget, counts the call, refreshes an expired session once (OAuth refresh
token), reads ``Sforce-Limit-Info``, retries short blips and maps every SDK / HTTP exception
to ``connectors.errors`` (:func:`map_error`, the only such function for Salesforce).

The client is built in its direct mode (instance URL + session id) around our own
``requests.Session``: it trusts the org's certificate (a CA bundle path, or the system store)
and carries a response hook that keeps the last response's headers, which the SDK does not
hand out (its exceptions have no headers, and ``Retry-After`` lives there).

This module must not know records, cursors or mappings; that is
``connectors.salesforce.connector``.
"""

from __future__ import annotations

import email.utils
import logging
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceBulkV2ExtractError,
    SalesforceError,
    SalesforceOperationError,
)

from connectors.base import CallCounter
from connectors.budget import RequestBudget
from connectors.credentials import Credentials
from connectors.errors import (
    AuthError,
    BudgetExhausted,
    ConnectorError,
    Duplicate,
    NotFound,
    Permanent,
    RateLimited,
    Transient,
)
from connectors.retry import RetryPolicy, call_with_retry

log = logging.getLogger(__name__)

PROVIDER = "salesforce"
DEFAULT_API_VERSION = "59.0"
DEFAULT_TIMEOUT_S = 60.0  # a 2,000-row query batch can take a while on a busy org
CONNECT_TIMEOUT_S = 5.0
TOKEN_PATH = "/services/oauth2/token"
# Salesforce names no wait for these; what we wait before asking again.
CONCURRENCY_WAIT_S = 5.0  # too many concurrent long-running requests
DEFAULT_429_WAIT_S = 1.0
ROLLING_DAY_RETRY_S = 3600.0  # the daily allowance is rolling: some of it frees up hourly
# Per-record and call error codes that are about timing, not about the data.
TRANSIENT_CODES = {
    "UNABLE_TO_LOCK_ROW",
    "SERVER_UNAVAILABLE",
    "UNKNOWN_EXCEPTION",
    "REQUEST_RUNNING_TOO_LONG",
}
DUPLICATE_CODES = {"DUPLICATE_VALUE", "DUPLICATE_EXTERNAL_ID", "DUPLICATES_DETECTED"}
AUTH_CODES = {
    "INVALID_SESSION_ID",
    "API_DISABLED_FOR_ORG",
    "API_CURRENTLY_DISABLED",
    "INVALID_AUTH_HEADER",
}
NOT_FOUND_CODES = {"NOT_FOUND", "ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY"}
_USAGE = re.compile(r"api-usage=(\d+)/(\d+)")

TokensCallback = Callable[[Credentials], None]


class SalesforceApi:
    """One org's simple-salesforce client and the one way to call it."""

    def __init__(
        self,
        *,
        instance_url: str,
        credentials: Credentials,
        budget: RequestBudget,
        counter: CallCounter,
        on_tokens: TokensCallback | None = None,
        verify: str | bool = True,
        version: str = DEFAULT_API_VERSION,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.instance_url = instance_url.rstrip("/")
        self.credentials = credentials
        self.budget = budget
        self.counter = counter
        self.on_tokens = on_tokens
        self.version = version
        self.timeout = (min(CONNECT_TIMEOUT_S, timeout_s), timeout_s)
        self.retry = retry or RetryPolicy()
        self._lock = threading.Lock()
        self._local = threading.local()
        self.session = requests.Session()
        self.session.verify = verify
        # The environment's CA bundle variables would override ``verify``.
        self.session.trust_env = False
        self.session.hooks["response"].append(self._keep_headers)
        self.sf = self._client()

    def _client(self) -> Salesforce:
        return Salesforce(
            instance_url=self.instance_url,
            session_id=self.credentials.access_token,
            session=self.session,
            version=self.version,
        )

    def _keep_headers(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._local.headers = response.headers

    def last_headers(self) -> dict[str, str]:
        headers = getattr(self._local, "headers", None)
        return dict(headers) if headers is not None else {}

    # ---- calling ---------------------------------------------------------------------

    def call(
        self,
        endpoint: str,
        send: Callable[..., Any],
        *,
        bulk: bool = False,
    ) -> Any:
        """Run ``send(sf, options)`` (options go to the SDK method as keyword arguments,
        e.g. the timeout) under the budget, with one session refresh and short retries."""
        return call_with_retry(lambda: self._call_once(endpoint, send, bulk), self.retry)

    def _call_once(self, endpoint: str, send: Callable[..., Any], bulk: bool) -> Any:
        refreshed = False
        while True:
            self.budget.acquire(None, bulk=bulk)
            self.counter.add(endpoint)
            self._local.headers = None
            token = self.credentials.access_token
            try:
                result = send(self.sf, {"timeout": self.timeout})
            except Exception as exc:
                headers = self.last_headers()
                self._observe(headers)
                error = map_error(exc, headers)
                if error is None:
                    raise
                if isinstance(error, BudgetExhausted):
                    self.budget.exhaust_daily()
                elif isinstance(error, RateLimited):
                    self.budget.block(error.wait_s)
                if error.status == 401 and not refreshed and self.credentials.refreshable:
                    self._refresh(token)
                    refreshed = True
                    continue
                raise error from None
            self._observe(self.last_headers())
            return result

    def _observe(self, headers: dict[str, str]) -> None:
        info = next((v for k, v in headers.items() if k.lower() == "sforce-limit-info"), "")
        match = _USAGE.search(info)
        if match:
            self.budget.observe_daily(used=int(match.group(1)), limit=int(match.group(2)))

    # ---- tokens ----------------------------------------------------------------------

    def _refresh(self, used_token: str) -> None:
        """Trade the refresh token for a new session (once per 401), then hand the new
        credentials to ``on_tokens`` so the caller can store them."""
        with self._lock:
            if self.credentials.access_token != used_token:
                return  # another thread refreshed already
            creds = self.credentials
            url = creds.token_url or f"{self.instance_url}{TOKEN_PATH}"
            self.counter.add("oauth.token")
            form = {
                "grant_type": "refresh_token",
                "client_id": creds.client_id,
                "client_secret": creds.client_secret,
                "refresh_token": creds.refresh_token,
            }
            try:
                response = self.session.post(url, data=form, timeout=self.timeout)
            except requests.RequestException as exc:
                raise Transient(
                    f"token refresh failed: {exc}", provider=PROVIDER, code=type(exc).__name__
                ) from None
            body = _json(response)
            if response.status_code >= 500:
                raise Transient(
                    "token endpoint unavailable", provider=PROVIDER, status=response.status_code
                )
            if response.status_code != 200 or not isinstance(body, dict):
                error = body.get("error") if isinstance(body, dict) else None
                raise AuthError(
                    f"token refresh refused: {error or response.status_code}",
                    provider=PROVIDER,
                    code=error,
                    status=response.status_code,
                )
            self.credentials = creds.refreshed(
                access_token=body["access_token"],
                refresh_token=body.get("refresh_token"),
                instance_url=body.get("instance_url"),
            )
            self.sf = self._client()
            log.info("refreshed the Salesforce session")
        if self.on_tokens is not None:
            self.on_tokens(self.credentials)


# ---- the one error mapping -----------------------------------------------------------


def map_error(exc: BaseException, headers: dict[str, str] | None = None) -> ConnectorError | None:
    """The connector error for an SDK / HTTP exception; None when it is not one (a bug)."""
    if isinstance(exc, ConnectorError):
        return exc
    if isinstance(exc, SalesforceAuthenticationFailed):
        return AuthError(str(exc), provider=PROVIDER, code=getattr(exc, "code", None))
    if isinstance(exc, SalesforceError):
        code, message = first_error(exc.content)
        return classify(exc.status, code, message, headers or {}, details=exc.content)
    if isinstance(exc, SalesforceBulkV2ExtractError):  # the SDK refused our query job
        return Permanent(str(exc), provider=PROVIDER, code="BULK_JOB_INVALID")
    if isinstance(exc, SalesforceOperationError):  # a Bulk job Failed, was Aborted, ran out
        return Transient(
            f"Bulk API 2.0 job did not complete: {exc}", provider=PROVIDER, code="BULK_JOB_FAILED"
        )
    if isinstance(exc, requests.RequestException):  # timeouts, resets, TLS, DNS
        return Transient(f"network: {exc}", provider=PROVIDER, code=type(exc).__name__)
    return None


def classify(
    status: int | None,
    code: str | None,
    message: str,
    headers: dict[str, str] | None = None,
    *,
    details: Any = None,
) -> ConnectorError:
    """A Salesforce error (a call's status and errorCode, or a record's statusCode) as a
    connector error. Shared by :func:`map_error` and per-record results."""
    common: dict[str, Any] = {
        "provider": PROVIDER,
        "code": code,
        "status": status,
        "details": details,
    }
    if code == "REQUEST_LIMIT_EXCEEDED":
        if "concurrent" in message.lower():
            return RateLimited(message, wait_s=CONCURRENCY_WAIT_S, policy="CONCURRENT", **common)
        return BudgetExhausted(message, wait_s=ROLLING_DAY_RETRY_S, policy="DAILY", **common)
    if status == 429:
        wait = _retry_after(headers or {})
        return RateLimited(message, wait_s=wait or DEFAULT_429_WAIT_S, **common)
    if status == 401 or code in AUTH_CODES:
        return AuthError(message, **common)
    if code in TRANSIENT_CODES or (status is not None and (status >= 500 or status == 423)):
        return Transient(message, **common)
    if code in DUPLICATE_CODES or status == 300:
        return Duplicate(message, **common)
    if status == 404 or code in NOT_FOUND_CODES:
        return NotFound(message, **common)
    if status == 403:
        return AuthError(message, **common)
    return Permanent(message, **common)


def first_error(content: Any) -> tuple[str | None, str]:
    if isinstance(content, list) and content and isinstance(content[0], dict):
        first = content[0]
        return first.get("errorCode") or first.get("statusCode"), str(first.get("message", ""))
    if isinstance(content, dict):
        return content.get("errorCode") or content.get("error"), str(content.get("message", ""))
    return None, str(content or "")


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _retry_after(headers: dict[str, str]) -> float | None:
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        moment = email.utils.parsedate_to_datetime(value)
        return max((moment - datetime.now(UTC)).total_seconds(), 0.0)


def server_time(headers: dict[str, str]) -> datetime | None:
    value = next((v for k, v in headers.items() if k.lower() == "date"), None)
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).astimezone(UTC)
    except (TypeError, ValueError):
        return None


def floor_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


FIFTEEN_DAYS = timedelta(days=15)
