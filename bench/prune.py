"""How fast the retention prune deletes, and how short its transactions stay: 1,000,000
webhook events past their retention in PostgreSQL, then the prune, batch by batch.

    uv run python -m bench.prune [--rows 1000000] [--batch-rows 5000]

Makes a scratch database at CRMSYNC_TEST_POSTGRES_URL (migrated, dropped afterwards) and
fills it server-side (INSERT ... SELECT over generate_series) with old events carrying a
HubSpot-sized payload, plus 10,000 young ones that must stay. Prints rows deleted per
second, the number of transactions and the longest single transaction. Figures are
printed, never asserted.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

if __package__ in (None, ""):  # run as a script: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.csv_import import POSTGRES_URL
from customers import db
from customers.service import get_tenant
from customers.sync_state import Connection, WebhookEvent
from customers.types import utcnow
from worker.retention import Retention, prune

YOUNG_ROWS = 10_000
FILL_CHUNK = 250_000

# One HubSpot property-change event as it is stored: about 300 bytes of JSON.
_FILL = """
INSERT INTO webhook_events (connection_id, dedupe_key, occurred_at, received_at, payload, status)
SELECT :connection_id, 'hubspot:' || n, :received_at, :received_at,
       jsonb_build_object(
         'eventId', n, 'subscriptionId', 1, 'portalId', 48215730, 'appId', 4242,
         'occurredAt', 1700000000000 + n, 'subscriptionType', 'company.propertyChange',
         'attemptNumber', 0, 'objectId', 10000000 + n, 'propertyName', 'city',
         'propertyValue', 'City ' || n, 'changeSource', 'CRM_UI',
         'sourceId', 'userId:' || (n % 97)),
       'received'
FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS n
"""


def measure(rows: int = 1_000_000, batch_rows: int = 5000) -> dict[str, Any]:
    """Fill a scratch PostgreSQL database, prune it, return the figures."""
    admin = db.make_engine(POSTGRES_URL)
    name = f"crmsync_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = db.make_engine(
        make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    )
    try:
        db.upgrade(engine)
        sessions = db.session_factory(engine)
        now = utcnow()
        with db.transaction(sessions) as session:
            tenant_id = get_tenant(session, "bench").id
            connection_row = Connection(
                tenant_id=tenant_id, provider="hubspot", account_id="48215730", name="bench"
            )
            session.add(connection_row)
            session.flush()
            connection_id = connection_row.id
        started = time.perf_counter()
        batches = [(first, min(first + FILL_CHUNK - 1, rows), now - timedelta(days=30))
                   for first in range(1, rows + 1, FILL_CHUNK)]  # fmt: skip
        batches.append((rows + 1, rows + YOUNG_ROWS, now - timedelta(hours=1)))
        for first, last, received_at in batches:
            with engine.begin() as connection:
                connection.execute(
                    text(_FILL),
                    {"connection_id": connection_id, "received_at": received_at,
                     "first": first, "last": last},
                )  # fmt: skip
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE webhook_events"))
            table_mb = connection.scalar(
                text("SELECT pg_total_relation_size('webhook_events') / 1e6")
            )
        fill_s = time.perf_counter() - started

        started = time.perf_counter()
        report = prune(sessions, Retention(14, None, None, None), batch_rows=batch_rows, now=now)
        elapsed = time.perf_counter() - started
        with engine.connect() as connection:
            left = connection.scalar(select(func.count()).select_from(WebhookEvent))
        pruned = report.tables["webhook_events"]
        return {
            "rows": rows, "young_rows": YOUNG_ROWS, "batch_rows": batch_rows,
            "fill_s": fill_s, "table_mb": float(table_mb or 0), "deleted": pruned.rows,
            "left": left, "seconds": elapsed, "rows_per_s": pruned.rows / elapsed if elapsed else None,
            "transactions": pruned.transactions,
            "longest_transaction_ms": pruned.longest_transaction_ms,
        }  # fmt: skip
    finally:
        engine.dispose()
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="old webhook events")
    parser.add_argument("--batch-rows", type=int, default=5000, help="rows per transaction")
    args = parser.parse_args()
    figures = measure(rows=args.rows, batch_rows=args.batch_rows)
    print(
        f"filled {figures['rows']:,} old + {figures['young_rows']:,} young webhook events "
        f"({figures['table_mb']:,.0f} MB) in {figures['fill_s']:.1f} s"
    )
    print(
        f"pruned {figures['deleted']:,} rows in {figures['seconds']:.1f} s: "
        f"{figures['rows_per_s']:,.0f} rows/s, {figures['transactions']} transactions of "
        f"{figures['batch_rows']:,} rows, longest {figures['longest_transaction_ms']:.0f} ms; "
        f"{figures['left']:,} young rows left"
    )
    if figures["left"] != figures["young_rows"]:
        raise SystemExit("the prune did not leave exactly the young events")


if __name__ == "__main__":
    main()
