"""A request budget per CRM connection, shared by every process that talks to it.

The CRM's limits are per account (a HubSpot portal, a Salesforce org), not per process, so
the budget lives in Redis (one atomic Lua script per take) and, for the embedded mode on one
machine, in memory. It is sized from the published limits and corrected from what the CRM
says in its rate-limit headers, so calls made by other apps or processes we do not know
about are counted too.

Three things are tracked:

- sliding windows (HubSpot: 190 requests per 10 s; search: 5 per second), each a sorted set
  of request times; a take waits briefly when a window is full, and raises ``RateLimited``
  with the wait when the wait would be long;
- a block set after a 429 (every process pauses for what the CRM asked);
- the daily allowance: bulk work (scans) stops with ``BudgetExhausted`` once only the reserve
  is left, so webhook-driven reads and pushes keep working; every call stops at zero.

This module knows no CRM SDK and makes no CRM calls.
"""

from __future__ import annotations

import threading
import time
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Protocol

from connectors.errors import BudgetExhausted, RateLimited

# Defaults, from the published limits (see CRM-API-FACTS): HubSpot Professional allows 190
# requests per 10 s and search 5 per second per account; the daily allowance is the lowest
# published tier until the CRM's headers say otherwise.
HUBSPOT_PER_10S = 190
HUBSPOT_SEARCH_PER_S = 5
HUBSPOT_DAILY = 250_000
SALESFORCE_DAILY = 100_000
DEFAULT_DAILY_RESERVE = 0.05  # share of the daily allowance kept for non-bulk calls
DEFAULT_MAX_WAIT_S = 12.0  # longer than one HubSpot window: a full window is waited out
# A request counts from when it was answered (after the CRM counted it); it is held this
# share of the window longer still, for the CRM's clock and ours not to agree exactly
# (0.25 s of HubSpot's 10-second window).
WINDOW_MARGIN = 0.025
# Salesforce's daily allowance is a rolling 24 hours: what we know of it is forgotten this
# long after the CRM last told us, so a spent budget lets a call through to ask again.
ROLLING_DAY_RETRY_S = 3600.0
CALENDAR_DAY_KEEP_S = 2 * 86_400

# Redis key names, all in one place: crmsync:budget:{provider}:{account}:{part}
KEY_PREFIX = "crmsync:budget"
WINDOW_KEY = "window:{name}"
BLOCK_KEY = "block"
DAILY_KEY = "daily"

DailyReset = Literal["midnight_utc", "rolling"]


@dataclass(frozen=True, kw_only=True)
class Window:
    name: str
    limit: int
    interval_s: float
    policy: str  # the CRM's own name for the limit, carried by RateLimited


@dataclass(frozen=True, kw_only=True)
class BudgetLimits:
    """What one connection may spend."""

    windows: tuple[Window, ...] = ()
    daily: int | None = None
    daily_reserve: float = DEFAULT_DAILY_RESERVE
    daily_reset: DailyReset = "rolling"
    # A rolling allowance is forgotten this long after the CRM last reported it (a probe).
    rolling_recheck_s: float = ROLLING_DAY_RETRY_S
    margin: float = WINDOW_MARGIN  # share of a window a request is held beyond it

    def held_s(self, window: Window) -> float:
        """How long a request counts in ``window``: the window plus a margin for clocks."""
        return window.interval_s * (1 + self.margin)

    def window(self, name: str | None) -> Window | None:
        if name is None:
            return None
        for window in self.windows:
            if window.name == name:
                return window
        raise KeyError(f"no budget window named {name!r}")


def hubspot_limits(
    *,
    per_10s: int = HUBSPOT_PER_10S,
    search_per_s: int = HUBSPOT_SEARCH_PER_S,
    daily: int | None = HUBSPOT_DAILY,
    daily_reserve: float = DEFAULT_DAILY_RESERVE,
) -> BudgetLimits:
    return BudgetLimits(
        windows=(
            Window(name="burst", limit=per_10s, interval_s=10.0, policy="TEN_SECONDLY_ROLLING"),
            Window(name="search", limit=search_per_s, interval_s=1.0, policy="SECONDLY"),
        ),
        daily=daily,
        daily_reserve=daily_reserve,
        daily_reset="midnight_utc",  # HubSpot resets at midnight in the portal's zone
    )


