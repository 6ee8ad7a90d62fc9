"""Two worker processes share one Redis budget against a HubSpot sandbox that enforces 20
requests per 10 seconds: together they use most of it and (almost) never meet a 429."""

from __future__ import annotations

import multiprocessing
import time
import uuid
from typing import Any

import redis

from connectors.budget import RedisBudget, hubspot_limits
from connectors.credentials import Credentials
from connectors.errors import RateLimited
from connectors.hubspot import HubSpotConnector, HubSpotOptions
from connectors.retry import RetryPolicy
from sandbox.hubspot import HubSpotSandbox, RateLimits
from tests.services import require_redis

PER_10S = 20
RUN_S = 12.5  # one full window, and time to use most of the next
START_TIMEOUT_S = 60.0  # for both processes to import and connect


def _worker(
    url: str, token: str, redis_url: str, account: str, company_id: str,
    go: Any, start: Any, results: Any,
) -> None:  # fmt: skip
    client = redis.Redis.from_url(redis_url)
    budget = RedisBudget(
        redis=client,
        provider="hubspot",
        account_id=account,
        limits=hubspot_limits(per_10s=PER_10S, daily=None),
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
    start_at = start.value
    time.sleep(max(start_at - time.time(), 0))
    deadline = start_at + RUN_S
    while time.time() < deadline:
        try:
            connector.fetch("company", [company_id])
            ok += 1
        except RateLimited as error:
            if error.code == "LOCAL_BUDGET":  # our budget says wait: do, up to the deadline
                time.sleep(min(error.wait_s, max(deadline - time.time(), 0)))
            else:
                refused += 1
    results.put((ok, refused))
    client.close()


def test_two_processes_share_the_budget_without_429s() -> None:
    redis_url = require_redis()
    sandbox = HubSpotSandbox(limits=RateLimits(per_interval=PER_10S, interval_s=10.0)).start()
    account = f"shared-{uuid.uuid4().hex}"
    try:
        company_id = sandbox.create("companies", {"name": "Shared Budget Ltd"})["id"]
        context = multiprocessing.get_context("spawn")
        results = context.Queue()
        go, start = context.Event(), context.Value("d", 0.0)
        args = (sandbox.url, sandbox.access_token, redis_url, account, company_id, go, start)
        workers = [context.Process(target=_worker, args=(*args, results)) for _ in range(2)]
        for worker in workers:
            worker.start()
        assert [results.get(timeout=START_TIMEOUT_S) for _ in workers] == ["ready", "ready"]
        start.value = time.time() + 0.2  # both are ready: the clock starts for both at once
        go.set()
        outcomes = [results.get(timeout=RUN_S + 30) for _ in workers]
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
    assert all(o > 0 for o, _ in outcomes)  # both processes got their share
    assert refused <= 1, outcomes  # (almost) no 429s
    # Two windows fit in the run: at most 40 calls; a shared budget uses most of them.
    assert ok >= 2 * PER_10S * 0.85, (ok, refused)
