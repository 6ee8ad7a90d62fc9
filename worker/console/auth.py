"""Signing in, who is signed in, CSRF tokens, roles, and the limit on failed sign-ins.

- The session is a cookie signed with ``CRMSYNC_CONSOLE_SECRET_KEY`` (Starlette's
  SessionMiddleware), ``SameSite=Strict``, ``HttpOnly``, and ``Secure`` unless the console
  listens on a loopback address (``CRMSYNC_CONSOLE_HTTPS_ONLY`` decides). It holds the
  user's id and a CSRF token only; the user is read from the database on every request,
  so a removed user is signed out at once.
- Every POST carries the session's CSRF token in a ``csrf`` form field; one without it, or
  with another, is refused with 403 before anything is read or written.
- Signing in starts a new session (no fixation). Failed sign-ins are counted per email and
  per client address; past ``MAX_FAILURES`` in ``FAILURE_WINDOW_S`` the form answers 429.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import secrets
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass

from starlette.requests import Request

from customers.console_users import Role
from worker.settings import Settings

log = logging.getLogger(__name__)

CSRF_FIELD = "csrf"
MAX_FAILURES = 10
FAILURE_WINDOW_S = 15 * 60.0
MAX_KEYS = 10_000
LOOPBACK_NAMES = ("localhost",)


def secret_key(settings: Settings) -> str:
    """The configured session key, or a random one for this process (with a warning)."""
    if settings.console_secret_key is not None:
        return settings.console_secret_key.get_secret_value()
    log.warning(
        "CRMSYNC_CONSOLE_SECRET_KEY is not set: using a random key for this process; "
        "sign-ins end when the console restarts"
    )
    return secrets.token_urlsafe(48)


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def https_only(settings: Settings, host: str) -> bool:
    """Whether the session cookie is Secure: as configured, else unless on loopback."""
    if settings.console_https_only is not None:
        return settings.console_https_only
    return not is_loopback(host)


@dataclass(frozen=True)
class SignedIn:
    """Who is signed in, as the pages need it."""

    id: int
    email: str
    tenant_id: int
    tenant: str
    role: str

    @property
    def is_operator(self) -> bool:
        return self.role == Role.OPERATOR


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made on first use."""
    token = request.session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session[CSRF_FIELD] = token
    return token


def csrf_ok(request: Request, submitted: object) -> bool:
    expected = request.session.get(CSRF_FIELD)
    if not isinstance(expected, str) or not isinstance(submitted, str):
        return False
    return hmac.compare_digest(expected.encode(), submitted.encode())


def start_session(request: Request, user_id: int) -> None:
    """A fresh session for the user: nothing of the one before survives."""
    request.session.clear()
    request.session["uid"] = user_id
    request.session[CSRF_FIELD] = secrets.token_urlsafe(32)


class LoginThrottle:
    """Failed sign-ins per key (an email, a client address) in a sliding window. In memory:
    one console process; several behind a balancer each count their own."""

    def __init__(
        self, *, max_failures: int = MAX_FAILURES, window_s: float = FAILURE_WINDOW_S
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: defaultdict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        moments = self._failures[key]
        while moments and moments[0] <= now - self.window_s:
            moments.popleft()
        return moments

    def __len__(self) -> int:
        """How many keys are remembered."""
        with self._lock:
            return len(self._failures)

    def blocked(self, *keys: str) -> bool:
        now = time.monotonic()
        with self._lock:
            # Only keys that failed before: a look-up must not remember a new key (a blocked
            # client trying new emails would grow the table, and nothing would prune it).
            return any(
                len(self._recent(key, now)) >= self.max_failures
                for key in keys
                if key in self._failures
            )

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)
            if len(self._failures) > MAX_KEYS:
                # Many made-up emails must not grow this without end: forget quiet keys.
                for key in [k for k in self._failures if not self._recent(k, now)]:
                    del self._failures[key]

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)