def salesforce_limits(
    *, daily: int | None = SALESFORCE_DAILY, daily_reserve: float = DEFAULT_DAILY_RESERVE
) -> BudgetLimits:
    return BudgetLimits(daily=daily, daily_reserve=daily_reserve, daily_reset="rolling")


@dataclass
class BudgetState:
    """What a budget knows right now (for runs, benchmarks and tests)."""

    daily_used: int
    daily_limit: int | None
    in_window: dict[str, int] = field(default_factory=dict)


class RequestBudget(Protocol):
    provider: str
    account_id: str
    limits: BudgetLimits

    def acquire(self, window: str | None = None, *, bulk: bool = False) -> str | None:
        """Take one request, waiting up to ``max_wait_s``; raises RateLimited /
        BudgetExhausted (bulk calls stop at the reserve, others at zero). Returns a ticket
        for :meth:`settle`."""
        ...

    def settle(self, window: str | None, ticket: str | None) -> None:
        """The request is answered: it counts in its window from now. The CRM counted it
        when it arrived, which is after we took it; holding it from the answer keeps our
        window from freeing before the CRM's does, however slow the call was."""
        ...

    def observe_window(self, window: str, *, remaining: int, limit: int | None = None) -> None:
        """The CRM says ``remaining`` requests are left in its current window."""
        ...

    def observe_daily(self, *, used: int, limit: int | None = None) -> None:
        """The CRM says ``used`` of ``limit`` daily requests are spent."""
        ...

    def block(self, seconds: float) -> None:
        """The CRM answered 429: every process pauses this long."""
        ...

    def exhaust_daily(self) -> None:
        """The CRM refused a call for its daily limit: every process stops until it resets."""
        ...

    def state(self) -> BudgetState: ...


class _BudgetBase(ABC):
    def __init__(
        self,
        *,
        provider: str,
        account_id: str,
        limits: BudgetLimits,
        max_wait_s: float = DEFAULT_MAX_WAIT_S,
    ) -> None:
        self.provider = provider
        self.account_id = account_id
        self.limits = limits
        self.max_wait_s = max_wait_s

    def acquire(self, window: str | None = None, *, bulk: bool = False) -> str | None:
        spec = self.limits.window(window)
        waited = 0.0
        while True:
            ticket = uuid.uuid4().hex
            outcome, wait_s = self._take(spec, ticket, bulk=bulk)
            if outcome == "ok":
                return ticket if spec is not None else None
            if outcome == "exhausted":
                raise BudgetExhausted(
                    "daily API budget spent" + (" down to the reserve" if bulk else ""),
                    wait_s=self._until_daily_reset(),
                    policy="DAILY",
                    provider=self.provider,
                    code="DAILY_BUDGET",
                )
            if waited + wait_s > self.max_wait_s:
                raise RateLimited(
                    f"request budget full; next slot in {wait_s:.1f}s",
                    wait_s=wait_s,
                    policy=spec.policy if spec else None,
                    provider=self.provider,
                    code="LOCAL_BUDGET",
                )
            time.sleep(wait_s)
            waited += wait_s

    @abstractmethod
    def _take(self, spec: Window | None, ticket: str, *, bulk: bool) -> tuple[str, float]:
        """Count a request in its window if there is room; else how long to wait."""

    @abstractmethod
    def observe_daily(self, *, used: int, limit: int | None = None) -> None:
        """Correct the daily count from what the CRM reported."""

    @abstractmethod
    def state(self) -> BudgetState:
        """What is used and left, for status and tests."""

    def _daily_threshold(self, limit: int, bulk: bool) -> int:
        return int(limit * (1 - self.limits.daily_reserve)) if bulk else limit

    def _day(self) -> str:
        if self.limits.daily_reset == "midnight_utc":
            return datetime.now(UTC).date().isoformat()
        return "rolling"

    def _daily_keep_ms(self) -> int:
        if self.limits.daily_reset == "rolling":
            return max(int(self.limits.rolling_recheck_s * 1000), 1)
        return CALENDAR_DAY_KEEP_S * 1000

    def exhaust_daily(self) -> None:
        """The CRM refused a call for its daily limit: stop every process until it resets
        (HubSpot: midnight) or, for a rolling allowance, until a probe may ask again."""
        limit = self.state().daily_limit or self.limits.daily or 1
        self.observe_daily(used=limit, limit=limit)

    def _until_daily_reset(self) -> float:
        if self.limits.daily_reset == "rolling":
            return self.limits.rolling_recheck_s
        now = datetime.now(UTC)
        midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
        return (midnight - now).total_seconds()


