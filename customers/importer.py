"""Importing customers (and each one's primary contact) from a CSV file.

The file is read whole and checked before anything is written: an unreadable header (an
unknown or repeated column, no ``name`` or ``email`` column) or broken CSV quoting stops
the import with :class:`FileProblem`. After that, rows are independent: each is validated
with the directory's own rules (``customers.service.prepare_customer``) and a bad one is
reported — row number, column, reason — without stopping the others.

Rules, as a person importing would expect them:

- Row numbers are those a spreadsheet shows: the header is row 1, the first customer row 2.
- Blank cells are "not given"; rows with no values at all are ignored.
- An email already used by a live customer (any casing), or by an earlier row of the same
  file, skips the row: nothing is overwritten. Skips are listed, not counted as errors.
- So does a row that is surely the same business as a live customer or an earlier row
  (same tax id or company domain), unless duplicates are allowed; a row that is likely
  the same (a similar name) is imported with a warning. See ``customers.duplicate_screen``.
- Text must be UTF-8 (with or without the byte-order mark Excel writes) unless another
  encoding is named. A cell with bytes that are not valid in it is that row's error, with
  the line and byte offset of the first bad byte, so one mis-saved name does not cost the
  rest of the file.
- ``custom.<key>`` columns become custom properties.
- An ``aliases`` column gives each customer its aliases, ``SYSTEM:REFERENCE`` separated by
  ``;`` (``erp:C-1001; shop:77``). An alias that names a customer already, or that an
  earlier row of the file gives, skips the row, as a taken email does.
- ``custom.<key>`` columns become custom properties; a key the tenant has defined
  (``crmsync properties``) is checked against its type.
- ``tags``: the customer's tags, separated by semicolons (``vip; wholesale``).
- ``legal_entity``: the code of one of the tenant's legal entities.
- Where the tenant requires a billing address (the default), a row without a billing
  street, city and country is that row's error.
- Cells are separated by commas, or by semicolons or tabs when the header is (the
  semicolon is what spreadsheets write where the comma is the decimal mark).
- A cell that begins like a spreadsheet formula (``=``, ``+``, ``-``, ``@``) is that row's
  error, except a sign in a phone or number column.
- Rows are written in batches of :data:`BATCH_ROWS`, each batch in its own transaction
  through ``customers.service.create_customers`` (outbox rows included). An interrupted
  import can simply be run again: rows already imported are skipped by their email.

This module reads bytes and writes through the service layer; it prints nothing.
"""

from __future__ import annotations

import bisect
import codecs
import csv
import io
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, TextIO

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from customers.aliases import Alias, owners_of, parse_aliases
from customers.custom_properties import check_key, check_value
from customers.db import transaction
from customers.duplicate_screen import DuplicateScreen, DuplicateWarning
from customers.errors import DuplicateEmail, InvalidInput, NotFound
from customers.service import (
    NewCustomer,
    create_customers,
    get_tenant,
    prepare_customer,
    taken_emails,
)
from customers.tags import split_tags
from customers.tenant_rules import TenantRules

