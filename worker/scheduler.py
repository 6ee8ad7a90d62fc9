"""The scheduler: enqueues each active connection's periodic work.

Per active connection:

- ``sync_changes`` every ``sync_interval_s`` (the connection's settings, else
  ``CRMSYNC_SCHEDULER_SYNC_INTERVAL_S``): the incremental scan that catches what webhooks
  missed;
- ``push_changes`` every ``push_interval_s`` (likewise, else
  ``CRMSYNC_SCHEDULER_PUSH_INTERVAL_S``): the outbox sweep;
- ``reconcile`` once a day at ``CRMSYNC_SCHEDULER_RECONCILE_AT`` (UTC) plus the
  connection's own offset within ``CRMSYNC_SCHEDULER_RECONCILE_SPREAD_S``: the full pass.
  The offset is a hash of the connection id, so it is the same in every scheduler and after
  every restart, and a thousand connections' reconciles do not start in the same second.

Once for all connections and tenants: ``prune`` once a day at ``CRMSYNC_SCHEDULER_PRUNE_AT``
(UTC), which deletes sync history past the ``CRMSYNC_RETENTION_*`` limits (not planned when
every limit keeps forever).

APScheduler holds one job per (kind, connection), and one per kind for the jobs of all. The
connections are re-read every ``CRMSYNC_SCHEDULER_REFRESH_S`` (new ones get jobs; paused,
auth_failed, removed or deleted ones lose them,
changed intervals are rescheduled), and each job re-reads its connection when it fires, so
a connection paused a second ago is not enqueued.

Only one scheduler enqueues, however many run: the leader holds a Redis key with an expiry
(``CRMSYNC_SCHEDULER_LOCK_TTL_S``) and renews it; the others stand by and take over once it
lapses. A job also claims its slot (``SET NX`` with an expiry a little under its period)
before it enqueues, so a leadership handover cannot send the same slot twice. Without
Redis (the embedded mode, one process) the scheduler is the leader and claims in memory.

A kind is skipped for a connection while its previous run is still going: a ``sync_runs``
row of that kind with outcome ``running``, started less than
``CRMSYNC_SCHEDULER_RUN_STALE_S`` ago (older ones are presumed dead — the worker that ran
them was killed). A job still waiting in the queue has no run row yet; the jobs are
idempotent, so such a duplicate only costs a scan.

This module enqueues by name (``worker.jobs.enqueue``) and must not import actor code or call
a CRM.
"""

from __future__ import annotations

import hashlib
import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import redis
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from customers.sync_state import Connection, ConnectionStatus, SyncRun
from customers.types import utcnow
from worker import logs, shared_state
from worker.jobs import enqueue
from worker.retention import Retention
from worker.settings import Settings, get_settings

log = logging.getLogger(__name__)

LEADER_KEY = "crmsync:scheduler:leader"
SLOT_KEY = "crmsync:scheduler:slot:{job}:{connection_id}"  # connection "all": a job of all
RUN_KINDS = {
    enqueue.SYNC_CHANGES: "incremental",
    enqueue.PUSH_CHANGES: "push",
    enqueue.RECONCILE: "reconcile",
}
DAILY_SLOT_S = 3600.0  # one nightly reconcile per connection (one prune), whoever leads
SLOT_SHARE = 0.8  # a slot is claimed for this share of its period


def _script(name: str) -> str:
    """A Lua script kept beside this module (shipped in the wheel with it)."""
    return Path(__file__).with_name(name).read_text(encoding="utf-8")


_HOLD = _script("scheduler_hold.lua")
_RELEASE = _script("scheduler_release.lua")


class Coordination(Protocol):
    """Who leads, and which (job, connection) slots were already enqueued."""

    def lead(self) -> bool: ...
    def release(self) -> None: ...
    def claim(self, job: str, connection_id: int | None, period_s: float) -> bool: ...


class RedisCoordination:
    def __init__(self, client: redis.Redis, *, ttl_s: float) -> None:
        self._client = client
        self._token = uuid.uuid4().hex
        self._ttl_ms = max(int(ttl_s * 1000), 1)
        self._hold = client.register_script(_HOLD)
        self._release = client.register_script(_RELEASE)

    def lead(self) -> bool:
        return bool(self._hold(keys=[LEADER_KEY], args=[self._token, self._ttl_ms]))

    def release(self) -> None:
        self._release(keys=[LEADER_KEY], args=[self._token])

    def claim(self, job: str, connection_id: int | None, period_s: float) -> bool:
        key = SLOT_KEY.format(
            job=job, connection_id="all" if connection_id is None else connection_id
        )
        return bool(self._client.set(key, self._token, nx=True, px=max(int(period_s * 1000), 1)))


