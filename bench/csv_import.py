"""How fast a CSV import is: 50,000 customers with a primary contact each, on SQLite and on
PostgreSQL (a scratch database, when a server answers at CRMSYNC_TEST_POSTGRES_URL).

    uv run python -m bench.csv_import [--rows 50000]

Prints rows per second for the whole import (decoding, validation of every row, duplicate
checks, bulk writes with outbox rows). Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from customers import db
from customers.importer import TEMPLATE_COLUMNS, ImportReport, import_csv
from customers.models import Contact, Customer, OutboxEntry

# Unset or empty: the server this machine runs on loopback.
POSTGRES_URL = (
    os.environ.get("CRMSYNC_TEST_POSTGRES_URL")
    or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
CITIES = [("Köln", "DE", "EUR", "+49 221 "), ("Lyon", "FR", "EUR", "+33 4 "),
          ("Leeds", "GB", "GBP", "+44 113 "), ("Austin", "US", "USD", "+1 512 ")]  # fmt: skip
WORDS = ["Software", "Logistics", "Bakery", "Consulting", "Hotel", "Bank", "Farm", "Media"]


def make_csv(rows: int) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=TEMPLATE_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for i in range(rows):
        city, country, currency, prefix = CITIES[i % len(CITIES)]
        writer.writerow({
            "name": f"Company {i} {WORDS[i % len(WORDS)]} GmbH", "email": f"AP{i}@company{i}.com",
            "phone": f"{prefix}{1000000 + i}", "website": f"www.company{i}.com",
            "tax_id": f"{country} {100000000 + i}", "billing_city": city,
            "billing_street": f"{i} Main Street",
            "billing_country": country, "currency": currency, "payment_terms_days": "net 30",
            "credit_limit": f"{1000 + i % 9000}.00", "contact_first_name": "Ann",
            "contact_last_name": f"Lee {i}", "contact_email": f"ann{i}@company{i}.com",
            "contact_phone": f"{prefix}{2000000 + i}",
        })  # fmt: skip
    return out.getvalue().encode("utf-8-sig")


def run(url: str, raw: bytes, label: str) -> None:
    engine = db.make_engine(url)
    db.upgrade(engine)
    sessions = db.session_factory(engine)
    started = time.perf_counter()
    report: ImportReport = import_csv(sessions, "bench", raw)
    elapsed = time.perf_counter() - started
    with engine.connect() as connection:
        counts = [connection.scalar(select(func.count()).select_from(table))
                  for table in (Customer, Contact, OutboxEntry)]  # fmt: skip
    engine.dispose()
    print(
        f"{label:<11} {report.rows:>7,} rows in {elapsed:6.1f} s = {report.rows / elapsed:8,.0f} "
        f"rows/s  (created {report.created:,}; customers {counts[0]:,}, contacts {counts[1]:,}, "
        f"outbox {counts[2]:,}; errors {len(report.errors)})"
    )


def postgres_scratch() -> tuple[str, str] | None:
    try:
        admin = db.make_engine(POSTGRES_URL)
    except ArgumentError:
        print("PostgreSQL  skipped (CRMSYNC_TEST_POSTGRES_URL is not a database URL)")
        return None
    name = f"crmsync_bench_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # no server: the SQLite figure still stands
        print(f"PostgreSQL  skipped ({type(error).__name__})")
        return None
    finally:
        admin.dispose()
    return name, make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


def drop(name: str) -> None:
    admin = db.make_engine(POSTGRES_URL)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    args = parser.parse_args()
    raw = make_csv(args.rows)
    print(f"CSV: {args.rows:,} rows, {len(raw) / 1e6:.1f} MB, 19 columns, UTF-8 with BOM")
    with tempfile.TemporaryDirectory() as folder:
        run(f"sqlite:///{Path(folder) / 'bench.db'}", raw, "SQLite")
    scratch = postgres_scratch()
    if scratch is not None:
        try:
            run(scratch[1], raw, "PostgreSQL")
        finally:
            drop(scratch[0])


if __name__ == "__main__":
    main()
