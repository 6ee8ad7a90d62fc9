"""Two worker processes share one Redis budget against a HubSpot sandbox that enforces its
limits: together they use most of the allowance and (almost) never meet a 429. Once for the
10-second window (whose response headers also correct the budget) and once for the search
bucket (whose responses carry no rate-limit headers: only the shared budget can keep the
two processes apart)."""

from __future__ import annotations

import multiprocessing
import time
import uuid
from typing import Any

import pytest
import redis

from connectors.budget import RedisBudget, hubspot_limits
from connectors.credentials import Credentials
from connectors.errors import RateLimited
from connectors.hubspot import HubSpotConnector, HubSpotOptions
from connectors.retry import RetryPolicy
from sandbox.hubspot import HubSpotSandbox, RateLimits
from tests.connectors.conftest import SEARCH_FROM_START
from tests.services import require_redis

START_TIMEOUT_S = 60.0  # for both processes to import and connect
# mode -> (HubSpot's limit, our budget's limits, seconds to run, most calls HubSpot allows)
CASES = {
    "burst": (RateLimits(per_interval=20, interval_s=10.0), {"per_10s": 20}, 12.5, 40),
    "search": (RateLimits(per_interval=1_000, search_per_second=2), {"search_per_s": 2}, 6.0, 13),
}


def _worker(
    mode: str, url: str, token: str, redis_url: str, account: str, company_id: str,
    go: Any, start: Any, results: Any,
) -> None:  # fmt: skip
    _, limits, run_s, _ = CASES[mode]
    client = redis.Redis.from_url(redis_url)
    budget = RedisBudget(
        redis=client,
        provider="hubspot",
        account_id=account,
        limits=hubspot_limits(daily=None, **limits),
        max_wait_s=0.5,
    )
    connector = HubSpotConnector(
        account_id=account,
        credentials=Credentials(access_token=token),
        budget=budget,
        base_url=url,
        options=HubSpotOptions(retry=RetryPolicy(attempts=1)),  # let every 429 show
    )
    ok = refused = 0
    results.put("ready")
    go.wait()
    time.sleep(max(start.value - time.time(), 0))
    deadline = start.value + run_s
    while time.time() < deadline:
        try:
            if mode == "burst":
                connector.fetch("company", [company_id])  # one batch read
            else:
                next(iter(connector.scan("company", cursor=SEARCH_FROM_START)))  # one search
            ok += 1
        except RateLimited as error:
            if error.code == "LOCAL_BUDGET":  # our budget says wait: do, up to the deadline
                time.sleep(min(error.wait_s, max(deadline - time.time(), 0)))
            else:
                refused += 1
    results.put((ok, refused))
    client.close()


@pytest.mark.parametrize("mode", sorted(CASES))
def test_two_processes_share_the_budget_without_429s(mode: str) -> None:
    redis_url = require_redis()
    sandbox_limits, _, _, most = CASES[mode]
    sandbox = HubSpotSandbox(limits=sandbox_limits).start()
    account = f"shared-{uuid.uuid4().hex}"
    try:
        company_id = sandbox.create("companies", {"name": "Shared Budget Ltd"})["id"]
        context = multiprocessing.get_context("spawn")
        results = context.Queue()
        go, start = context.Event(), context.Value("d", 0.0)
        args = (mode, sandbox.url, sandbox.access_token, redis_url, account, company_id, go, start)
        workers = [context.Process(target=_worker, args=(*args, results)) for _ in range(2)]
        for worker in workers:
            worker.start()
        assert [results.get(timeout=START_TIMEOUT_S) for _ in workers] == ["ready", "ready"]
        start.value = time.time() + 0.2  # both are ready: the clock starts for both at once
        go.set()
        outcomes = [results.get(timeout=60) for _ in workers]
        for worker in workers:
            worker.join(timeout=10)
            assert worker.exitcode == 0
    finally:
        sandbox.stop()
        client = redis.Redis.from_url(redis_url)
        client.delete(*(client.keys(f"crmsync:budget:hubspot:{account}:*") or ["-"]))
        client.close()
    ok = sum(o for o, _ in outcomes)
    refused = sum(r for _, r in outcomes)
    assert all(o > 0 for o, _ in outcomes), outcomes  # both processes got their share
    assert refused <= 1, outcomes  # (almost) no 429s
    assert ok >= 0.8 * most, outcomes  # most of what HubSpot allows in the run
