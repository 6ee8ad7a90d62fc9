"""``crmsync customers template`` and ``import`` as a person runs them."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine

from customers.importer import TEMPLATE_COLUMNS
from tests.customers.helpers import row_counts
from tests.customers.importer.conftest import Cli
from tests.customers.importer.test_import import MESSY


def test_template_has_a_bom_for_excel_and_every_column(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    assert cli("customers", "template", str(path)).exit_code == 0
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    header, example = raw[3:].decode().splitlines()
    assert header.split(",") == list(TEMPLATE_COLUMNS)
    assert {"contact_first_name", "contact_last_name", "contact_email", "contact_phone"} <= set(
        TEMPLATE_COLUMNS
    )
    assert "Köln" in example
    printed = cli("customers", "template").stdout
    assert printed.startswith("name,email,") and "\ufeff" not in printed


def test_import_reports_rows_and_exits_1_when_some_rows_failed(
    cli: Cli, tmp_path: Path, engine: Engine
) -> None:
    assert cli("customers", "add", "--name", "Acme Corp", "--email", "ap@acme.com").exit_code == 0
    path = tmp_path / "messy.csv"
    path.write_bytes(MESSY)
    dry = cli("customers", "import", str(path), "--dry-run")
    assert (
        dry.exit_code == 1
        and "would create 3" in dry.stdout
        and "nothing was written" in dry.stdout
    )
    before = row_counts(engine)
    result = cli("customers", "import", str(path), "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert (report["created"], report["rows"], report["failed_rows"]) == (3, 9, 4)
    assert [(e["row"], e["column"]) for e in report["errors"]] == [
        (3, "name"), (4, "billing_country"), (7, "name"), (7, "contact_first_name"), (11, "email")
    ]  # fmt: skip
    assert [s["row"] for s in report["skipped"]] == [5, 6]
    assert row_counts(engine)["customers"] == before["customers"] + 3
    text = " ".join(cli("customers", "import", str(path)).stdout.split())
    assert "9 row(s): created 0, skipped 5" in text and "byte offset" in text
    assert "1 row(s) are not UTF-8" in text and "--encoding cp1252" in text


def test_clean_file_exits_0_and_file_problems_exit_2(
    cli: Cli, tmp_path: Path, engine: Engine
) -> None:
    cli("db", "upgrade")
    good = tmp_path / "good.csv"
    good.write_text("name,email\nAcme,ap@acme.com\n", encoding="utf-8")
    assert cli("customers", "import", str(good)).exit_code == 0
    before = row_counts(engine)
    bad = tmp_path / "bad.csv"
    bad.write_text("name,e-mail\nAcme,ap@acme.com\n", encoding="utf-8")
    result = cli("customers", "import", str(bad))
    assert result.exit_code == 2
    message = " ".join(result.stderr.split())
    assert "unknown column(s) 'e-mail'" in message and "nothing was written" in message
    missing = cli("customers", "import", str(tmp_path / "nowhere.csv"))
    assert missing.exit_code == 2 and "cannot read" in missing.stderr
    assert row_counts(engine) == before