class LocalCoordination:
    """One process: always the leader; slots remembered in memory."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots: dict[tuple[str, int | None], float] = {}

    def lead(self) -> bool:
        return True

    def release(self) -> None:
        pass

    def claim(self, job: str, connection_id: int | None, period_s: float) -> bool:
        now = time.monotonic()
        with self._lock:
            if self._slots.get((job, connection_id), 0.0) > now:
                return False
            self._slots[(job, connection_id)] = now + period_s
            return True


@dataclass(frozen=True)
class Plan:
    """When one kind of job runs for one connection (``connection_id`` None: for all)."""

    job: str
    connection_id: int | None
    interval_s: float | None  # None: daily at ``at`` plus ``offset_s``
    at: str | None = None  # HH:MM UTC
    offset_s: int = 0  # after ``at``: spreads the daily jobs of many connections

    @property
    def job_id(self) -> str:
        return self.job if self.connection_id is None else f"{self.job}:{self.connection_id}"

    @property
    def slot_s(self) -> float:
        return DAILY_SLOT_S if self.interval_s is None else self.interval_s * SLOT_SHARE


def _interval(connection: Connection, name: str, default_s: float) -> float:
    value = (connection.settings or {}).get(name)
    # A bad per-connection value must not stop the scheduling of every other connection.
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return default_s


def spread_offset_s(connection_id: int, window_s: float) -> int:
    """The connection's fixed offset into a window of ``window_s`` seconds (0 <= offset <
    window): a hash of its id, so ids in a row land far apart and every scheduler agrees."""
    if window_s < 1:
        return 0
    digest = hashlib.sha256(f"crmsync:spread:{connection_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % int(window_s)


def plans_for(connection: Connection, settings: Settings) -> list[Plan]:
    if connection.status != ConnectionStatus.ACTIVE:
        return []
    return [
        Plan(
            enqueue.SYNC_CHANGES,
            connection.id,
            _interval(connection, "sync_interval_s", settings.scheduler_sync_interval_s),
        ),
        Plan(
            enqueue.PUSH_CHANGES,
            connection.id,
            _interval(connection, "push_interval_s", settings.scheduler_push_interval_s),
        ),
        Plan(
            enqueue.RECONCILE,
            connection.id,
            None,
            settings.scheduler_reconcile_at,
            spread_offset_s(connection.id, settings.scheduler_reconcile_spread_s),
        ),
    ]


def plans_for_all(settings: Settings) -> list[Plan]:
    """The jobs that run once for every connection and tenant."""
    if Retention.from_settings(settings).keeps_everything:
        return []
    return [Plan(enqueue.PRUNE, None, None, settings.scheduler_prune_at)]


class Scheduler:
    """Enqueues periodic jobs for every active connection while it leads."""

    def __init__(
        self,
        settings: Settings,
        *,
        sessions: Callable[[], sessionmaker[Session]],
        coordination: Coordination | None = None,
        send: Callable[..., Any] | None = None,
    ) -> None:
        self.settings = settings
        self._sessions = sessions
        client = shared_state.client(settings)
        self.coordination = coordination or (
            RedisCoordination(client, ttl_s=settings.scheduler_lock_ttl_s)
            if client is not None
            else LocalCoordination()
        )
        self._send = send
        self._plans: dict[str, Plan] = {}
        self._refreshing = threading.Lock()  # the refresh job, and callers of refresh()
        self._stopping = False
        self.is_leader = False
        self.enqueued: list[tuple[Any, ...]] = []  # what this scheduler sent, for operators
        self._scheduler = BackgroundScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30},
        )

    # ---- lifecycle -----------------------------------------------------------------------

    def start(self) -> Scheduler:
        now = datetime.now(UTC)
        self._scheduler.add_job(
            self.keep_leadership,
            IntervalTrigger(seconds=self.settings.scheduler_lock_ttl_s / 3),
            id="leadership",
            next_run_time=now,
        )
        self._scheduler.add_job(
            self.refresh,
            IntervalTrigger(seconds=self.settings.scheduler_refresh_s),
            id="refresh",
            next_run_time=now,
        )
        self._scheduler.start()
        return self

    def stop(self) -> None:
        # Jobs still running see this and do nothing more. shutdown(wait=True) would hold the
        # job store's lock while waiting for them, and a running refresh needs that lock to
        # add a job: APScheduler 3 would wait forever.
        self._stopping = True
        self._scheduler.shutdown(wait=False)
        if self.is_leader:
            # Hand over at once instead of making the standby wait out the lock's expiry.
            self.coordination.release()
            self.is_leader = False

    def planned(self) -> dict[str, datetime | None]:
        """Job id -> next run time (UTC), for the jobs scheduled now."""
        return {
            job.id: job.next_run_time for job in self._scheduler.get_jobs() if job.id in self._plans
        }

    # ---- the jobs ------------------------------------------------------------------------

    def keep_leadership(self) -> None:
        try:
            leading = self.coordination.lead()
        except redis.RedisError:
            log.warning("scheduler: Redis did not answer; standing by")
            leading = False
        if leading != self.is_leader:
            log.info("scheduler: %s", "leading" if leading else "standing by")
        self.is_leader = leading

    def refresh(self) -> None:
        """Make the scheduled jobs match the connections as they are now."""
        if self._stopping:
            return
        try:
            with self._sessions()() as session:
                connections = list(session.scalars(select(Connection)))
        except Exception:
            log.exception("scheduler: could not read the connections; keeping the current plan")
            return
        wanted = {plan.job_id: plan for c in connections for plan in plans_for(c, self.settings)}
        wanted.update((plan.job_id, plan) for plan in plans_for_all(self.settings))
        with self._refreshing:
            for job_id in set(self._plans) - set(wanted):
                self._remove(job_id)
            for job_id, plan in wanted.items():
                if self._plans.get(job_id) != plan:
                    self._remove(job_id)
                    self._add(plan)

    def fire(self, plan: Plan) -> None:
        """One tick of one plan: enqueue its job if we lead and nothing stands in the way."""
        if not self.is_leader or self._stopping:
            return
        with logs.bound(connection_id=plan.connection_id):
            try:
                if plan.connection_id is not None and not self._connection_is_free(plan):
                    return
                if not self.coordination.claim(plan.job, plan.connection_id, plan.slot_s):
                    return
                args = () if plan.connection_id is None else (plan.connection_id,)
                (self._send or enqueue.send)(plan.job, *args)
                self.enqueued.append((plan.job, *args))
            except Exception:
                # One connection's trouble (or a blip of the database) must not stop the rest.
                log.exception("scheduler: could not enqueue %s", plan.job_id)

    # ---- internals -----------------------------------------------------------------------

    def _connection_is_free(self, plan: Plan) -> bool:
        """The plan's connection is active and no run of the plan's kind is going."""
        with self._sessions()() as session:
            connection = session.get(Connection, plan.connection_id)
            if connection is None or connection.status != ConnectionStatus.ACTIVE:
                return False
            if self._still_running(session, plan):
                log.info("scheduler: %s still running; skipped", plan.job_id)
                return False
        return True

    def _still_running(self, session: Session, plan: Plan) -> bool:
        horizon = utcnow() - timedelta(seconds=self.settings.scheduler_run_stale_s)
        running = session.scalar(
            select(SyncRun.id)
            .where(
                SyncRun.connection_id == plan.connection_id,
                SyncRun.kind == RUN_KINDS[plan.job],
                SyncRun.outcome == "running",
                SyncRun.started_at > horizon,
            )
            .limit(1)
        )
        return running is not None

    def _trigger(self, plan: Plan) -> IntervalTrigger | CronTrigger:
        if plan.interval_s is not None:
            return IntervalTrigger(seconds=plan.interval_s, timezone=UTC)
        hour, minute = (plan.at or self.settings.scheduler_reconcile_at).split(":")
        start_s = (int(hour) * 3600 + int(minute) * 60 + plan.offset_s) % 86_400
        return CronTrigger(
            hour=start_s // 3600, minute=start_s // 60 % 60, second=start_s % 60, timezone=UTC
        )

    def _add(self, plan: Plan) -> None:
        self._scheduler.add_job(self.fire, self._trigger(plan), args=[plan], id=plan.job_id)
        self._plans[plan.job_id] = plan

    def _remove(self, job_id: str) -> None:
        if self._plans.pop(job_id, None) is not None:
            with suppress(JobLookupError):
                self._scheduler.remove_job(job_id)


def scheduler() -> None:
    """Enqueue incremental syncs, outbox sweeps and the nightly reconcile of every active
    connection (one leader at a time; start several for standby)."""
    from worker.database import sessions

    settings = get_settings()
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    running = Scheduler(settings, sessions=sessions).start()
    log.info(
        "scheduler started; reconcile daily at %s UTC, prune at %s UTC",
        settings.scheduler_reconcile_at,
        settings.scheduler_prune_at,
    )
    try:
        stopping.wait()
    finally:
        running.stop()
