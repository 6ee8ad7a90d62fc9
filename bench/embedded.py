"""The same full inbound sync on the embedded defaults: a SQLite file and the in-process
broker, as ``crmsync sync`` runs it with no broker URL (jobs it queues, such as
categorization, run on threads of that command). Each connection's pass is its own
``crmsync sync`` command, timed by its ``sync_runs`` row."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from sqlalchemy import select

from bench.stack import CRMSYNC, ROOT, BenchError, Sandboxes, worker_env
from bench.sync import Pass, first_sync_minimum, sync_timeout
from customers import db
from customers.sync_state import SyncRun


def embedded_full(sandboxes: Sandboxes, key: str, folder: Path) -> Pass:
    folder.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{(folder / 'crmsync.db').as_posix()}"
    engine = db.make_engine(url)
    db.upgrade(engine)
    sessions = db.session_factory(engine)
    connections = sandboxes.connect(sessions)
    sizes = sandboxes.sizes
    env = worker_env(url, None, key, folder)
    result = Pass()
    try:
        for provider, parents, contacts in (("hubspot", sizes.companies, sizes.contacts),
                                            ("salesforce", sizes.accounts, sizes.account_contacts)):  # fmt: skip
            done = subprocess.run([CRMSYNC, "sync", str(connections[provider]), "--json"], cwd=ROOT, env=env,
                                  capture_output=True, text=True, timeout=sync_timeout(sizes.total), check=False)  # fmt: skip
            if done.returncode != 0:
                raise BenchError(
                    f"crmsync sync ({provider}, SQLite) failed: {done.stderr[-2000:] or done.stdout[-2000:]}"
                )
            run_id = json.loads(done.stdout)["run"]
            with sessions() as session:
                run = session.scalars(select(SyncRun).where(SyncRun.id == run_id)).one()
                assert run.finished_at is not None
                seconds = (run.finished_at - run.started_at).total_seconds()
                counts = dict(run.counts)
            read = int(counts.get("read", 0)) + int(counts.get("contacts_read", 0))
            result.add(provider, read, seconds, int(counts.get("api_calls", 0)),
                       first_sync_minimum(provider, parents, contacts), counts)  # fmt: skip
    finally:
        engine.dispose()
    return result
