"""Retrying short blips inside one connector call, with tenacity.

Only ``Transient`` errors and ``RateLimited`` waits short enough to sit out are retried here,
a bounded number of times with jittered exponential backoff. Anything longer (a daily budget,
a long 429, repeated failures) is re-raised for the caller to schedule: a worker thread must
not sleep for minutes. This module knows the error taxonomy only, never an SDK.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_random_exponential

from connectors.errors import BudgetExhausted, RateLimited, Transient

T = TypeVar("T")

DEFAULT_ATTEMPTS = 3
DEFAULT_BACKOFF_S = 0.5  # first retry waits up to this long, then doubles (full jitter)
DEFAULT_MAX_BACKOFF_S = 8.0
DEFAULT_MAX_RATE_LIMIT_WAIT_S = 11.0  # a HubSpot 10-second window is worth waiting out
LOCKED_WAIT_S = 2.0  # HubSpot's 423: "retry after a delay of at least 2 seconds"


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    attempts: int = DEFAULT_ATTEMPTS
    backoff_s: float = DEFAULT_BACKOFF_S
    max_backoff_s: float = DEFAULT_MAX_BACKOFF_S
    max_rate_limit_wait_s: float = DEFAULT_MAX_RATE_LIMIT_WAIT_S
    locked_wait_s: float = LOCKED_WAIT_S


def retryable(error: BaseException, policy: RetryPolicy) -> bool:
    if isinstance(error, BudgetExhausted):
        return False
    if isinstance(error, RateLimited):
        return error.wait_s <= policy.max_rate_limit_wait_s
    return isinstance(error, Transient)


def call_with_retry(
    call: Callable[[], T], policy: RetryPolicy, *, sleep: Callable[[float], None] = time.sleep
) -> T:
    """Run ``call``; retry short blips; re-raise the last error when retries are spent."""
    backoff = wait_random_exponential(multiplier=policy.backoff_s, max=policy.max_backoff_s)

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, RateLimited):
            return error.wait_s
        if isinstance(error, Transient) and error.status == 423:
            return max(policy.locked_wait_s, backoff(state))
        return backoff(state)

    retrying = Retrying(
        stop=stop_after_attempt(policy.attempts),
        retry=retry_if_exception(lambda error: retryable(error, policy)),
        wait=wait,
        sleep=sleep,
        reraise=True,
    )
    return retrying(call)
