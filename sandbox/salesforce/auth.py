"""OAuth credentials, sessions (access tokens) and the org's daily API allocation.

A connected app has a consumer key and secret; a user's refresh token trades for access
tokens at ``POST /services/oauth2/token`` (``grant_type=refresh_token``). Access tokens
are session ids: they expire after the org's session timeout (two hours by default) and
on demand, and every REST call must carry one as ``Authorization: Bearer``.

The daily allocation is a rolling 24-hour count of REST calls shared by the whole org;
past it Salesforce refuses calls with 403 ``REQUEST_LIMIT_EXCEEDED``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

DEFAULT_SESSION_LIFETIME_S = 2 * 60 * 60
DEFAULT_DAILY_API_LIMIT = 100_000
API_LIMIT_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class Credentials:
    """What a connected app and its authorized user hold."""

    consumer_key: str
    consumer_secret: str
    refresh_token: str
    user_id: str
    username: str

    @classmethod
    def generate(cls, org_id: str, user_id: str) -> Credentials:
        return cls(
            consumer_key="3MVG9" + secrets.token_urlsafe(60).replace("-", "A")[:80],
            consumer_secret=secrets.token_hex(32).upper(),
            refresh_token=f"5Aep861{secrets.token_urlsafe(64)[:80]}",
            user_id=user_id,
            username=f"integration@{org_id.lower()}.sandbox",
        )


@dataclass
class Sessions:
    """Issued access tokens and when they lapse."""

    org_id: str
    clock: Callable[[], datetime]
    lifetime_s: float = DEFAULT_SESSION_LIFETIME_S
    _expiry: dict[str, datetime] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def issue(self) -> str:
        token = f"{self.org_id[:15]}!AQ{secrets.token_urlsafe(72)}"
        with self._lock:
            self._expiry[token] = self.clock() + timedelta(seconds=self.lifetime_s)
        return token

    def is_valid(self, token: str) -> bool:
        with self._lock:
            expiry = self._expiry.get(token)
            if expiry is None:
                return False
            if self.clock() >= expiry:
                del self._expiry[token]
                return False
            return True

    def expire_all(self) -> None:
        with self._lock:
            self._expiry.clear()


class ApiUsage:
    """Rolling 24-hour count of API calls against the org's daily allocation."""

    def __init__(self, limit: int, clock: Callable[[], datetime]) -> None:
        self.limit = limit
        self._clock = clock
        self._calls: deque[datetime] = deque()
        self._lock = threading.Lock()

    def _trim(self, now: datetime) -> None:
        cutoff = now - API_LIMIT_WINDOW
        while self._calls and self._calls[0] <= cutoff:
            self._calls.popleft()

    def consume(self) -> bool:
        """Count one call; False (and not counted) when the allocation is spent."""
        now = self._clock()
        with self._lock:
            self._trim(now)
            if len(self._calls) >= self.limit:
                return False
            self._calls.append(now)
            return True

    @property
    def used(self) -> int:
        with self._lock:
            self._trim(self._clock())
            return len(self._calls)

    def set_used(self, used: int) -> None:
        """Pretend ``used`` calls were made just now (tests of the daily limit)."""
        now = self._clock()
        with self._lock:
            self._calls = deque([now] * used)

    def header(self) -> str:
        return f"api-usage={self.used}/{self.limit}"


def token_response(
    form: Mapping[str, str],
    *,
    credentials: Credentials,
    sessions: Sessions,
    instance_url: str,
    org_id: str,
    issued_at_ms: int,
    revoked: bool = False,
) -> tuple[int, dict[str, Any]]:
    """Answer a ``/services/oauth2/token`` request as Salesforce does: (status, body)."""
    grant_type = form.get("grant_type")
    if grant_type != "refresh_token":
        return 400, {
            "error": "unsupported_grant_type",
            "error_description": "grant type not supported",
        }
    if form.get("client_id") != credentials.consumer_key:
        return 400, {"error": "invalid_client_id", "error_description": "client identifier invalid"}
    secret = form.get("client_secret")
    if secret is not None and secret != credentials.consumer_secret:
        return 400, {"error": "invalid_client", "error_description": "invalid client credentials"}
    if revoked or form.get("refresh_token") != credentials.refresh_token:
        return 400, {"error": "invalid_grant", "error_description": "expired access/refresh token"}
    identity = f"{instance_url}/id/{org_id}/{credentials.user_id}"
    issued_at = str(issued_at_ms)
    signature = base64.b64encode(
        hmac.new(
            credentials.consumer_secret.encode(), (identity + issued_at).encode(), hashlib.sha256
        ).digest()
    ).decode()
    return 200, {
        "access_token": sessions.issue(),
        "signature": signature,
        "scope": "refresh_token api",
        "instance_url": instance_url,
        "id": identity,
        "token_type": "Bearer",
        "issued_at": issued_at,
    }
