"""Pending record ids (``worker.pending``): in a real Redis and in memory, the same rules:
oldest first, at most 100 per take, one job armed at a time until it hands over, and
nothing lost when a taker never acknowledges."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
import redis

from tests.worker.webhooks.conftest import own_redis
from worker.pending import MAX_IDS, MemoryPending, PendingStore, RedisPending, leased

CONNECTION = 7


@pytest.fixture(params=["redis", "memory"])
def make(request: pytest.FixtureRequest) -> Iterator[Callable[[float], PendingStore]]:
    """Makes a store whose arm expires after the given seconds."""
    if request.param == "memory":
        yield lambda armed_ttl_s: MemoryPending(armed_ttl_s=armed_ttl_s)
        return
    client = redis.Redis.from_url(own_redis())
    client.flushdb()
    yield lambda armed_ttl_s: RedisPending(client, armed_ttl_s=armed_ttl_s)
    client.flushdb()
    client.close()


@pytest.fixture
def store(make: Callable[[float], PendingStore]) -> PendingStore:
    return make(30.0)


def test_ids_wait_oldest_first_and_one_job_is_armed_at_a_time(store: PendingStore) -> None:
    assert store.add(CONNECTION, "company", [("b", 20), ("a", 30)]) is True
    # Armed: more ids join the same job; an id seen again keeps its earliest time.
    assert store.add(CONNECTION, "company", [("c", 10), ("a", 5), ("b", 40)]) is False
    assert store.pending(CONNECTION, "company") == ["a", "c", "b"]
    # Another object type or connection is its own line.
    assert store.add(CONNECTION, "contact", [("x", 1)]) is True
    assert store.add(CONNECTION + 1, "company", [("a", 1)]) is True

    taken = store.take(CONNECTION, "company", lease_s=30)
    assert (taken.ids, taken.more) == (["a", "c", "b"], False)
    assert store.pending(CONNECTION, "company") == []
    # The taker keeps the arm until it hands over (when it holds the connection's lock):
    # what arrives meanwhile waits for the job it sends then.
    assert store.add(CONNECTION, "company", [("d", 1)]) is False
    assert store.hand_over(CONNECTION, "company") is True
    assert store.add(CONNECTION, "company", [("e", 2)]) is False
    assert store.take(CONNECTION, "company", lease_s=30).ids == ["d", "e"]
    # Nothing waits at the next hand-over: disarmed, the next id needs a job of its own.
    assert store.hand_over(CONNECTION, "company") is False
    assert store.add(CONNECTION, "company", [("f", 1)]) is True


def test_a_take_holds_at_most_100_and_says_more_are_left(store: PendingStore) -> None:
    ids = [(f"{number:04}", float(number)) for number in range(MAX_IDS + 30)]
    assert store.add(CONNECTION, "contact", ids) is True
    first = store.take(CONNECTION, "contact", lease_s=30)
    assert first.ids == [external_id for external_id, _ in ids[:MAX_IDS]] and first.more
    # Still armed: the taker owes the next job, so the intake does not send one.
    assert store.add(CONNECTION, "contact", [("late", 1e15)]) is False
    second = store.take(CONNECTION, "contact", lease_s=30)
    assert len(second.ids) == 31 and not second.more
    assert store.take(CONNECTION, "contact", lease_s=30).ids == []


def test_ids_of_a_taker_that_never_acknowledges_come_back_first(
    make: Callable[[float], PendingStore],
) -> None:
    store = make(0.5)
    assert store.add(CONNECTION, "company", [("1", 1), ("2", 2)]) is True
    # Its worker dies holding the ids and the arm: no renewal, no hand-over, no ack.
    lost = store.take(CONNECTION, "company", lease_s=0.5)
    assert lost.ids == ["1", "2"]
    assert store.add(CONNECTION, "company", [("3", 3)]) is False  # the dead job's arm
    assert store.take(CONNECTION, "company", lease_s=30).ids == ["3"]  # 1 and 2 still leased
    time.sleep(0.7)
    # The next add finds the expired lease, puts its ids back and arms a job for them.
    assert store.add(CONNECTION, "company", [("4", 4)]) is True
    assert store.take(CONNECTION, "company", lease_s=30).ids == ["1", "2", "4"]


def test_acknowledged_ids_are_gone_and_a_renewed_lease_is_kept(store: PendingStore) -> None:
    store.add(CONNECTION, "company", [("1", 1)])
    with leased(store, CONNECTION, "company", lease_s=0.3) as taken:
        assert taken.ids == ["1"]
        time.sleep(0.7)  # past the lease twice over: the heartbeat renewed it
        assert store.take(CONNECTION, "company", lease_s=30).ids == []
    time.sleep(0.4)
    assert store.take(CONNECTION, "company", lease_s=30).ids == []
    assert store.renew(CONNECTION, "company", taken.token, lease_s=30) is False


def test_a_block_that_raises_leaves_its_ids_to_come_back(store: PendingStore) -> None:
    store.add(CONNECTION, "company", [("1", 1)])
    with pytest.raises(RuntimeError), leased(store, CONNECTION, "company", lease_s=0.2):
        raise RuntimeError("the sync failed before its commit")
    time.sleep(0.3)
    assert store.take(CONNECTION, "company", lease_s=30).ids == ["1"]
