"""The request budget, in memory and in a real Redis: sliding windows wait briefly or raise
with the wait, the daily reserve stops bulk work first, the CRM's headers correct it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from connectors.budget import (
    BudgetLimits,
    MemoryBudget,
    RedisBudget,
    RequestBudget,
    Window,
    hubspot_limits,
)
from connectors.errors import BudgetExhausted, RateLimited
from tests.services import require_redis

WINDOW = Window(name="burst", limit=3, interval_s=0.3, policy="TEST_WINDOW")
LIMITS = BudgetLimits(windows=(WINDOW,), daily=20, daily_reserve=0.1, margin=0.0)

MakeBudget = Callable[..., RequestBudget]


@pytest.fixture(params=["memory", "redis"])
def make_budget(request: pytest.FixtureRequest) -> Iterator[MakeBudget]:
    made: list[RedisBudget] = []
    client = None
    if request.param == "redis":
        client = redis.Redis.from_url(require_redis())

    def make(
        limits: BudgetLimits = LIMITS, account_id: str | None = None, **kwargs: Any
    ) -> RequestBudget:
        options: dict[str, Any] = {
            "provider": "test",
            "account_id": account_id or uuid.uuid4().hex,
            "limits": limits,
            **kwargs,
        }
        if client is None:
            return MemoryBudget(**options)
        budget = RedisBudget(redis=client, **options)
        made.append(budget)
        return budget

    yield make
    for budget in made:
        budget.reset()
    if client is not None:
        client.close()


def test_a_full_window_is_waited_out_briefly(make_budget: MakeBudget) -> None:
    budget = make_budget(max_wait_s=1.0)
    started = time.monotonic()
    for _ in range(3):
        budget.acquire("burst")
    assert time.monotonic() - started < 0.2
    budget.acquire("burst")
    assert time.monotonic() - started >= 0.25
    assert budget.state().daily_used == 4


def test_a_long_wait_raises_rate_limited_with_the_wait(make_budget: MakeBudget) -> None:
    budget = make_budget(max_wait_s=0.05)
    for _ in range(3):
        budget.acquire("burst")
    with pytest.raises(RateLimited) as caught:
        budget.acquire("burst")
    assert not isinstance(caught.value, BudgetExhausted)
    assert 0 < caught.value.wait_s <= 0.3
    assert caught.value.policy == "TEST_WINDOW" and caught.value.code == "LOCAL_BUDGET"


def test_bulk_work_stops_at_the_reserve_and_the_rest_at_zero(make_budget: MakeBudget) -> None:
    budget = make_budget(BudgetLimits(daily=20, daily_reserve=0.1))
    for _ in range(18):
        budget.acquire(bulk=True)
    with pytest.raises(BudgetExhausted) as caught:
        budget.acquire(bulk=True)
    assert caught.value.wait_s > 0 and caught.value.policy == "DAILY"
    budget.acquire()
    budget.acquire()
    with pytest.raises(BudgetExhausted):
        budget.acquire()
    assert budget.state().daily_used == 20


def test_the_crms_daily_figures_replace_our_count(make_budget: MakeBudget) -> None:
    budget = make_budget(BudgetLimits(daily=1_000, daily_reserve=0.05))
    budget.acquire(bulk=True)
    budget.observe_daily(used=96, limit=100)  # other apps spent most of it
    with pytest.raises(BudgetExhausted):
        budget.acquire(bulk=True)
    budget.acquire()
    state = budget.state()
    assert (state.daily_used, state.daily_limit) == (97, 100)


def test_the_crms_window_figures_add_requests_we_did_not_make(make_budget: MakeBudget) -> None:
    budget = make_budget(max_wait_s=0.0)
    budget.acquire("burst")
    budget.observe_window("burst", remaining=0, limit=3)  # the CRM counted three
    with pytest.raises(RateLimited):
        budget.acquire("burst")
    assert budget.state().in_window["burst"] == 3


def test_a_429_blocks_every_user_of_the_budget(make_budget: MakeBudget) -> None:
    account = uuid.uuid4().hex
    first = make_budget(account_id=account, max_wait_s=1.0)
    # In memory, "every user" is every thread of the one process sharing the object.
    shared = isinstance(first, MemoryBudget)
    second = first if shared else make_budget(account_id=account, max_wait_s=1.0)
    first.block(0.2)
    started = time.monotonic()
    second.acquire("burst")
    assert time.monotonic() - started >= 0.15


def test_redis_budgets_of_one_connection_share_their_count() -> None:
    client = redis.Redis.from_url(require_redis())
    account = uuid.uuid4().hex
    budgets = [
        RedisBudget(redis=client, provider="test", account_id=account, limits=LIMITS,
                    max_wait_s=0.0)
        for _ in range(2)
    ]  # fmt: skip
    try:
        budgets[0].acquire("burst")
        budgets[1].acquire("burst")
        budgets[0].acquire("burst")
        with pytest.raises(RateLimited):
            budgets[1].acquire("burst")
        assert budgets[0].state().daily_used == 3
        assert client.keys(f"crmsync:budget:test:{account}:*")
    finally:
        budgets[0].reset()
        client.close()


def test_hubspot_limits_follow_the_published_numbers() -> None:
    limits = hubspot_limits()
    assert limits.window("burst") == Window(
        name="burst", limit=190, interval_s=10.0, policy="TEN_SECONDLY_ROLLING"
    )
    assert limits.window("search").limit == 5  # type: ignore[union-attr]
    assert limits.daily_reset == "midnight_utc"


def test_a_slow_call_counts_from_its_answer(make_budget: MakeBudget) -> None:
    # A window long enough that a loaded machine's pauses between the steps cannot free it:
    # counted from the takes it would have 1 s left, from the answers nearly 2.
    window = Window(name="burst", limit=3, interval_s=2.0, policy="TEST_WINDOW")
    budget = make_budget(BudgetLimits(windows=(window,), daily=20, margin=0.0), max_wait_s=0.0)
    tickets = [budget.acquire("burst") for _ in range(3)]
    time.sleep(1.0)  # the calls take this long; the CRM counted them on arrival
    for ticket in tickets:
        budget.settle("burst", ticket)
    with pytest.raises(RateLimited) as caught:
        budget.acquire("burst")
    assert caught.value.wait_s > 1.5  # a full window from the answers, not from the takes


def test_a_crm_refusal_for_the_day_stops_every_call(make_budget: MakeBudget) -> None:
    budget = make_budget(BudgetLimits(daily=1_000, daily_reset="midnight_utc"))
    budget.acquire()
    budget.exhaust_daily()
    with pytest.raises(BudgetExhausted) as caught:
        budget.acquire()
    assert 0 < caught.value.wait_s <= 86_400  # until midnight UTC


def test_a_spent_rolling_allowance_lets_a_probe_through_later(make_budget: MakeBudget) -> None:
    budget = make_budget(BudgetLimits(daily=100, daily_reset="rolling", rolling_recheck_s=0.3))
    budget.observe_daily(used=100, limit=100)
    with pytest.raises(BudgetExhausted) as caught:
        budget.acquire()
    assert caught.value.wait_s == 0.3
    time.sleep(0.4)  # nobody asked the CRM meanwhile: what we knew is forgotten
    budget.acquire()
