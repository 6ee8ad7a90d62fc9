"""``crmsync demo`` (the README's first command) runs end to end on small sizes, and its
billing record shows every part of the customer record and travels both ways."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

CRMSYNC = str(Path(sys.executable).parent / "crmsync")


@pytest.mark.timeout(300)
def test_the_demo_runs_and_its_billing_record_travels_both_ways(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRMSYNC_")}
    done = subprocess.run(
        [CRMSYNC, "demo", "--companies", "12", "--accounts", "10", "--folder", str(folder)],
        cwd=tmp_path, env={**env, "COLUMNS": "200"}, capture_output=True, text=True,
        timeout=280, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "Traceback" not in out + done.stderr
    # What arrived in both sandboxes, read from the CRMs themselves.
    assert re.search(r"HubSpot: terms 30, credit limit 25000, tags eu;wholesale", out), out
    assert re.search(r"Salesforce: terms 30\.0, credit limit 25000\.0, tags eu;wholesale", out)
    assert re.search(r"terms, credit limit and tags in both CRMs\s*│\s*yes\s*│", out), out
    assert "[bold]" not in out  # markup is styled, not printed
    # A change made in each CRM came back to the directory.
    with sqlite3.connect(folder / "crmsync.db") as db:
        [(customer_id, terms, limit)] = db.execute(
            "SELECT c.id, c.payment_terms_days, c.credit_limit FROM customers c "
            "JOIN customer_references r ON r.customer_id = c.id WHERE r.reference = 'NW-1001'"
        ).fetchall()
        tags = [row[0] for row in db.execute(
            "SELECT tag FROM customer_tags WHERE customer_id = ? ORDER BY tag", (customer_id,)
        )]  # fmt: skip
        links = db.execute(
            "SELECT count(*) FROM external_links WHERE local_type = 'customer' AND local_id = ?",
            (customer_id,),
        ).fetchone()[0]
    assert (terms, float(limit), tags) == (45, 40000.0, ["eu", "priority", "wholesale"])
    assert links == 2  # the HubSpot company linked by hand, the Salesforce account it made
    for shown in ("ap@northwind.example, invoices@northwind.example (recipients)", "19.00 % (DE)",
                  "OURS-DE", "renewal=2027-03-31, seats=12, tier=gold", "erp:NW-1001",
                  "name differed"):  # fmt: skip
        assert shown in out, shown
