"""Jobs used by the broker tests (imported by in-process tests and by worker processes)."""

from __future__ import annotations

import os
import time
from collections import Counter

import redis

from connectors.errors import Permanent, RateLimited, Transient
from worker.jobs.actor import job

FAST = {"min_backoff": 20, "max_backoff": 100, "queue_name": "bulk"}


LOCAL_TALLY: Counter[str] = Counter()
RUN_TIMES: dict[str, list[float]] = {}


def _tally(name: str) -> int:
    """Count runs: in Redis when worker processes run the jobs, else in this process."""
    RUN_TIMES.setdefault(name, []).append(time.monotonic())
    url = os.environ.get("CRMSYNC_TEST_TALLY_URL")
    if url:
        return int(redis.Redis.from_url(url).incr(f"crmsync-test:{name}"))
    LOCAL_TALLY[name] += 1
    return LOCAL_TALLY[name]


@job(direction="inbound", max_retries=3, **FAST)
def always_permanent(connection_id: int, record: str) -> None:
    _tally("always_permanent")
    raise Permanent(
        f"record {record} has no name", provider="hubspot", code="VALIDATION_ERROR", status=400
    )


@job(direction="outbound", max_retries=2, **FAST)
def always_transient(connection_id: int) -> None:
    _tally("always_transient")
    raise Transient("502 from the CRM", provider="salesforce", status=502)


@job(direction="inbound", max_retries=3, **FAST)
def rate_limited_once(connection_id: int) -> None:
    if _tally("rate_limited_once") == 1:
        raise RateLimited("ten_secondly_rolling", provider="hubspot", wait_s=0.2, status=429)
    _tally("rate_limited_once_done")


@job(direction="internal", connection_arg=None, queue_name="realtime")
def count_in_shared_redis(key: str) -> None:
    """Count a run in the Redis of the shared state (through Sentinel when set)."""
    from worker import shared_state

    client = shared_state.client()
    assert client is not None
    client.incr(f"crmsync-test:{key}")
