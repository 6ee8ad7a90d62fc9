"""What one benchmark run stands up: both sandboxes, seeded; and a stack of a scratch
PostgreSQL database, a flushed Redis database and ``crmsync worker`` processes.

The sandboxes serve from the bench process: an interpreter of their own, not the workers',
but on the same 2 cores as the workers and PostgreSQL, so every end-to-end figure pays for
the sandbox's CPU too (a real CRM would serve from elsewhere).
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis
from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from connectors.credentials import Credentials
from customers import db
from customers.service import get_tenant
from customers.sync_state import ExternalLink, SyncRun
from sandbox.hubspot import HubSpotSandbox
from sandbox.salesforce import SalesforceSandbox
from sandbox.seed import SeedCompany, generate_companies
from worker.jobs.queues import LEGACY_QUEUE, all_broker_queues

ROOT = Path(__file__).resolve().parents[1]
CRMSYNC = str(Path(sys.executable).parent / "crmsync")
QUEUE = LEGACY_QUEUE  # consumed by every worker with bulk; no need to know the job table
NAMESPACE = "crmsync"
# Worker settings for every benchmark: crmsync's own request budget must not throttle a
# sandbox whose limits are off. Real HubSpot allows 190 requests per 10 s and 5 searches/s.
UNTHROTTLED = {
    "CRMSYNC_HUBSPOT_BURST_REQUESTS": "1000000",
    "CRMSYNC_HUBSPOT_SEARCH_PER_S": "1000000",
    "CRMSYNC_HUBSPOT_DAILY_REQUESTS": "100000000",
    "CRMSYNC_SALESFORCE_DAILY_REQUESTS": "100000000",
    # An incremental pass re-reads this much before its cursor (production: 300 s). Here all
    # data is minutes old, so 300 s would re-read everything; 0 reads what changed.
    "CRMSYNC_CRM_OVERLAP_S": "0",
    "CRMSYNC_CATEGORIZER": "rules",
    "CRMSYNC_LOG_LEVEL": "WARNING",
}


class BenchError(RuntimeError):
    """A benchmark could not run (a service is missing, a sync failed)."""


@dataclass(frozen=True)
class Sizes:
    companies: int  # HubSpot
    contacts: int  # HubSpot
    accounts: int  # Salesforce
    account_contacts: int = 0  # Salesforce

    @property
    def hubspot(self) -> int:
        return self.companies + self.contacts

    @property
    def salesforce(self) -> int:
        return self.accounts + self.account_contacts

    @property
    def total(self) -> int:
        return self.hubspot + self.salesforce

    def label(self) -> str:
        text = f"{self.companies:,} companies + {self.contacts:,} contacts (HubSpot), {self.accounts:,} accounts"
        if self.account_contacts:
            text += f" + {self.account_contacts:,} contacts"
        return text + " (Salesforce)"


def _with_contacts(companies: list[SeedCompany], contacts: int) -> list[SeedCompany]:
    """Copies of ``companies`` holding ``contacts`` contacts in all, from the first on."""
    left, out = contacts, []
    for company in companies:
        keep = company.contacts[: max(left, 0)]
        left -= len(keep)
        out.append(replace(company, contacts=list(keep)))
    return out


class SeedClock:
    """The Salesforce sandbox's clock: real time, except while seeding, when records are
    stamped 50 ms apart ending a minute ago, as data made over time is (a bulk load within
    one second would put every row at the incremental cursor's second)."""

    STEP = timedelta(milliseconds=50)

    def __init__(self) -> None:
        self._fake: datetime | None = None

    def __call__(self) -> datetime:
        if self._fake is None:
            return datetime.now(UTC)
        self._fake += self.STEP
        return self._fake

    @contextmanager
    def seeding(self, rows: int) -> Iterator[None]:
        self._fake = datetime.now(UTC) - timedelta(minutes=1) - self.STEP * (rows + 1)
        try:
            yield
        finally:
            self._fake = None


class Sandboxes:
    """Both sandboxes, limits off, seeded from one generator with different businesses:
    its planted duplicates (about 4%) stay within a CRM, none spans the two."""

    def __init__(self, sizes: Sizes, seed: int = 1) -> None:
        per = max(
            math.ceil(sizes.contacts / max(sizes.companies, 1)),
            math.ceil(sizes.account_contacts / max(sizes.accounts, 1)),
        )
        extra = sizes.accounts // 8 + 10
        while True:
            businesses = list(generate_companies(sizes.companies + sizes.accounts + extra,
                                                 contacts_per_company=per, seed=seed))  # fmt: skip
            hubspot = businesses[: sizes.companies]
            seen = {c.domain for c in hubspot} | {c.name.strip().lower() for c in hubspot}
            others = [c for c in businesses[sizes.companies :]
                      if c.domain not in seen and c.name.strip().lower() not in seen]  # fmt: skip
            if len(others) >= sizes.accounts:
                break
            extra *= 2
        self.companies = _with_contacts(hubspot, sizes.contacts)
        self.accounts = _with_contacts(others[: sizes.accounts], sizes.account_contacts)
        self.clock = SeedClock()
        self.hubspot = HubSpotSandbox(limits=None)
        self.salesforce = SalesforceSandbox(daily_api_limit=1_000_000_000, clock=self.clock)
        made = self.hubspot.seed(self.companies)  # HubSpot skips a contact email it has
        with self.clock.seeding(sizes.salesforce):
            self.salesforce.seed(self.accounts)
        self.sizes = Sizes(made[0], made[1], sizes.accounts, sizes.account_contacts)

    def __enter__(self) -> Sandboxes:
        self.hubspot.start()
        self.salesforce.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.hubspot.stop()
        self.salesforce.stop()

    def hubspot_credentials(self) -> Credentials:
        return Credentials(access_token=self.hubspot.access_token)

    def salesforce_credentials(self) -> Credentials:
        sf = self.salesforce.credentials
        return Credentials(access_token=self.salesforce.access_token(), refresh_token=sf.refresh_token,
                           client_id=sf.consumer_key, client_secret=sf.consumer_secret,
                           instance_url=self.salesforce.instance_url)  # fmt: skip

    def connect(self, sessions: sessionmaker[Session]) -> dict[str, int]:
        """A connection to each sandbox, made as ``crmsync connect`` makes one."""
        from worker.sync import connections

        with db.transaction(sessions) as session:
            tenant_id = get_tenant(session, "default").id
        return {
            "hubspot": connections.connect(
                sessions, tenant_id=tenant_id, provider="hubspot", name="HubSpot sandbox",
                account_id=str(self.hubspot.portal_id), credentials=self.hubspot_credentials(),
                base_url=self.hubspot.url,
            ),
            "salesforce": connections.connect(
                sessions, tenant_id=tenant_id, provider="salesforce", name="Salesforce sandbox",
                account_id=self.salesforce.org_id, credentials=self.salesforce_credentials(),
                base_url=self.salesforce.instance_url, options={"verify": self.salesforce.cert_path},
            ),
        }  # fmt: skip

    def write_calls(self) -> dict[str, int]:
        from worker.demo import HUBSPOT_WRITES, SALESFORCE_WRITES, _writes

        return {
            "hubspot": _writes(self.hubspot.faults, HUBSPOT_WRITES),
            "salesforce": _writes(self.salesforce.faults, SALESFORCE_WRITES),
        }

    def push_calls(self) -> dict[str, int]:
        """What a push spends: its writes, and the reads that guard them (HubSpot's property
        history after an update; a record read again when Salesforce refused its write)."""
        from worker.demo import HUBSPOT_WRITES, SALESFORCE_WRITES, _writes

        hubspot_reads = ("companies.batch.read", "contacts.batch.read")
        return {
            "hubspot": _writes(self.hubspot.faults, HUBSPOT_WRITES + hubspot_reads),
            "salesforce": _writes(self.salesforce.faults, SALESFORCE_WRITES),
        }


def worker_env(database_url: str, redis_url: str | None, key: str, folder: Path) -> dict[str, str]:
    """The environment of a crmsync process: the caller's, less its CRMSYNC_ settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRMSYNC_")}
    env.update(UNTHROTTLED, CRMSYNC_DATABASE_URL=database_url, CRMSYNC_ENCRYPTION_KEY=key,
               CRMSYNC_DATA_DIR=str(folder))  # fmt: skip
    if redis_url:
        env.update(CRMSYNC_BROKER_URL=redis_url, CRMSYNC_REDIS_URL=redis_url)
    return env


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Stack:
    """A scratch PostgreSQL database (migrated), a flushed Redis database and one
    ``crmsync worker --processes N`` command, as docker-compose runs it."""

    def __init__(self, *, redis_url: str, workers: int, key: str, folder: Path) -> None:
        from bench.csv_import import postgres_scratch

        self.redis_url, self.workers, self.key, self.folder = redis_url, workers, key, folder
        folder.mkdir(parents=True, exist_ok=True)
        scratch = postgres_scratch()
        if scratch is None:
            raise BenchError("the benchmarks need PostgreSQL (CRMSYNC_TEST_POSTGRES_URL)")
        self.database, self.database_url = scratch
        self.engine: Engine = db.make_engine(self.database_url)
        db.upgrade(self.engine)
        self.sessions = db.session_factory(self.engine)
        self.redis = redis.Redis.from_url(redis_url)
        self.redis.flushdb()
        self.broker = RedisBroker(url=redis_url, namespace=NAMESPACE)
        self.broker.declare_queue(QUEUE)
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc_info: object) -> None:
        from bench.csv_import import drop

        self.stop_workers()
        self.broker.close()
        self.engine.dispose()
        self.redis.flushdb()
        self.redis.close()
        drop(self.database)

    # -- workers -------------------------------------------------------------------------

    def start_workers(self) -> None:
        path = self.folder / "workers.log"
        log = path.open("ab")
        offset = log.tell()
        env = worker_env(self.database_url, self.redis_url, self.key, self.folder)
        # Readiness is Dramatiq's INFO line below; the workers honour the level they are given.
        env["CRMSYNC_LOG_LEVEL"] = "INFO"
        self.process = subprocess.Popen([CRMSYNC, "worker", "--processes", str(self.workers)], cwd=ROOT, env=env,
                                        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        log.close()
        deadline = time.monotonic() + 120

        def ready() -> int:  # dramatiq logs this once a process has imported the actors
            with path.open("rb") as lines:
                lines.seek(offset)
                return lines.read().count(b"is ready for action")

        while ready() < self.workers:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"crmsync worker did not start; see {path}")
            time.sleep(0.2)

    def stop_workers(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None

    def worker_pids(self) -> list[int]:
        """The worker processes (children of the ``crmsync worker`` command)."""
        return sorted(_children(self.process.pid)) if self.process else []

    def peak_rss_mb(self) -> dict[int, float]:
        """Each worker process's peak resident memory so far (VmHWM), in MB."""
        return {pid: _status_kb(pid, "VmHWM") / 1024 for pid in self.worker_pids()}

    def cpu_s(self) -> dict[int, float]:
        return {pid: _cpu_s(pid) for pid in self.worker_pids()}

    # -- jobs ----------------------------------------------------------------------------

    def enqueue(self, actor: str, *args: Any) -> None:
        self.broker.enqueue(
            Message(queue_name=QUEUE, actor_name=actor, args=args, kwargs={}, options={})
        )

    def pending_jobs(self) -> int:
        """Jobs queued or running (dramatiq keeps a message until it is acknowledged)."""
        return sum(
            int(self.redis.hlen(f"{NAMESPACE}:{queue}.msgs")) for queue in all_broker_queues()
        )

    def drain(self, timeout_s: float) -> float:
        """Wait until no job is left (e.g. the categorization a sync queued); seconds."""
        started = time.monotonic()
        while self.pending_jobs():
            if time.monotonic() - started > timeout_s:
                raise BenchError(f"jobs still pending after {timeout_s:.0f} s")
            time.sleep(0.25)
        return time.monotonic() - started

    def last_run_id(self) -> int:
        with self.sessions() as session:
            return session.scalar(select(func.max(SyncRun.id))) or 0

    def run(self, actor: str, connection_id: int, *, timeout_s: float,
            sample: Callable[[], None] | None = None) -> tuple[SyncRun, float]:  # fmt: skip
        """Enqueue a sync job and wait for its ``sync_runs`` row to finish, and those of the
        jobs it continues in (a pass past ``CRMSYNC_PASS_SLICE_S`` ends ``continued`` and
        queues the rest); (the last row, with the counts of all, seconds from enqueue to
        the last finish). ``sample`` is called every half second meanwhile."""
        after = self.last_run_id()
        started = time.monotonic()
        self.enqueue(actor, connection_id)
        while True:
            with self.sessions() as session:
                runs = list(session.scalars(
                    select(SyncRun).where(SyncRun.id > after, SyncRun.connection_id == connection_id,
                                          SyncRun.finished_at.is_not(None)).order_by(SyncRun.id)
                ))  # fmt: skip
            if runs and runs[-1].outcome != "continued":
                break
            if time.monotonic() - started > timeout_s:
                raise BenchError(
                    f"{actor} of connection {connection_id} did not finish in {timeout_s:.0f} s"
                )
            if sample:
                sample()
            time.sleep(0.5)
        run = runs[-1]
        finished = run.finished_at.timestamp() if run.finished_at else time.time()
        seconds = time.monotonic() - started - max(0.0, time.time() - finished)
        if sample:
            sample()
        if run.outcome != "ok":
            raise BenchError(f"{actor} of connection {connection_id}: {run.outcome}: {run.error}")
        total: Counter[str] = Counter()
        for each in runs:
            total.update(
                {key: value for key, value in each.counts.items() if isinstance(value, int)}
            )
        run.counts = dict(total)
        return run, seconds

    def links(self) -> int:
        with self.sessions() as session:
            return session.scalar(select(func.count()).select_from(ExternalLink)) or 0
