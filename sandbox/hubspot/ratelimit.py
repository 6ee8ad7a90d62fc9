"""HubSpot's API rate limits for one portal: a rolling 10-second burst budget, a daily
budget, and the separate 5-per-second bucket of CRM search.

Numbers default to the published Professional tier (190 per 10 s, 625,000 per day, search
5 per second). Non-search responses carry the ``X-HubSpot-RateLimit-*`` headers; search
responses carry none, as on HubSpot. A 429 names the policy it hit in HubSpot's body.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime

from sandbox.hubspot.errors import HubSpotError


@dataclass(frozen=True, kw_only=True)
class RateLimits:
    """Request budgets. Pass ``limits=None`` to the sandbox to switch them all off."""

    per_interval: int = 190
    interval_s: float = 10.0
    daily: int = 625_000
    search_per_second: int = 5


class RateLimiter:
    def __init__(self, limits: RateLimits) -> None:
        self.limits = limits
        self._lock = threading.Lock()
        self._window: deque[float] = deque()
        self._search_window: deque[float] = deque()
        self._day = _today()
        self._used_today = 0

    def take(self, *, oauth: bool) -> dict[str, str]:
        """Count one non-search request; its headers, or a 429 HubSpotError."""
        limits = self.limits
        with self._lock:
            now = time.monotonic()
            self._roll_day()
            _expire(self._window, now - limits.interval_s)
            if self._used_today >= limits.daily:
                raise _too_many("daily", "DAILY", self._headers(oauth, remaining=0))
            if len(self._window) >= limits.per_interval:
                raise _too_many(
                    "ten_secondly_rolling",
                    "TEN_SECONDLY_ROLLING",
                    self._headers(oauth, remaining=0),
                )
            self._window.append(now)
            self._used_today += 1
            return self._headers(oauth, remaining=limits.per_interval - len(self._window))

    def take_search(self) -> None:
        with self._lock:
            now = time.monotonic()
            self._roll_day()
            _expire(self._search_window, now - 1.0)
            if self._used_today >= self.limits.daily:
                raise _too_many("daily", "DAILY", {})
            if len(self._search_window) >= self.limits.search_per_second:
                raise _too_many("secondly", "SECONDLY", {})
            self._search_window.append(now)
            self._used_today += 1

    def _headers(self, oauth: bool, *, remaining: int) -> dict[str, str]:
        headers = {
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(self.limits.interval_s * 1000)),
            "X-HubSpot-RateLimit-Max": str(self.limits.per_interval),
            "X-HubSpot-RateLimit-Remaining": str(max(remaining, 0)),
        }
        if not oauth:
            # HubSpot sends the daily headers to private apps only, not to OAuth apps.
            headers["X-HubSpot-RateLimit-Daily"] = str(self.limits.daily)
            headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(
                max(self.limits.daily - self._used_today, 0)
            )
        return headers

    def _roll_day(self) -> None:
        # The daily budget resets at midnight in the portal's time zone; portals here are UTC.
        today = _today()
        if today != self._day:
            self._day, self._used_today = today, 0


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


def _expire(window: deque[float], horizon: float) -> None:
    while window and window[0] <= horizon:
        window.popleft()


def _too_many(limit_name: str, policy: str, headers: dict[str, str]) -> HubSpotError:
    return HubSpotError(
        429,
        f"You have reached your {limit_name} limit.",
        category="RATE_LIMITS",
        extra={"errorType": "RATE_LIMIT", "policyName": policy},
        headers=headers,
    )
