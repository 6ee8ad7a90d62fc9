"""How the HubSpot connector calls the unchanged ``hubspot-api-client``: one place that takes
from the request budget, counts the call, refreshes an expired OAuth token once, reads the
rate-limit headers, retries short blips and maps every SDK / HTTP exception to
``connectors.errors`` (:func:`map_error`, the only such function for HubSpot).

Calls use the SDK's generated methods with ``_preload_content=False``: the SDK builds and
sends the request and raises its own exceptions for non-2xx answers; we read the raw JSON and
the headers ourselves (its model objects are slow and hide the headers). The SDK's urllib3
retries are switched off: retries are ours, counted and budgeted.

This module must not know records, cursors or mappings; that is
``connectors.hubspot.connector``.
"""

from __future__ import annotations

import email.utils
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import urllib3
from hubspot import HubSpot
from urllib3.util.retry import Retry

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

PROVIDER = "hubspot"
DEFAULT_BASE_URL = "https://api.hubapi.com"
DEFAULT_TIMEOUT_S = 20.0  # per request; HubSpot answers in well under a second normally
CONNECT_TIMEOUT_S = 5.0
SECONDLY_WAIT_S = 1.0
EXPIRY_MARGIN_S = 60.0  # refresh an OAuth token this long before HubSpot says it expires
# Retry(total=0): one attempt, urllib3 never re-sends (it would skip our budget and counts).
NO_RETRY = Retry(total=0, connect=0, read=0, redirect=0, status=0, other=0, raise_on_status=False)
_EXISTING_ID = re.compile(r"Existing ID:\s*(\d+)")

TokensCallback = Callable[[Credentials], None]


@dataclass(frozen=True)
class Response:
    status: int
    data: Any  # parsed JSON, or None for an empty body
    headers: dict[str, str]


