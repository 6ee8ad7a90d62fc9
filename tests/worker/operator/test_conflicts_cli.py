"""``crmsync conflicts list|show``: conflict rows read back, filtered, behind the tenant wall,
on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from customers import db
from customers.sync_state import SyncConflict
from customers.types import utcnow
from tests.worker.operator.conftest import Cli


@pytest.fixture
def conflicts(sessions: sessionmaker[Session], connection_ids: dict[str, int]) -> dict[str, int]:
    now = utcnow()
    hubspot, salesforce = connection_ids["hubspot"], connection_ids["salesforce"]

    def row(connection_id: int, object_type: str, local_id: int, field: str, **values: object):
        return SyncConflict(
            connection_id=connection_id,
            object_type=object_type,
            external_id=f"x{local_id}",
            local_id=local_id,
            field=field,
            **values,
        )

    with db.transaction(sessions) as session:
        rows = {
            "name": row(hubspot, "company", 7, "name", base_value="Acme", local_value="Acme GmbH",
                        remote_value="ACME Inc", resolved_value="ACME Inc",
                        rule="two_way (crm won)", created_at=now - timedelta(hours=1)),
            "phone": row(hubspot, "contact", 7, "phone", base_value=None, local_value="+49 1",
                         remote_value="+49 2", resolved_value="+49 1",
                         rule="always_local (local won)", created_at=now - timedelta(minutes=5)),
            "old": row(salesforce, "account", 9, "name", base_value="A", local_value="B",
                       remote_value="C", resolved_value="C", rule="always_crm (crm won)",
                       created_at=now - timedelta(days=10)),
            "foreign": row(connection_ids["foreign"], "company", 7, "name", base_value="x",
                           local_value="y", remote_value="z", resolved_value="z",
                           rule="two_way (crm won)", created_at=now),
        }  # fmt: skip
        session.add_all(rows.values())
        session.flush()
        return {name: conflict.id for name, conflict in rows.items()}


def _ids(cli: Cli, *filters: str) -> list[int]:
    return [row["id"] for row in cli.json("conflicts", "list", *filters)["conflicts"]]


def test_list_filters_and_keeps_to_the_tenant(
    cli: Cli, conflicts: dict[str, int], connection_ids: dict[str, int]
) -> None:
    newest_first = [conflicts["phone"], conflicts["name"], conflicts["old"]]
    assert _ids(cli) == newest_first  # never the other tenant's row
    assert _ids(cli, "--connection", str(connection_ids["salesforce"])) == [conflicts["old"]]
    assert _ids(cli, "--connection", str(connection_ids["foreign"])) == []
    assert _ids(cli, "--customer", "7") == [conflicts["name"]]  # not contact 7
    assert _ids(cli, "--local-id", "7") == [conflicts["phone"], conflicts["name"]]
    assert _ids(cli, "--field", "name") == [conflicts["name"], conflicts["old"]]
    assert _ids(cli, "--since", "2h") == [conflicts["phone"], conflicts["name"]]
    assert _ids(cli, "--since", "30m", "--field", "name") == []
    assert _ids(cli, "--external-id", "x9") == [conflicts["old"]]
    assert _ids(cli, "--limit", "1") == [conflicts["phone"]]
    bad = cli("conflicts", "list", "--since", "last week")
    assert bad.exit_code == 2 and "--since" in bad.stderr and "Traceback" not in bad.output
    table = cli("conflicts", "list", "--field", "phone")
    assert table.exit_code == 0 and "conflicts (1)" in table.stdout and "phone" in table.stdout


def test_show_gives_both_values_the_base_and_the_decision(
    cli: Cli, conflicts: dict[str, int]
) -> None:
    shown = cli.json("conflicts", "show", str(conflicts["name"]))
    assert (shown["field"], shown["local_type"], shown["local_id"]) == ("name", "customer", 7)
    assert (shown["base_value"], shown["local_value"], shown["remote_value"]) == (
        "Acme",
        "Acme GmbH",
        "ACME Inc",
    )
    assert shown["decision"] == {"rule": "two_way", "winner": "crm", "value": "ACME Inc"}
    text = cli("conflicts", "show", str(conflicts["phone"]))
    assert text.exit_code == 0
    assert "base: None" in text.stdout and "decision: local won: '+49 1'" in text.stdout
    theirs = cli("conflicts", "show", str(conflicts["foreign"]))
    missing = cli("conflicts", "show", "98765")
    assert theirs.exit_code == missing.exit_code == 1
    assert f"conflict {conflicts['foreign']} not found" in theirs.stderr
    assert "conflict 98765 not found" in missing.stderr