BATCH_ROWS = 1_000
CUSTOM_PREFIX = "custom."
CUSTOMER_COLUMNS = (
    "name",
    "email",
    "phone",
    "website",
    "domain",
    "tax_id",
    "registration_number",
    "customer_type",
    "status",
    "billing_street",
    "billing_street2",
    "billing_city",
    "billing_region",
    "billing_postal_code",
    "billing_country",
    "shipping_street",
    "shipping_street2",
    "shipping_city",
    "shipping_region",
    "shipping_postal_code",
    "shipping_country",
    "currency",
    "payment_terms_days",
    "credit_limit",
    "notes",
    "tax_rate",
    "tax_country",
    "tax_exemption",
    "tax_exemption_reason",
    "legal_entity",
    "invoicing_flow",
    "auto_pay",
    "notify_invoice_issued",
    "notify_payment_reminder",
    "notify_payment_received",
    "portal_enabled",
    "sales_rep_email",
    "sales_rep_name",
)
CONTACT_COLUMNS = {
    "contact_first_name": "first_name",
    "contact_last_name": "last_name",
    "contact_email": "email",
    "contact_phone": "phone",
    "contact_department": "department",
    "contact_notes": "notes",
    "contact_receives": "communications",  # a list: separated by "," or ";" in the cell
}
# Invoice delivery (customers.delivery); lists are separated by "," or ";" in a cell.
DELIVERY_COLUMNS = ("invoice_sender_email", "invoice_reply_to", "invoice_recipients", "invoice_cc")
ALIASES_COLUMN = "aliases"
TAGS_COLUMN = "tags"
TEMPLATE_COLUMNS = (
    *CUSTOMER_COLUMNS,
    *DELIVERY_COLUMNS,
    *CONTACT_COLUMNS,
    TAGS_COLUMN,
    ALIASES_COLUMN,
)
REQUIRED_COLUMNS = ("name", "email")
DELIMITERS = (",", ";", "\t")
FORMULA_STARTS = "=+-@"
# Columns whose validators read a sign themselves: a leading + or - is no formula there.
SIGNED_COLUMNS = frozenset({"phone", "contact_phone", "credit_limit", "payment_terms_days"})
TEMPLATE_EXAMPLE = {
    "name": "Acme Corporation",
    "email": "ap@acme.example",
    "phone": "+49 221 1234567",
    "website": "https://www.acme.example",
    "tax_id": "DE 123 456 789",
    "registration_number": "HRB 12345",
    "customer_type": "business",
    "status": "active",
    "billing_street": "Hauptstraße 1",
    "billing_city": "Köln",
    "billing_postal_code": "50667",
    "billing_country": "DE",
    "currency": "EUR",
    "payment_terms_days": "net 30",
    "credit_limit": "5000.00",
    "notes": "Invoices by email only",
    "contact_first_name": "Ann",
    "contact_last_name": "Lee",
    "contact_email": "ann.lee@acme.example",
    "contact_phone": "+49 221 1234568",
    "aliases": "erp:C-1001; shop:77",
    "invoice_sender_email": "billing@yourcompany.example",
    "invoice_reply_to": "accounts@yourcompany.example",
    "invoice_recipients": "ap@acme.example; invoices@acme.example",
    "invoice_cc": "controller@acme.example",
    "contact_department": "Accounts payable",
    "contact_receives": "billing; legal",
    "tags": "wholesale; eu",
    "tax_rate": "19",
    "tax_country": "DE",
    "tax_exemption": "none",
    "invoicing_flow": "automatic",
    "auto_pay": "no",
    "sales_rep_email": "sam.rep@example.com",
    "sales_rep_name": "Sam Rep",
}
_CONTACT_FIELDS = {f"contact.{name}": column for column, name in CONTACT_COLUMNS.items()}


def _column_of(field: str) -> str:
    """The column a directory field came from: ``contact.communications[2]`` ->
    ``contact_receives[2]``, ``custom_properties.seats`` -> ``custom.seats``."""
    if field.startswith("custom_properties."):
        return CUSTOM_PREFIX + field.removeprefix("custom_properties.")
    name, bracket, rest = field.partition("[")
    return _CONTACT_FIELDS.get(name, name) + bracket + rest


class FileProblem(Exception):
    """The file as a whole cannot be imported; nothing was written."""


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    reason: str


@dataclass(frozen=True)
class SkippedRow:
    row: int
    email: str
    reason: str


