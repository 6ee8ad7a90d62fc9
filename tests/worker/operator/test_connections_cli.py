"""``crmsync connections pause|resume|remove|set``: the lifecycle of a connection, through
the CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from connectors.credentials import Credentials
from connectors.errors import Transient
from customers import db
from customers.sync_state import (
    Connection,
    ExternalLink,
    SyncConflict,
    SyncFailure,
    SyncRun,
)
from tests.worker.operator.conftest import Cli
from worker import actors
from worker.failures import record_failure
from worker.scheduler import plans_for
from worker.settings import get_settings
from worker.sync.connections import cipher


def _row(sessions: sessionmaker[Session], connection_id: int) -> Connection:
    with sessions() as session:
        row = session.get(Connection, connection_id)
        assert row is not None
        session.expunge(row)
        return row


def _plans(sessions: sessionmaker[Session], connection_id: int) -> list[tuple[str, float | None]]:
    return [(p.job, p.interval_s) for p in plans_for(_row(sessions, connection_id), get_settings())]


def test_pause_and_resume_follow_into_the_scheduler(
    cli: Cli, sessions: sessionmaker[Session], connection_ids: dict[str, int]
) -> None:
    hubspot = connection_ids["hubspot"]
    assert len(_plans(sessions, hubspot)) == 3
    paused = cli.json("connections", "pause", str(hubspot))
    assert (paused["id"], paused["status"]) == (hubspot, "paused")
    assert "crmsync connections resume" in paused["next_step"]
    assert _plans(sessions, hubspot) == []
    again = cli("connections", "pause", str(hubspot))  # pausing twice is harmless
    assert again.exit_code == 0 and "now paused" in again.stdout
    listed = {row["id"]: row["status"] for row in cli.json("connections", "list")}
    assert listed == {hubspot: "paused", connection_ids["salesforce"]: "active"}
    resumed = cli.json("connections", "resume", str(hubspot))
    assert (resumed["status"], resumed["next_step"], resumed["status_reason"]) == (
        "active",
        None,
        None,
    )
    assert len(_plans(sessions, hubspot)) == 3


def test_another_tenants_connection_reads_as_missing(
    cli: Cli, sessions: sessionmaker[Session], connection_ids: dict[str, int]
) -> None:
    foreign = connection_ids["foreign"]
    for command in ("pause", "resume", "remove"):
        theirs = cli("connections", command, str(foreign))
        missing = cli("connections", command, "98765")
        assert theirs.exit_code == missing.exit_code == 1
        assert theirs.stderr.replace(str(foreign), "N") == missing.stderr.replace("98765", "N")
        assert "not found" in theirs.stderr and "Traceback" not in theirs.output
    set_theirs = cli("connections", "set", str(foreign), "--sync-interval-s", "30")
    assert set_theirs.exit_code == 1 and f"connection {foreign} not found" in set_theirs.stderr
    assert _row(sessions, foreign).status == "active"
    assert (_row(sessions, foreign).settings or {}).get("sync_interval_s") is None


def test_remove_keeps_directory_links_and_history_but_not_the_credentials(
    cli: Cli, sessions: sessionmaker[Session], connection_ids: dict[str, int]
) -> None:
    hubspot = connection_ids["hubspot"]
    with db.transaction(sessions) as session:
        row = session.get(Connection, hubspot)
        assert row is not None
        row.credentials = cipher().encrypt(Credentials(access_token="pat-na1-keep-out"))
        session.add(
            ExternalLink(
                connection_id=hubspot,
                object_type="company",
                external_id="7",
                local_type="customer",
                local_id=1,
            )
        )
        session.add(SyncRun(connection_id=hubspot, kind="incremental", outcome="ok"))
        session.add(
            SyncConflict(
                connection_id=hubspot,
                object_type="company",
                external_id="7",
                local_id=1,
                field="name",
                rule="two_way (crm won)",
            )
        )
        record_failure(
            session,
            direction="inbound",
            error=Transient("502", provider="hubspot"),
            payload={"actor": "sync_changes", "args": [hubspot], "kwargs": {}},
            connection_id=hubspot,
        )

    removed = cli.json("connections", "remove", str(hubspot))
    assert (removed["status"], removed["has_credentials"]) == ("removed", False)
    assert "crmsync connect hubspot (--portal-id 48215730)" in removed["next_step"]
    assert "pat-na1" not in str(removed)
    row = _row(sessions, hubspot)
    assert row.credentials is None and plans_for(row, get_settings()) == []
    with sessions() as session:
        for table in (ExternalLink, SyncRun, SyncConflict, SyncFailure):
            kept = session.scalar(
                select(func.count()).select_from(table).where(table.connection_id == hubspot)
            )
            assert kept == 1, table.__name__
        failure = session.scalars(select(SyncFailure)).one()
        assert (failure.status, failure.resolution) == (
            "dismissed",
            f"connection {hubspot} removed",
        )

    refused = cli("connections", "resume", str(hubspot))
    assert refused.exit_code == 1 and "removed" in refused.stderr
    assert "crmsync connect hubspot" in " ".join(refused.stderr.split())
    assert cli("connections", "pause", str(hubspot)).exit_code == 1
    assert cli("connections", "set", str(hubspot), "--push-interval-s", "9").exit_code == 1
    assert _row(sessions, hubspot).status == "removed"
    assert cli.json("connections", "remove", str(hubspot))["status"] == "removed"  # idempotent


def test_set_changes_the_intervals_the_scheduler_uses(
    cli: Cli, sessions: sessionmaker[Session], connection_ids: dict[str, int]
) -> None:
    hubspot = connection_ids["hubspot"]
    changed = cli.json(
        "connections", "set", str(hubspot), "--sync-interval-s", "45", "--push-interval-s", "20"
    )
    assert (changed["sync_interval_s"], changed["push_interval_s"]) == (45.0, 20.0)
    assert _plans(sessions, hubspot)[:2] == [("sync_changes", 45.0), ("push_changes", 20.0)]
    nothing = cli("connections", "set", str(hubspot))
    assert nothing.exit_code == 2 and "nothing to change" in nothing.stderr
    too_small = cli("connections", "set", str(hubspot), "--sync-interval-s", "0")
    assert too_small.exit_code == 2 and "Traceback" not in too_small.output
    assert _plans(sessions, hubspot)[0] == ("sync_changes", 45.0)


def test_set_mapping_is_checked_before_anything_is_saved(
    cli: Cli, sessions: sessionmaker[Session], connection_ids: dict[str, int], tmp_path: Path
) -> None:
    hubspot = connection_ids["hubspot"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("object: company\nfields:\n  - {local: no_such_field, remote: x}\n")
    refused = cli(
        "connections", "set", str(hubspot), "--mapping", str(bad), "--sync-interval-s", "45"
    )
    assert refused.exit_code == 2
    assert "the map cannot be used, nothing was changed" in " ".join(refused.stderr.split())
    assert "no_such_field" in refused.stderr
    missing = cli("connections", "set", str(hubspot), "--mapping", str(tmp_path / "gone.yaml"))
    assert missing.exit_code == 2 and "cannot be read" in " ".join(missing.stderr.split())
    row = _row(sessions, hubspot)
    assert row.mapping is None and (row.settings or {}).get("sync_interval_s") is None

    good = tmp_path / "ours.yaml"
    good.write_text("object: company\nfields:\n  - {local: tax_id, rule: two_way}\n")
    changed = cli.json("connections", "set", str(hubspot), "--mapping", str(good))
    assert changed["mapping"] == str(good.resolve()) == _row(sessions, hubspot).mapping
    both = cli("connections", "set", str(hubspot), "--mapping", str(good), "--shipped-mapping")
    assert both.exit_code == 2 and "not both" in both.stderr
    assert cli.json("connections", "set", str(hubspot), "--shipped-mapping")["mapping"] is None


def test_a_job_queued_before_a_pause_is_dropped_without_a_failure(
    cli: Cli, sessions: sessionmaker[Session], connection_ids: dict[str, int]
) -> None:
    hubspot = connection_ids["hubspot"]
    cli.json("connections", "pause", str(hubspot))
    # The connection has no credentials: had the job run, it would have failed for that.
    actors.sync_changes.fn(hubspot)
    actors.push_changes.fn(hubspot)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(SyncRun)) == 0
        assert session.scalar(select(func.count()).select_from(SyncFailure)) == 0
    refused = cli("sync", str(hubspot))
    assert refused.exit_code == 1
    assert f"connection {hubspot} is paused" in refused.stderr
    assert "crmsync connections resume" in " ".join(refused.stderr.split())
