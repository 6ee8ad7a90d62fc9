"""``crmsync failures``: list, show (redacted), replay (exactly the payload's job, or
nothing with --dry-run) and dismiss, and the failure row's life after a replay."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from dramatiq.brokers.redis import RedisBroker
from sqlalchemy.orm import Session, sessionmaker

from connectors.errors import Permanent, Transient
from customers import db
from customers.sync_state import SyncFailure
from customers.types import utcnow
from tests.worker.operator.conftest import Cli
from tests.worker.webhooks.conftest import drain_stub, jobs
from worker.failures import record_failure, resolve_failures
from worker.jobs import enqueue

# New tenants require a billing address.
ADDRESS = {"billing_street": "1 Main St", "billing_city": "Austin", "billing_country": "US"}


def fail(sessions: sessionmaker[Session], connection_id: int | None, external_id: str, *,
         error: Exception | None = None, payload: dict[str, Any] | None = None, object_type: str = "company") -> int:  # fmt: skip
    with db.transaction(sessions) as session:
        row = record_failure(
            session, direction="inbound", connection_id=connection_id, object_type=object_type,
            external_id=external_id,
            error=error or Permanent(f"record {external_id} has no name", provider="hubspot", code="VALIDATION_ERROR"),
            payload=payload or {"actor": "sync_records", "args": [connection_id, object_type, [external_id]], "kwargs": {}},
        )  # fmt: skip
        return row.id


def status_of(sessions: sessionmaker[Session], failure_id: int) -> str:
    with sessions() as session:
        row = session.get(SyncFailure, failure_id)
        assert row is not None
        return row.status


@pytest.fixture
def failures(sessions: sessionmaker[Session], connection_ids: dict[str, int]) -> dict[str, int]:
    drain_stub()
    hubspot, salesforce = connection_ids["hubspot"], connection_ids["salesforce"]
    ids = {
        "permanent": fail(sessions, hubspot, "101"),
        "transient": fail(sessions, salesforce, "001A", object_type="account",
                          error=Transient("502 from the CRM", provider="salesforce", status=502)),
        "foreign": fail(sessions, connection_ids["foreign"], "7"),
        "secretive": fail(sessions, hubspot, "102", payload={
            "actor": "push_records", "args": [hubspot, "customer", [5]],
            "kwargs": {"options": {"access_token": "pat-na1-xyz", "password": "hunter2", "nested": [{"client_secret": "s"}]}},
        }),
    }  # fmt: skip
    with db.transaction(sessions) as session:
        old = session.get(SyncFailure, ids["transient"])
        assert old is not None
        old.last_failed_at = utcnow() - timedelta(days=3)
    return ids


def test_list_filters(cli: Cli, failures: dict[str, int], connection_ids: dict[str, int]) -> None:
    listed = cli.json("failures", "list")["failures"]
    # Newest first; another tenant's failures are not shown.
    assert {row["id"] for row in listed} == {
        failures["permanent"],
        failures["transient"],
        failures["secretive"],
    }
    assert listed[-1]["id"] == failures["transient"]
    only = cli.json("failures", "list", "--connection", str(connection_ids["salesforce"]))[
        "failures"
    ]
    assert [row["id"] for row in only] == [failures["transient"]]
    assert [r["id"] for r in cli.json("failures", "list", "--error", "transient")["failures"]] == [
        failures["transient"]
    ]
    assert {r["id"] for r in cli.json("failures", "list", "--error", "VALIDATION_ERROR")["failures"]} == {
        failures["permanent"], failures["secretive"]}  # fmt: skip
    recent = cli.json("failures", "list", "--since", "1d")["failures"]
    assert failures["transient"] not in {row["id"] for row in recent} and len(recent) == 2
    assert cli.json("failures", "list", "--status", "dismissed")["failures"] == []
    assert cli("failures", "list", "--since", "yesterday-ish").exit_code == 2
    table = cli("failures", "list")
    assert table.exit_code == 0 and "failures (3)" in table.stdout


def test_show_redacts_credentials(cli: Cli, failures: dict[str, int]) -> None:
    shown = cli.json("failures", "show", str(failures["secretive"]))
    assert shown["payload"] == {
        "actor": "push_records", "args": [shown["connection_id"], "customer", [5]],
        "kwargs": {"options": {"access_token": "***", "password": "***", "nested": [{"client_secret": "***"}]}},
    }  # fmt: skip
    assert (shown["error_class"], shown["crm_code"], shown["attempts"]) == (
        "permanent",
        "VALIDATION_ERROR",
        1,
    )
    text = cli("failures", "show", str(failures["secretive"])).stdout
    assert "hunter2" not in text and "pat-na1" not in text
    assert cli("failures", "show", str(failures["foreign"])).exit_code == 1  # not this tenant's
    assert cli("failures", "show", "999999").exit_code == 1


def test_replay_sends_exactly_the_payloads_job_and_the_row_lives_on(
    broker_mode: None,
    cli: Cli,
    failures: dict[str, int],
    sessions: sessionmaker[Session],
    connection_ids: dict[str, int],
) -> None:
    hubspot = connection_ids["hubspot"]
    result = cli.json("failures", "replay", str(failures["permanent"]))
    assert [item["id"] for item in result["replayed"]] == [failures["permanent"]]
    assert jobs(drain_stub()) == [("sync_records", [hubspot, "company", ["101"]])]
    assert status_of(sessions, failures["permanent"]) == "replayed"

    # It fails again: the same row reopens. It then goes through: resolved.
    fail(sessions, hubspot, "101")
    assert status_of(sessions, failures["permanent"]) == "open"
    with db.transaction(sessions) as session:
        resolve_failures(
            session,
            connection_id=hubspot,
            direction="inbound",
            object_type="company",
            external_ids=["101"],
        )
    assert status_of(sessions, failures["permanent"]) == "resolved"
    again = cli.json("failures", "replay", str(failures["permanent"]))
    assert again["replayed"] == [] and again["skipped"] == [
        {"id": failures["permanent"], "reason": "already resolved"}
    ]
    assert drain_stub() == []


def test_replay_keeps_kwargs_and_secrets_stay_out_of_the_output(
    broker_mode: None, cli: Cli, failures: dict[str, int], sessions: sessionmaker[Session]
) -> None:
    result = cli("failures", "replay", str(failures["secretive"]))
    assert result.exit_code == 0 and "hunter2" not in result.output
    [message] = drain_stub()
    assert message.actor_name == "push_records"
    assert message.kwargs == {"options": {"access_token": "pat-na1-xyz", "password": "hunter2",
                                          "nested": [{"client_secret": "s"}]}}  # fmt: skip


def test_dry_run_sends_nothing_and_changes_nothing(
    cli: Cli, failures: dict[str, int], sessions: sessionmaker[Session]
) -> None:
    result = cli.json("failures", "replay", "--all", "--dry-run")
    assert result["dry_run"] is True
    assert {item["id"] for item in result["replayed"]} == {
        failures["permanent"],
        failures["transient"],
        failures["secretive"],
    }
    assert drain_stub() == []
    assert {status_of(sessions, item["id"]) for item in result["replayed"]} == {"open"}


def test_replay_all_with_filters(
    broker_mode: None,
    cli: Cli,
    failures: dict[str, int],
    sessions: sessionmaker[Session],
    connection_ids: dict[str, int],
) -> None:
    result = cli.json(
        "failures", "replay", "--all", "--connection", str(connection_ids["salesforce"])
    )
    assert [item["id"] for item in result["replayed"]] == [failures["transient"]]
    assert jobs(drain_stub()) == [
        ("sync_records", [connection_ids["salesforce"], "account", ["001A"]])
    ]
    # Already replayed rows are not picked up again by default.
    assert (
        cli.json("failures", "replay", "--all", "--connection", str(connection_ids["salesforce"]))[
            "replayed"
        ]
        == []
    )
    assert cli("failures", "replay").exit_code == 2  # neither ids nor --all
    assert cli("failures", "replay", "1", "--all").exit_code == 2
    assert drain_stub() == []


def test_dismiss_keeps_the_reason(
    cli: Cli, failures: dict[str, int], sessions: sessionmaker[Session]
) -> None:
    assert (
        cli("failures", "dismiss", str(failures["transient"])).exit_code == 2
    )  # --reason is required
    dismissed = cli.json(
        "failures",
        "dismiss",
        str(failures["transient"]),
        "--reason",
        "account deleted in Salesforce",
    )
    assert (dismissed["status"], dismissed["resolution"]) == (
        "dismissed",
        "account deleted in Salesforce",
    )
    assert failures["transient"] not in {
        row["id"] for row in cli.json("failures", "list")["failures"]
    }
    assert (
        cli.json("failures", "list", "--status", "dismissed")["failures"][0]["id"]
        == failures["transient"]
    )


def test_a_broker_that_is_down_leaves_the_rows_as_they_were(
    broker_mode: None,
    cli: Cli,
    failures: dict[str, int],
    sessions: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    unreachable = RedisBroker(url="redis://127.0.0.1:1/0", namespace="crmsync")
    monkeypatch.setattr(enqueue, "broker", unreachable)
    result = cli("failures", "replay", str(failures["permanent"]), str(failures["transient"]))
    assert result.exit_code == 1 and "could not send" in result.output
    assert (
        status_of(sessions, failures["permanent"])
        == status_of(sessions, failures["transient"])
        == "open"
    )


def test_without_a_broker_a_replay_runs_here(
    cli: Cli, failures: dict[str, int], sessions: sessionmaker[Session]
) -> None:
    """No worker process would ever see an in-memory job, so the command runs it itself; this
    one fails again (its connection is gone), and its row is open again with one more attempt."""
    failure_id = failures["transient"]
    with sessions() as session:
        before = session.get(SyncFailure, failure_id).attempts  # type: ignore[union-attr]
    result = cli.json("failures", "replay", str(failure_id))
    assert [item["id"] for item in result["replayed"]] == [failure_id]
    assert drain_stub() == []  # run, not left in memory
    with sessions() as session:
        row = session.get(SyncFailure, failure_id)
        assert row is not None and row.status == "open" and row.attempts == before + 1


def test_a_categorize_failure_is_its_tenants_alone(
    cli: Cli, sessions: sessionmaker[Session], connection_ids: dict[str, int]
) -> None:
    """Found by attacking the CLI: failures tied to no connection (categorization) were
    listed, shown, dismissed and replayed from every tenant."""
    from customers import service
    from customers.service import get_tenant

    drain_stub()
    with db.transaction(sessions) as session:
        other = get_tenant(session, "someone-else")
        theirs = service.create_customer(
            session, other.id, {"name": "Their Co", "email": "a@their.co", **ADDRESS}
        )
        ours = service.create_customer(session, get_tenant(session, "default").id, {"name": "Our Co", "email": "a@our.co", **ADDRESS})  # fmt: skip
        failed = {
            name: record_failure(
                session, direction="categorize", local_id=customer.id,
                error=Transient("the categorizer is down", provider="llm"),
                payload={"actor": "categorize_customer", "args": [customer.id], "kwargs": {}},
            ).id
            for name, customer in (("theirs", theirs), ("ours", ours))
        }  # fmt: skip
    listed = cli.json("failures", "list")
    assert [row["id"] for row in listed["failures"]] == [failed["ours"]]
    missing = cli("failures", "show", "999999")
    for command in (("show",), ("dismiss", "--reason", "x"), ("replay",)):
        answer = cli("failures", *command, str(failed["theirs"]))
        assert answer.exit_code == missing.exit_code == 1
        assert answer.output.replace(str(failed["theirs"]), "N") == missing.output.replace(
            "999999", "N"
        )
    assert status_of(sessions, failed["theirs"]) == "open"
    mine = cli.json("--tenant", "someone-else", "failures", "list")
    assert [row["id"] for row in mine["failures"]] == [failed["theirs"]]
