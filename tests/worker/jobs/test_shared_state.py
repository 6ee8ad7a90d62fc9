"""The shared state (pending ids, locks, budgets, the scheduler's lease) lives in one Redis:
``CRMSYNC_REDIS_URL`` when it is set apart from the broker, never split across the two."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from dramatiq import Message

from tests.services import require_another_redis, require_redis
from worker import shared_state
from worker.jobs.broker import build_broker
from worker.scheduler import LEADER_KEY, Scheduler
from worker.settings import get_settings
from worker.sync import connections

STATE_PREFIXES = ("crmsync:pending:", "crmsync:lock:", "crmsync:budget:", "crmsync:scheduler:")
ACCOUNT = "shared-state-test-portal"  # a budget no other test caches in this process


def keys(client: redis.Redis) -> list[str]:
    return sorted(key.decode() for key in client.keys("*"))


def state_keys(client: redis.Redis) -> list[str]:
    return [key for key in keys(client) if key.startswith(STATE_PREFIXES)]


@pytest.fixture
def apart(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[redis.Redis, redis.Redis]]:
    """The broker in one Redis database, the shared state set in another: (broker, state)."""
    broker_url, state_url = require_redis(), require_another_redis()
    broker_db, state_db = redis.Redis.from_url(broker_url), redis.Redis.from_url(state_url)
    broker_db.flushdb()
    state_db.flushdb()
    monkeypatch.setenv("CRMSYNC_BROKER_URL", broker_url)
    monkeypatch.setenv("CRMSYNC_REDIS_URL", state_url)
    get_settings.cache_clear()
    yield broker_db, state_db
    get_settings.cache_clear()
    connections._budgets.pop(("hubspot", ACCOUNT), None)
    broker_db.flushdb()
    state_db.flushdb()


def test_with_redis_url_apart_from_the_broker_all_shared_state_lands_in_it(
    apart: tuple[redis.Redis, redis.Redis],
) -> None:
    broker_db, state_db = apart
    settings = get_settings()
    broker = build_broker(settings)
    broker.declare_queue("realtime")
    broker.enqueue(Message(queue_name="realtime", actor_name="sync_pending", args=(7, "company"),
                           kwargs={}, options={}))  # fmt: skip

    # Pending ids, as the webhooks intake adds them.
    assert shared_state.pending_ids().add(7, "company", [("101", 1), ("102", 2)]) is True
    # A connection's lock, as a sync holds it.
    with shared_state.locks().hold("connection:7", wait_s=1):
        held = state_keys(state_db)
    # A request budget, as a connector spends it.
    connections.budget("hubspot", ACCOUNT).acquire("burst")
    # The scheduler's lease.
    scheduler = Scheduler(settings, sessions=lambda: pytest.fail("no database needed"))
    assert scheduler.coordination.lead()

    assert "crmsync:lock:connection:7" in held
    state = state_keys(state_db)
    assert any(key.startswith("crmsync:pending:7:company") for key in state)
    assert any(key.startswith(f"crmsync:budget:hubspot:{ACCOUNT}:") for key in state)
    assert LEADER_KEY in state
    assert shared_state.pending_ids().pending(7, "company") == ["101", "102"]
    # The broker's database holds the job and nothing of the shared state.
    assert any(key.startswith("crmsync:realtime") for key in keys(broker_db))
    assert state_keys(broker_db) == []
    scheduler.coordination.release()
    broker.close()