class MemoryBudget(_BudgetBase):
    """The budget of one process (embedded mode: one machine, no Redis)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._lock = threading.Lock()
        # window name -> ticket -> when it counts from
        self._windows: dict[str, dict[str, float]] = {w.name: {} for w in self.limits.windows}
        self._blocked_until = 0.0
        self._day_key = self._day()
        self._daily_used = 0
        self._daily_observed_at = time.time()
        self._daily_limit = self.limits.daily

    def _live(self, spec: Window, now: float) -> dict[str, float]:
        times = self._windows[spec.name]
        horizon = now - self.limits.held_s(spec)
        for ticket in [t for t, at in times.items() if at <= horizon]:
            del times[ticket]
        return times

    def _take(self, spec: Window | None, ticket: str, *, bulk: bool) -> tuple[str, float]:
        with self._lock:
            now = time.time()
            self._roll_day()
            if self._daily_limit is not None and self._daily_used >= self._daily_threshold(
                self._daily_limit, bulk
            ):
                return "exhausted", 0.0
            if self._blocked_until > now:
                return "wait", self._blocked_until - now
            if spec is not None:
                times = self._live(spec, now)
                if len(times) >= spec.limit:
                    interval = self.limits.held_s(spec)
                    return "wait", max(min(times.values()) + interval - now, 0.001)
                times[ticket] = now
            self._daily_used += 1
            return "ok", 0.0

    def settle(self, window: str | None, ticket: str | None) -> None:
        if window is None or ticket is None:
            return
        with self._lock:
            times = self._windows[window]
            if ticket in times:
                times[ticket] = time.time()

    def observe_window(self, window: str, *, remaining: int, limit: int | None = None) -> None:
        spec = self.limits.window(window)
        assert spec is not None
        with self._lock:
            now = time.time()
            times = self._live(spec, now)
            crm_used = min((limit or spec.limit) - remaining, spec.limit)
            for _ in range(crm_used - len(times)):
                times[uuid.uuid4().hex] = now

    def observe_daily(self, *, used: int, limit: int | None = None) -> None:
        with self._lock:
            self._roll_day()
            self._daily_used = used
            self._daily_observed_at = time.time()
            if limit is not None:
                self._daily_limit = limit

    def block(self, seconds: float) -> None:
        with self._lock:
            self._blocked_until = max(self._blocked_until, time.time() + seconds)

    def state(self) -> BudgetState:
        with self._lock:
            return BudgetState(
                daily_used=self._daily_used,
                daily_limit=self._daily_limit,
                in_window={name: len(times) for name, times in self._windows.items()},
            )

    def _roll_day(self) -> None:
        day = self._day()
        stale = (
            self.limits.daily_reset == "rolling"
            and time.time() - self._daily_observed_at > self.limits.rolling_recheck_s
        )
        if day != self._day_key or stale:
            self._day_key, self._daily_used = day, 0
            self._daily_observed_at = time.time()
            self._daily_limit = self.limits.daily


def _script(name: str) -> str:
    """A Lua script kept beside this module (shipped in the wheel with it)."""
    return Path(__file__).with_name(name).read_text(encoding="utf-8")


# Each script's KEYS and ARGV are described at the top of its .lua file.
_TAKE = _script("budget_take.lua")
_OBSERVE_WINDOW = _script("budget_observe_window.lua")
_SETTLE = _script("budget_settle.lua")


class RedisBudget(_BudgetBase):
    """The budget shared by every process through one Redis."""

    def __init__(self, *, redis: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.redis = redis
        self._take_script = redis.register_script(_TAKE)
        self._observe_script = redis.register_script(_OBSERVE_WINDOW)
        self._settle_script = redis.register_script(_SETTLE)

    def key(self, part: str) -> str:
        return f"{KEY_PREFIX}:{self.provider}:{self.account_id}:{part}"

    def _take(self, spec: Window | None, ticket: str, *, bulk: bool) -> tuple[str, float]:
        window_key = self.key(WINDOW_KEY.format(name=spec.name)) if spec else ""
        interval_ms = int(self.limits.held_s(spec) * 1000) if spec else 0
        code, wait_ms = self._take_script(
            keys=[window_key, self.key(DAILY_KEY), self.key(BLOCK_KEY)],
            args=[
                spec.limit if spec else 0,
                interval_ms,
                self.limits.daily or 0,
                self.limits.daily_reserve,
                1 if bulk else 0,
                self._day(),
                ticket,
                self._daily_keep_ms(),
            ],
        )
        code = int(code)
        if code == 0:
            return "ok", 0.0
        if code == 2:
            return "exhausted", 0.0
        return "wait", int(wait_ms) / 1000

    def settle(self, window: str | None, ticket: str | None) -> None:
        spec = self.limits.window(window)
        if spec is None or ticket is None:
            return
        interval_ms = int(self.limits.held_s(spec) * 1000)
        self._settle_script(
            keys=[self.key(WINDOW_KEY.format(name=spec.name))], args=[ticket, interval_ms]
        )

    def observe_window(self, window: str, *, remaining: int, limit: int | None = None) -> None:
        spec = self.limits.window(window)
        assert spec is not None
        crm_used = min((limit or spec.limit) - remaining, spec.limit)
        if crm_used <= 0:
            return
        self._observe_script(
            keys=[self.key(WINDOW_KEY.format(name=spec.name))],
            args=[
                crm_used,
                int(self.limits.held_s(spec) * 1000),
                f"crm:{uuid.uuid4().hex}:",
            ],
        )

    def observe_daily(self, *, used: int, limit: int | None = None) -> None:
        mapping: dict[str, Any] = {"day": self._day(), "used": used}
        if limit is not None:
            mapping["limit"] = limit
        pipe = self.redis.pipeline()
        pipe.hset(self.key(DAILY_KEY), mapping=mapping)
        pipe.pexpire(self.key(DAILY_KEY), self._daily_keep_ms())
        pipe.execute()

    def block(self, seconds: float) -> None:
        milliseconds = max(int(seconds * 1000), 1)
        # Keep the longer of two blocks: GT only ever extends the expiry.
        self.redis.set(self.key(BLOCK_KEY), 1, px=milliseconds, nx=True) or self.redis.pexpire(
            self.key(BLOCK_KEY), milliseconds, gt=True
        )

    def state(self) -> BudgetState:
        daily = self.redis.hgetall(self.key(DAILY_KEY))
        used = int(daily.get(b"used", 0)) if daily.get(b"day") == self._day().encode() else 0
        limit = int(daily[b"limit"]) if b"limit" in daily else self.limits.daily
        now_ms = int(time.time() * 1000)
        in_window = {}
        for spec in self.limits.windows:
            horizon = now_ms - int(self.limits.held_s(spec) * 1000)
            in_window[spec.name] = int(
                self.redis.zcount(self.key(WINDOW_KEY.format(name=spec.name)), horizon, "+inf")
            )
        return BudgetState(daily_used=used, daily_limit=limit, in_window=in_window)

    def reset(self) -> None:
        """Forget everything about this connection's budget (tests, a re-created account)."""
        parts = [DAILY_KEY, BLOCK_KEY] + [
            WINDOW_KEY.format(name=w.name) for w in self.limits.windows
        ]
        self.redis.delete(*(self.key(part) for part in parts))