class HubSpotApi:
    """The SDK objects of one portal (cached: every SDK property access builds a client)."""

    def __init__(
        self,
        *,
        base_url: str,
        credentials: Credentials,
        budget: RequestBudget,
        counter: CallCounter,
        on_tokens: TokensCallback | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.budget = budget
        self.counter = counter
        self.on_tokens = on_tokens
        self.timeout = (min(CONNECT_TIMEOUT_S, timeout_s), timeout_s)
        self.retry = retry or RetryPolicy()
        self._lock = threading.Lock()
        self._apis: dict[str, Any] = {}
        self._client = self._new_client()

    def _new_client(self) -> HubSpot:
        return HubSpot(
            access_token=self.credentials.access_token, host=self.base_url, retry=NO_RETRY
        )

    def sdk(self, path: str) -> Any:
        """A cached SDK API object by its attribute path, e.g. ``crm.companies.batch_api``."""
        api = self._apis.get(path)
        if api is None:
            api = self._client
            for part in path.split("."):
                api = getattr(api, part)
            self._apis[path] = api
        return api

    # ---- calling ---------------------------------------------------------------------

    def call(
        self,
        endpoint: str,
        send: Callable[..., Any],
        *,
        window: str = "burst",
        bulk: bool = False,
    ) -> Response:
        """Run ``send(api, options)`` (options go to the SDK method as keyword arguments)
        under the budget, with one token refresh on 401 and retries of short blips."""
        return call_with_retry(lambda: self._call_once(endpoint, send, window, bulk), self.retry)

    def _call_once(
        self, endpoint: str, send: Callable[..., Any], window: str, bulk: bool
    ) -> Response:
        creds = self.credentials
        expiring = creds.expires_at is not None and (
            creds.expires_at - timedelta(seconds=EXPIRY_MARGIN_S) <= datetime.now(UTC)
        )
        if expiring and creds.refreshable:
            self._refresh(creds.access_token)  # about to expire: spare HubSpot a 401
        refreshed = False
        while True:
            ticket = self.budget.acquire(window, bulk=bulk)
            self.counter.add(endpoint)
            token = self.credentials.access_token
            try:
                raw = send(self, {"_preload_content": False, "_request_timeout": self.timeout})
            except Exception as exc:
                self.budget.settle(window, ticket)
                error = map_error(exc)
                if error is None:
                    raise
                headers = _headers(exc)
                if headers:
                    self._observe(headers, window)
                if isinstance(error, BudgetExhausted):
                    self.budget.exhaust_daily()
                elif isinstance(error, RateLimited):
                    self.budget.block(error.wait_s)
                if error.status == 401 and not refreshed and self.credentials.refreshable:
                    self._refresh(token)
                    refreshed = True
                    continue
                raise error from None
            self.budget.settle(window, ticket)
            headers = dict(raw.headers.items())
            self._observe(headers, window)
            body = raw.data
            return Response(raw.status, json.loads(body) if body else None, headers)

    def _observe(self, headers: dict[str, str], window: str) -> None:
        lower = {k.lower(): v for k, v in headers.items()}
        try:
            if window == "burst" and "x-hubspot-ratelimit-remaining" in lower:
                limit = lower.get("x-hubspot-ratelimit-max")
                self.budget.observe_window(
                    "burst",
                    remaining=int(lower["x-hubspot-ratelimit-remaining"]),
                    limit=int(limit) if limit else None,
                )
            if (
                "x-hubspot-ratelimit-daily-remaining" in lower
                and "x-hubspot-ratelimit-daily" in lower
            ):
                daily = int(lower["x-hubspot-ratelimit-daily"])
                remaining = int(lower["x-hubspot-ratelimit-daily-remaining"])
                self.budget.observe_daily(used=daily - remaining, limit=daily)
        except ValueError:
            log.debug("unreadable HubSpot rate-limit headers: %s", lower)

    # ---- tokens ----------------------------------------------------------------------

    def _refresh(self, used_token: str) -> None:
        """Trade the refresh token for a new access token (once per 401), then hand the new
        credentials to ``on_tokens`` so the caller can store them."""
        with self._lock:
            if self.credentials.access_token != used_token:
                return  # another thread refreshed already
            creds = self.credentials
            self.counter.add("oauth.token")
            try:
                raw = self.sdk("oauth.tokens_api").create(
                    grant_type="refresh_token",
                    client_id=creds.client_id,
                    client_secret=creds.client_secret,
                    refresh_token=creds.refresh_token,
                    _preload_content=False,
                    _request_timeout=self.timeout,
                )
            except Exception as exc:
                error = map_error(exc)
                if error is None:
                    raise
                if isinstance(error, Permanent):
                    raise AuthError(
                        f"token refresh refused: {error.message}",
                        provider=PROVIDER,
                        code=error.code,
                        status=error.status,
                    ) from None
                raise error from None
            tokens = json.loads(raw.data)
            expires_in = tokens.get("expires_in")
            self.credentials = creds.refreshed(
                access_token=tokens["access_token"],
                refresh_token=tokens.get("refresh_token"),
                expires_at=datetime.now(UTC) + timedelta(seconds=int(expires_in))
                if expires_in
                else None,
            )
            self._client = self._new_client()
            self._apis.clear()
            log.info("refreshed the HubSpot access token")
        if self.on_tokens is not None:
            self.on_tokens(self.credentials)


# ---- the one error mapping -----------------------------------------------------------


def map_error(exc: BaseException) -> ConnectorError | None:
    """The connector error for an SDK / HTTP exception; None when it is not one (a bug)."""
    if isinstance(exc, ConnectorError):
        return exc
    if _is_api_exception(exc):
        return _from_status(
            getattr(exc, "status", 0) or 0,
            _json(getattr(exc, "body", None)),
            _headers(exc),
            getattr(exc, "reason", None),
        )
    if isinstance(exc, urllib3.exceptions.HTTPError):  # MaxRetryError, timeouts, resets
        reason = getattr(exc, "reason", None) or exc
        return Transient(f"network: {reason}", provider=PROVIDER, code=type(exc).__name__)
    if isinstance(exc, (TimeoutError, ConnectionError)):
        return Transient(f"network: {exc}", provider=PROVIDER, code=type(exc).__name__)
    return None


def _from_status(
    status: int, body: Any, headers: dict[str, str], reason: str | None
) -> ConnectorError:
    body = body if isinstance(body, dict) else {}
    message = str(body.get("message") or reason or f"HTTP {status}")
    category = body.get("category") or body.get("status")
    code = str(category) if category and category != "error" else None
    common: dict[str, Any] = {"provider": PROVIDER, "status": status, "details": body or None}
    if status == 0:  # the SDK's wrapper for TLS errors
        return Transient(message, code=code or "SSL", **common)
    if status == 429:
        policy = body.get("policyName")
        wait_s = _retry_after(headers)
        if policy == "DAILY":
            return BudgetExhausted(
                message, wait_s=wait_s or _until_utc_midnight(), policy=policy, code=code, **common
            )
        if wait_s is None:
            # HubSpot's rolling windows name no wait: the secondly one clears within a second,
            # the 10-second one by the next 10-second boundary.
            wait_s = SECONDLY_WAIT_S if policy == "SECONDLY" else 10.0 - (time.time() % 10.0)
        return RateLimited(message, wait_s=max(wait_s, 0.1), policy=policy, code=code, **common)
    if status in (401, 403):
        return AuthError(message, code=code, **common)
    if status == 423 or status >= 500:
        return Transient(message, code=code, **common)
    if status == 404:
        return NotFound(message, code=code, **common)
    if status == 409 or _is_unique_violation(body):
        existing = _EXISTING_ID.search(message)
        details = {**body, "existing_id": existing.group(1)} if existing else body
        return Duplicate(message, code=code, provider=PROVIDER, status=status, details=details)
    return Permanent(message, code=code, **common)


def _is_api_exception(exc: BaseException) -> bool:
    # Every SDK package generates its own ApiException class; they share name and shape.
    return any(
        cls.__name__ == "ApiException" and cls.__module__.startswith("hubspot.")
        for cls in type(exc).__mro__
    )


def _is_unique_violation(body: dict[str, Any]) -> bool:
    errors = body.get("errors") or []
    return any(isinstance(e, dict) and e.get("code") == "INVALID_UNIQUE_VALUE" for e in errors)


def _json(raw: Any) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, TypeError):
        return None


def _headers(exc: BaseException) -> dict[str, str]:
    headers = getattr(exc, "headers", None)
    return dict(headers.items()) if headers else {}


def _retry_after(headers: dict[str, str]) -> float | None:
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        moment = email.utils.parsedate_to_datetime(value)
        return max((moment - datetime.now(UTC)).total_seconds(), 0.0)


def _until_utc_midnight() -> float:
    now = datetime.now(UTC)
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
    return (midnight - now).total_seconds()


def server_time(headers: dict[str, str]) -> datetime | None:
    """The CRM's clock from a response's ``Date`` header (whole seconds)."""
    value = next((v for k, v in headers.items() if k.lower() == "date"), None)
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).astimezone(UTC)
    except (TypeError, ValueError):
        return None