@dataclass
class ImportReport:
    rows: int = 0  # customer rows read (blank rows not counted)
    created: int = 0  # written (or, in a dry run, that would be)
    skipped: list[SkippedRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    warnings: list[DuplicateWarning] = field(default_factory=list)  # likely duplicates
    dry_run: bool = False

    @property
    def failed_rows(self) -> int:
        return len({error.row for error in self.errors})


Progress = Callable[[str, int, int], None]  # (phase, done, total)


def write_template(stream: TextIO) -> None:
    """The header with every importable column, and one example row."""
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow(TEMPLATE_COLUMNS)
    writer.writerow([TEMPLATE_EXAMPLE.get(column, "") for column in TEMPLATE_COLUMNS])


# ---- reading -------------------------------------------------------------------------

_bad_bytes = threading.local()


def _mark_bad_bytes(error: UnicodeError) -> tuple[str, int]:
    # Keep going past undecodable bytes (as surrogates, like "surrogateescape"), noting
    # where each run starts and how long it is, so each row can name its own problem.
    assert isinstance(error, UnicodeDecodeError)
    _bad_bytes.runs.append((error.start, error.end - error.start))
    return "".join(chr(0xDC00 + b) for b in error.object[error.start : error.end]), error.end


codecs.register_error("crmsync-import", _mark_bad_bytes)


@dataclass(frozen=True)
class BadBytes:
    offset: int  # byte offset in the file
    length: int
    line: int  # 1-based


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str
    bad: list[BadBytes]  # in file order

    @property
    def bad_lines(self) -> list[int]:
        return [run.line for run in self.bad]


def decode(raw: bytes, encoding: str) -> Decoded:
    """The file's text; undecodable bytes become surrogates and are listed in ``bad``."""
    try:
        codec = codecs.lookup(encoding)
    except LookupError:
        raise FileProblem(f"{encoding!r} is not a text encoding") from None
    if codec.name == "utf-8" and raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Excel's "Unicode Text" export: every byte would look broken; say what it is.
        raise FileProblem("the file is UTF-16 text: save it as CSV UTF-8, or name utf-16")
    body = raw[len(codecs.BOM_UTF8) :] if raw.startswith(codecs.BOM_UTF8) else raw
    skipped = len(raw) - len(body)
    _bad_bytes.runs = []
    try:
        content = body.decode(codec.name, errors="crmsync-import")
        runs = list(_bad_bytes.runs)
    except LookupError:  # a codec that is not text to text (rot13, base64, zip)
        raise FileProblem(f"{encoding!r} is not a text encoding") from None
    except UnicodeError as error:  # a codec that cannot mark bad bytes (idna, punycode)
        raise FileProblem(f"the file cannot be read as {encoding!r} text ({error})") from None
    finally:
        del _bad_bytes.runs
    bad, line, previous = [], 1, 0
    for start, length in runs:
        offset = skipped + start
        line += raw.count(b"\n", previous, offset)
        previous = offset
        bad.append(BadBytes(offset, length, line))
    return Decoded(content, encoding, bad)


def _is_broken(value: str) -> bool:
    return any("\udc00" <= ch <= "\udcff" for ch in value)


def _header(cells: list[str]) -> list[str]:
    columns = [cell.strip().lower().replace(" ", "_") for cell in cells]
    unknown = [c for c in columns if c not in TEMPLATE_COLUMNS and not c.startswith(CUSTOM_PREFIX)]
    if unknown:
        raise FileProblem(
            f"unknown column(s) {', '.join(map(repr, unknown))}; the columns are: "
            f"{', '.join(TEMPLATE_COLUMNS)} and custom.<key> (see `customers template`)"
        )
    for column in columns:
        if column.startswith(CUSTOM_PREFIX):
            try:
                check_key(column.removeprefix(CUSTOM_PREFIX))
            except ValueError as error:
                raise FileProblem(f"column {column!r}: {error}") from None
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise FileProblem(f"column(s) {', '.join(repeated)} appear more than once")
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise FileProblem(f"the header has no {' or '.join(missing)} column")
    return columns


@dataclass(frozen=True)
class _Row:
    number: int  # as a spreadsheet counts: header is 1
    first_line: int
    last_line: int
    cells: list[str]


def delimiter_of(text: str) -> str:
    """The file's delimiter, told by its header: a comma, or the semicolon a spreadsheet
    writes where the comma is the decimal mark (Germany, France), or a tab. The first that
    splits the header into known columns, ``name`` and ``email`` among them, wins; a header
    that none splits is read with commas, and its error names the columns it found."""
    first_line = text.split("\n", 1)[0]
    for candidate in DELIMITERS:
        if candidate not in first_line:
            continue
        try:
            cells = next(csv.reader(io.StringIO(first_line), delimiter=candidate), [])
            _header(cells)
        except (csv.Error, FileProblem):
            continue
        return candidate
    return ","


def read_rows(decoded: Decoded) -> tuple[list[str], list[_Row]]:
    delimiter = delimiter_of(decoded.text)
    reader = csv.reader(io.StringIO(decoded.text, newline=""), delimiter=delimiter, strict=True)
    rows: list[_Row] = []
    try:
        header = next(reader, None)
        if header is None:
            raise FileProblem("the file is empty")
        if any(_is_broken(cell) for cell in header):
            first = decoded.bad[0]
            raise FileProblem(
                f"the header row is not valid {decoded.encoding} text (byte offset "
                f"{first.offset}); save the file as UTF-8 or name its encoding"
            )
        columns = _header(header)
        last_line = reader.line_num
        for number, cells in enumerate(reader, start=2):
            rows.append(_Row(number, last_line + 1, reader.line_num, cells))
            last_line = reader.line_num
    except csv.Error as error:
        raise FileProblem(f"line {reader.line_num}: not valid CSV ({error})") from None
    return columns, rows


# ---- validating ----------------------------------------------------------------------


def _encoding_errors(
    decoded: Decoded, raw: bytes, row: _Row, values: dict[str, str]
) -> list[RowError]:
    """One error per cell with undecodable bytes, naming the first bad byte of that cell:
    the row's bad runs are handed out to its broken cells in order, by their length."""
    first = bisect.bisect_left(decoded.bad_lines, row.first_line)
    last = bisect.bisect_right(decoded.bad_lines, row.last_line)
    runs = iter(decoded.bad[first:last])
    errors = []
    for column, value in values.items():
        broken = sum(1 for ch in value if "\udc00" <= ch <= "\udcff")
        run = next(runs, None) if broken else None
        if run is None:
            continue
        errors.append(
            RowError(
                row.number,
                column,
                (
                    f"is not valid {decoded.encoding} text (byte 0x{raw[run.offset]:02X} at byte "
                    f"offset {run.offset}, line {run.line}); save the file as UTF-8 or name its encoding"
                ),
            )
        )
        broken -= run.length
        while broken > 0 and (run := next(runs, None)) is not None:
            broken -= run.length
    return errors


def _formulas(row: _Row, values: dict[str, str]) -> list[RowError]:
    """Cells that begin as a spreadsheet formula does (``=``, ``+``, ``-``, ``@``) are
    refused, not stored: the file holds the formula, not its result, and the text would be
    pushed to both CRMs, where the next export to a spreadsheet runs it. Phone and number
    columns are exempt from ``+`` and ``-`` (``+49 ...``, ``-500``): their own validators
    accept only a phone number or a number there."""
    errors = []
    for column, value in values.items():
        if not value or value[0] not in FORMULA_STARTS:
            continue
        if value[0] in "+-" and column in SIGNED_COLUMNS:
            continue
        errors.append(
            RowError(
                row.number,
                column,
                (
                    f"begins with {value[0]!r}, as a spreadsheet formula does; formulas are not "
                    "imported (the file holds the formula, not its result). Remove the character "
                    "or enter the value with `customers update`"
                ),
            )
        )
    return errors


def _validate(
    row: _Row,
    columns: list[str],
    decoded: Decoded,
    raw: bytes,
    rules: TenantRules | None = None,
) -> NewCustomer | list[RowError]:
    if len(row.cells) > len(columns):
        reason = f"has {len(row.cells)} values but the header has {len(columns)} columns"
        return [RowError(row.number, "(row)", reason)]
    values = {column: cell.strip() for column, cell in zip(columns, row.cells, strict=False)}
    errors = _encoding_errors(decoded, raw, row, values) if decoded.bad else []
    errors += _formulas(row, values)
    broken = {error.column for error in errors}
    customer: dict[str, Any] = {c: values.get(c, "") for c in REQUIRED_COLUMNS if c not in broken}
    customer.update(
        (c, v)
        for c, v in values.items()
        if v and (c in CUSTOMER_COLUMNS or c in DELIVERY_COLUMNS) and c not in broken
    )
    custom: dict[str, Any] = {}
    for column, value in values.items():
        if value and column.startswith(CUSTOM_PREFIX) and column not in broken:
            key = column.removeprefix(CUSTOM_PREFIX)
            try:  # checked here to name the column, not the directory's field
                custom[key] = check_value(key, value)
            except ValueError as error:
                errors.append(RowError(row.number, column, str(error)))
    if custom:
        customer["custom_properties"] = custom
    contact = {
        name: values[c] for c, name in CONTACT_COLUMNS.items() if values.get(c) and c not in broken
    }
    row_aliases: list[Alias] = []
    if values.get(ALIASES_COLUMN) and ALIASES_COLUMN not in broken:
        try:
            row_aliases = parse_aliases(values[ALIASES_COLUMN], field=ALIASES_COLUMN)
        except InvalidInput as error:
            errors += [RowError(row.number, e.field, e.reason) for e in error.errors]
    tags = (
        split_tags(values[TAGS_COLUMN])
        if TAGS_COLUMN not in broken and values.get(TAGS_COLUMN)
        else []
    )
    try:
        prepared = prepare_customer(
            customer, primary_contact=contact or None, tags=tags, rules=rules
        )
    except InvalidInput as error:
        errors += [
            RowError(row.number, _column_of(e.field), e.reason)
            for e in error.errors
            if _column_of(e.field).partition("[")[0] not in broken
        ]
        return errors
    return errors or replace(prepared, aliases=tuple(row_aliases))


# ---- importing -----------------------------------------------------------------------


def _taken_emails(session: Session, tenant_id: int | None, emails: list[str]) -> dict[str, int]:
    return {} if tenant_id is None else taken_emails(session, tenant_id, emails)


def _batches(items: list[tuple[int, NewCustomer]]) -> Iterator[list[tuple[int, NewCustomer]]]:
    for start in range(0, len(items), BATCH_ROWS):
        yield items[start : start + BATCH_ROWS]


def import_csv(
    sessions: sessionmaker[Session],
    tenant_slug: str,
    raw: bytes,
    *,
    encoding: str = "utf-8",
    dry_run: bool = False,
    allow_duplicates: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Import a CSV file's bytes; see the module docstring for the rules. A dry run checks
    everything a real run would (the database included) and writes nothing. With
    ``allow_duplicates``, a row that is surely a duplicate is imported (and warned of)."""
    decoded = decode(raw, encoding)
    columns, rows = read_rows(decoded)
    rows = [row for row in rows if any(cell.strip() for cell in row.cells)]
    report = ImportReport(rows=len(rows), dry_run=dry_run)
    with transaction(sessions) as session:
        tenant_id = _tenant_id(session, tenant_slug, create=False)
        # A tenant made by this import starts with the defaults: a billing address required.
        rules = (
            TenantRules(require_billing_address=True)
            if tenant_id is None
            else TenantRules.load(session, tenant_id)
        )
    ready: list[tuple[int, NewCustomer]] = []
    first_row_of: dict[str, int] = {}
    first_row_of_alias: dict[Alias, int] = {}
    for done, row in enumerate(rows, start=1):
        result = _validate(row, columns, decoded, raw, rules)
        if isinstance(result, list):
            report.errors.extend(result)
        else:
            email = result.fields["email"]
            repeated = next((a for a in result.aliases if a in first_row_of_alias), None)
            if email in first_row_of:
                reason = f"row {first_row_of[email]} of this file has the same email"
                report.skipped.append(SkippedRow(row.number, email, reason))
            elif repeated is not None:
                reason = f"row {first_row_of_alias[repeated]} of this file has the alias {repeated}"
                report.skipped.append(SkippedRow(row.number, email, reason))
            else:
                first_row_of[email] = row.number
                first_row_of_alias.update((alias, row.number) for alias in result.aliases)
                ready.append((row.number, result))
        if progress is not None and (done % 500 == 0 or done == len(rows)):
            progress("checking", done, len(rows))
    with transaction(sessions) as session:
        tenant_id = _tenant_id(session, tenant_slug, create=False)
        screen = DuplicateScreen.load(session, tenant_id, allow=allow_duplicates)
    _write(sessions, tenant_slug, ready, report, screen, progress)
    return report


def _tenant_id(session: Session, slug: str, *, create: bool) -> int | None:
    try:
        return get_tenant(session, slug, create=create).id
    except NotFound:
        return None  # a dry run for a tenant that does not exist yet: no customers to clash


def _write_batch(
    session: Session,
    tenant_slug: str,
    batch: list[tuple[int, NewCustomer]],
    screen: DuplicateScreen,
    dry_run: bool,
) -> tuple[int, list[SkippedRow], list[DuplicateWarning]]:
    """Skip the rows whose email a live customer has, and the sure duplicates; create the
    rest. (created, skipped, warnings)"""
    tenant_id = _tenant_id(session, tenant_slug, create=not dry_run)
    taken = _taken_emails(session, tenant_id, [c.fields["email"] for _, c in batch])
    skipped = [
        SkippedRow(number, email, f"customer {taken[email]} already has this email")
        for number, customer in batch
        if (email := customer.fields["email"]) in taken
    ]
    untaken = [(number, c) for number, c in batch if c.fields["email"] not in taken]
    owners = (
        owners_of(session, tenant_id, [a for _, c in untaken for a in c.aliases])
        if tenant_id is not None
        else {}
    )
    for number, customer in [(n, c) for n, c in untaken if set(c.aliases) & set(owners)]:
        alias = next(a for a in customer.aliases if a in owners)
        reason = f"alias {alias} already names customer {owners[alias]}"
        skipped.append(SkippedRow(number, customer.fields["email"], reason))
    untaken = [(n, c) for n, c in untaken if not set(c.aliases) & set(owners)]
    screened = screen.screen(session, [(number, c.fields) for number, c in untaken])
    skipped += [
        SkippedRow(number, customer.fields["email"], screened.refused[number])
        for number, customer in untaken
        if number in screened.refused
    ]
    fresh = [customer for number, customer in untaken if number not in screened.refused]
    if not dry_run and fresh and tenant_id is not None:
        create_customers(session, tenant_id, fresh)
    return len(fresh), skipped, screened.warnings


def _write(
    sessions: sessionmaker[Session],
    tenant_slug: str,
    ready: list[tuple[int, NewCustomer]],
    report: ImportReport,
    screen: DuplicateScreen,
    progress: Progress | None,
) -> None:
    done, analyzed_at = 0, 0
    for batch in _batches(ready):
        for attempt in (1, 2):
            try:
                with transaction(sessions) as session:
                    created, skipped, warnings = _write_batch(
                        session, tenant_slug, batch, screen, report.dry_run
                    )
                break
            except DuplicateEmail:
                # Someone added one of these emails since we looked: look again, once.
                if attempt == 2:
                    raise
        report.skipped.extend(skipped)
        report.warnings.extend(warnings)
        report.created += created
        done += len(batch)
        if not report.dry_run and report.created >= 2 * analyzed_at + BATCH_ROWS:
            analyzed_at = report.created
            _refresh_statistics(sessions)
        if progress is not None:
            progress("writing" if not report.dry_run else "checking emails", done, len(ready))
    report.skipped.sort(key=lambda skip: skip.row)
    report.warnings.sort(key=lambda warning: warning.row)


def _refresh_statistics(sessions: sessionmaker[Session]) -> None:
    """PostgreSQL plans from table statistics, which a bulk load leaves stale until
    autovacuum catches up; planned for an almost empty table, the email lookups of later
    batches compared every row with every email. Analyzing as the import doubles the
    table keeps them index lookups (a handful of times per import)."""
    with transaction(sessions) as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("ANALYZE customers"))
