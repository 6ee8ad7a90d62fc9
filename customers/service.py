"""The only way code changes customers.

Every function takes the caller's ``Session`` inside a transaction: validation happens
before anything is touched, and each change writes its outbox row in the same transaction,
so a change and the note that it must go to the CRMs commit or roll back together.

Deletion follows the directory's rule: a customer is never removed while anything
references it (a link to a CRM record, an invoice or other external reference). ``delete``
is therefore a soft delete that keeps the row for history; ``purge`` removes the row and is
refused while a reference exists.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import String, Table, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from customers.aliases import Alias, add_alias
from customers.billing import BILLING_DEFAULTS, missing_billing_address
from customers.bulk import insert_returning_ids, insert_rows, table_rows
from customers.custom_properties import CustomChanges
from customers.db import LOCK_TENANT, lock_for_transaction
from customers.errors import (
    DuplicateEmail,
    FieldError,
    InvalidInput,
    NotFound,
    Refused,
    StaleVersion,
)
from customers.fields import check_subcategory, clean_contact, clean_customer
from customers.legal_entities import FIELD as LEGAL_ENTITY
from customers.legal_entities import resolve_code
from customers.match_columns import match_values, name_word_rows, write_name_words
from customers.models import (
    Contact,
    ContactRole,
    Customer,
    CustomerReference,
    CustomerStatus,
    CustomerTag,
    CustomerType,
    OutboxEntry,
    Tenant,
)
from customers.property_definitions import typed_values
from customers.sync_state import ExternalLink
from customers.tags import changed_tags, having_tags, normalize_tags
from customers.tenant_rules import TenantRules
from customers.types import utcnow

DEFAULT_PAGE_SIZE = 50
PRIMARY_ROLE = ContactRole.PRIMARY.value


def get_tenant(session: Session, slug: str, *, create: bool = True) -> Tenant:
    """The tenant named ``slug``; made on first use when ``create`` is true."""
    tenant = session.scalar(select(Tenant).where(Tenant.slug == slug))
    if tenant is None:
        if not create:
            raise NotFound("tenant", slug)
        tenant = Tenant(slug=slug, name=slug)
        session.add(tenant)
        session.flush()
    return tenant


def write_outbox(
    session: Session,
    *,
    tenant_id: int,
    entity_type: str,
    entity_id: int,
    operation: str,
    fields: Iterable[str] = (),
    origin_connection_id: int | None = None,
) -> None:
    session.add(
        OutboxEntry(
            tenant_id=tenant_id,
            entity_type=entity_type,
            entity_id=entity_id,
            operation=operation,
            fields=sorted(fields),
            origin_connection_id=origin_connection_id,
        )
    )


def get_customer(session: Session, tenant_id: int, customer_id: int) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None or customer.tenant_id != tenant_id:
        raise NotFound("customer", customer_id)
    return customer


def find_by_email(session: Session, tenant_id: int, email: str) -> Customer | None:
    """The live customer with this email (any casing), if there is one."""
    return session.scalar(
        select(Customer).where(
            Customer.tenant_id == tenant_id,
            Customer.email == email.strip().lower(),
            Customer.deleted_at.is_(None),
        )
    )


def taken_emails(session: Session, tenant_id: int, emails: Sequence[str]) -> dict[str, int]:
    """Which of these (normalized) emails live customers already have: email -> id."""
    if not emails:
        return {}
    live = (Customer.tenant_id == tenant_id, Customer.deleted_at.is_(None))
    if session.get_bind().dialect.name == "postgresql":
        # A join with the array, not ``IN (...)``: psycopg prepares a statement it runs
        # often, and PostgreSQL's generic plan for a long IN list compares every row with
        # every value (a 50,000-row import slowed down ten times after its fifth batch).
        wanted = (
            func.unnest(bindparam("emails", list(emails), type_=ARRAY(String)))
            .table_valued("email")
            .render_derived("wanted")
        )
        query = select(Customer.email, Customer.id).join(wanted, Customer.email == wanted.c.email)
        return {row.email: row.id for row in session.execute(query.where(*live))}
    found: dict[str, int] = {}
    for start in range(0, len(emails), 500):  # SQLite's IN list is a temporary b-tree: fast
        chunk = list(emails[start : start + 500])
        query = select(Customer.email, Customer.id).where(*live, Customer.email.in_(chunk))
        found.update((row.email, row.id) for row in session.execute(query))
    return found


def guard_tenant(session: Session, tenant_id: int) -> None:
    """Hold the tenant's creation guard until the transaction ends.

    Every path that creates a customer, or links a CRM record to one, takes it before it
    looks for duplicates, so two such paths (a HubSpot and a Salesforce page, a push and a
    page, an import and a sync) never decide on the same business at the same time: the
    second one waits, then sees what the first committed. Take it before any row lock in
    the transaction; see ``customers.db.lock_for_transaction``."""
    lock_for_transaction(session, LOCK_TENANT, tenant_id)


def _check_email_free(session: Session, tenant_id: int, email: str, own_id: int | None) -> None:
    existing = find_by_email(session, tenant_id, email)
    if existing is not None and existing.id != own_id:
        raise DuplicateEmail(email, existing.id)


# ``Session.info`` key: the caller holds a savepoint for its unit of work (``unit_savepoint``),
# and whether each write flushes at once.
UNIT_SAVEPOINT = "crmsync.unit_savepoint"


@contextmanager
def unit_savepoint(session: Session, *, flush: bool = True) -> Iterator[None]:
    """One savepoint for a caller's unit of work (a record of a sync page), inside which
    the writes of this module open none of their own: an error raised in it leaves it, the
    savepoint is rolled back, and the caller's transaction is usable again. A synced update
    then costs one savepoint instead of two, two round trips fewer per record. The caller
    must not catch a directory error inside the unit and go on writing in it.

    With ``flush=False`` the writes are not flushed one by one either: the caller flushes
    the unit at its end (a page's updates, each of many records, in a few batched
    statements), and a constraint or version error then names no single write; the caller
    rolls the unit back and does its parts one by one to learn which."""
    outer = session.info.get(UNIT_SAVEPOINT)
    with session.begin_nested():
        session.info[UNIT_SAVEPOINT] = "flush" if flush else "deferred"
        try:
            yield
        finally:
            session.info[UNIT_SAVEPOINT] = outer


@contextmanager
def guarded(
    session: Session,
    kind: str,
    key: object,
    *,
    email: str | None = None,
    expected_version: int | None = None,
) -> Iterator[None]:
    """Make changes and flush them inside a savepoint (the caller's, in a
    ``unit_savepoint``), turning constraint and concurrency errors into directory errors
    while leaving the caller's transaction usable."""
    unit = session.info.get(UNIT_SAVEPOINT)
    try:
        with nullcontext() if unit else session.begin_nested():
            yield
            if unit != "deferred":
                session.flush()
    except IntegrityError as error:
        if email and "email" in str(error.orig).lower():
            raise DuplicateEmail(email, None) from None
        raise
    except StaleDataError:
        raise StaleVersion(kind, key, expected_version, None) from None


def _category_provenance(
    cleaned: dict[str, Any], customer: Customer | None, origin_connection_id: int | None
) -> None:
    """A category given with a change is checked as a pair (the subcategory must be one of
    the category's, the stored one when only the subcategory changes) and recorded with who
    decided and when: a CRM sync (``crm:connection N``, as the CRM's own field says it) or a
    person (``manual``, confidence 1, never overwritten by a categorizer)."""
    if "category" not in cleaned and "subcategory" not in cleaned:
        return
    category = cleaned.get("category", customer.category if customer else None)
    subcategory = cleaned.get("subcategory", customer.subcategory if customer else None)
    if "category" in cleaned and "subcategory" not in cleaned and customer is not None:
        subcategory = None  # a new category does not keep the old one's subcategory
        cleaned["subcategory"] = None
    check_subcategory(category, subcategory)
    if customer is not None and (category, subcategory) == (
        customer.category,
        customer.subcategory,
    ):
        return  # unchanged: who decided stays as it was
    decided_by_crm = origin_connection_id is not None
    cleaned.update(
        category_source=f"crm:connection {origin_connection_id}" if decided_by_crm else "manual",
        category_confidence=None if decided_by_crm else 1.0,
        categorized_at=utcnow() if category else None,
    )
    if category is None:
        cleaned.update(category_source=None, category_confidence=None)


def create_customer(
    session: Session,
    tenant_id: int,
    data: Mapping[str, Any],
    *,
    origin_connection_id: int | None = None,
    email_required: bool = True,
    tags: Iterable[str] = (),
) -> Customer:
    """Add a customer. A name is always required; an email too, except for customers a CRM
    sync creates (CRM companies often have none; such a customer cannot be invoiced until
    one is added) and copies (``email_required=False``, ``customers.copies``). Custom
    properties with a definition are checked against it; a
    ``legal_entity`` is given by its code. Where the tenant requires a billing address,
    a customer added by hand needs one; one from a CRM is kept without and shown as
    incomplete."""
    rules = TenantRules.load(
        session,
        tenant_id,
        definitions=bool(data.get("custom_properties")),
        legal_entities=LEGAL_ENTITY in data,
        billing_address=origin_connection_id is None,
    )
    data, legal_entity_id = _legal_entity(data, rules)
    cleaned = clean_customer(data, from_crm=origin_connection_id is not None)
    if legal_entity_id is not None:
        cleaned["legal_entity_id"] = legal_entity_id
    tag_list = normalize_tags(tags)
    if cleaned.get("custom_properties"):
        cleaned["custom_properties"] = typed_values(rules.definitions, cleaned["custom_properties"])
    if "name" not in cleaned:
        raise InvalidInput.single("name", "is required")
    if not cleaned.get("email") and origin_connection_id is None and email_required:
        raise InvalidInput.single("email", "is required")
    if origin_connection_id is None and rules.require_billing_address:
        _require_billing_address(cleaned)
    _category_provenance(cleaned, None, origin_connection_id)
    guard_tenant(session, tenant_id)
    if cleaned.get("email"):
        _check_email_free(session, tenant_id, cleaned["email"], None)
    customer = Customer(tenant_id=tenant_id, **cleaned)
    customer.tag_rows = [CustomerTag(tenant_id=tenant_id, tag=tag) for tag in sorted(tag_list)]
    with guarded(session, "customer", "(new)", email=cleaned.get("email")):
        session.add(customer)
    write_outbox(
        session,
        tenant_id=tenant_id,
        entity_type="customer",
        entity_id=customer.id,
        operation="create",
        fields=[*cleaned, *(["tags"] if tag_list else [])],
        origin_connection_id=origin_connection_id,
    )
    return customer


def _legal_entity(
    data: Mapping[str, Any], rules: TenantRules
) -> tuple[Mapping[str, Any], int | None]:
    """``data`` without its ``legal_entity`` code, and the id that code names."""
    if LEGAL_ENTITY not in data:
        return data, None
    rest = {key: value for key, value in data.items() if key != LEGAL_ENTITY}
    return rest, resolve_code(rules.legal_entities, data[LEGAL_ENTITY])


BILLING_ADDRESS_REQUIRED = (
    "is required (the tenant requires a billing address: street, city and country)"
)


def _billing_address_problems(parts: Iterable[str]) -> list[FieldError]:
    return [FieldError(part, BILLING_ADDRESS_REQUIRED) for part in parts]


def _require_billing_address(cleaned: Mapping[str, Any]) -> None:
    problems = _billing_address_problems(missing_billing_address(cleaned))
    if problems:
        raise InvalidInput(problems)


@dataclass(frozen=True)
class NewCustomer:
    """A customer (and its primary contact) validated by :func:`prepare_customer` and not
    yet written: what :func:`create_customers` takes in bulk."""

    fields: dict[str, Any]
    primary_contact: dict[str, Any] | None = None
    aliases: tuple[Alias, ...] = ()  # checked by ``customers.aliases.parse_aliases``
    tags: tuple[str, ...] = ()


def prepare_customer(
    data: Mapping[str, Any],
    *,
    primary_contact: Mapping[str, Any] | None = None,
    origin_connection_id: int | None = None,
    tags: Iterable[str] = (),
    rules: TenantRules | None = None,
) -> NewCustomer:
    """Validate a new customer as :func:`create_customer` does, plus an optional primary
    contact (its fields reported as ``contact.<field>``) and tags, naming every bad field
    at once, by the tenant's ``rules`` (``TenantRules.load``; none: no definitions, no
    legal entities, no billing address required). Touches no database: duplicates are
    checked when the customers are created."""
    rules = rules or TenantRules()
    problems: list[FieldError] = []
    cleaned: dict[str, Any] = {}
    legal_entity_id = None
    try:
        data, legal_entity_id = _legal_entity(data, rules)
    except InvalidInput as error:
        problems.extend(error.errors)
        data = {key: value for key, value in data.items() if key != LEGAL_ENTITY}
    try:
        cleaned = clean_customer(data, from_crm=origin_connection_id is not None)
    except InvalidInput as error:
        problems.extend(error.errors)
        bad = {problem.field.partition("[")[0] for problem in problems}  # a list's item: its list
        # The good fields still count (a valid email is not "missing" because the country
        # was wrong); normalizing them again cannot fail.
        cleaned = clean_customer(
            {key: value for key, value in data.items() if key not in bad},
            from_crm=origin_connection_id is not None,
        )
    bad = {problem.field for problem in problems}
    if "name" not in cleaned and "name" not in bad:
        problems.append(FieldError("name", "is required"))
    if not cleaned.get("email") and "email" not in bad and origin_connection_id is None:
        problems.append(FieldError("email", "is required"))
    if origin_connection_id is None and rules.require_billing_address:
        given = {**cleaned, **dict.fromkeys(bad, "(reported already)")}
        problems.extend(_billing_address_problems(missing_billing_address(given)))
    if legal_entity_id is not None:
        cleaned["legal_entity_id"] = legal_entity_id
    contact: dict[str, Any] | None = None
    if primary_contact is not None:
        region, wrong = cleaned.get("billing_country"), set[str]()
        try:
            contact = clean_contact(
                primary_contact, region, from_crm=origin_connection_id is not None
            )
        except InvalidInput as error:
            problems.extend(FieldError(f"contact.{e.field}", e.reason) for e in error.errors)
            wrong = {e.field.partition("[")[0] for e in error.errors}
            good = {key: value for key, value in primary_contact.items() if key not in wrong}
            contact = clean_contact(good, region, from_crm=origin_connection_id is not None)
        if not contact.get("first_name") and "first_name" not in wrong:
            problems.append(FieldError("contact.first_name", "is required"))
        roles = contact.get("roles", [])
        contact["roles"] = [PRIMARY_ROLE, *(role for role in roles if role != PRIMARY_ROLE)]
    if not {"category", "subcategory"} & bad:
        try:
            _category_provenance(cleaned, None, origin_connection_id)
        except InvalidInput as error:
            problems.extend(error.errors)
    tag_list: list[str] = []
    try:
        tag_list = normalize_tags(tags)
        if rules.definitions and cleaned.get("custom_properties"):
            cleaned["custom_properties"] = typed_values(
                rules.definitions, cleaned["custom_properties"]
            )
    except InvalidInput as error:
        problems.extend(error.errors)
    if problems:
        raise InvalidInput(problems)
    return NewCustomer(cleaned, contact, tags=tuple(tag_list))


def create_customers(
    session: Session,
    tenant_id: int,
    customers: Sequence[NewCustomer | Mapping[str, Any]],
    *,
    origin_connection_id: int | None = None,
) -> list[int]:
    """Add many customers (and their primary contacts) at once, keeping every rule of
    :func:`create_customer` — validation, required name and email, one live customer per
    email, an outbox row per customer and contact — with a few bulk writes
    (``customers.bulk``) instead of a round trip per row. All or nothing: a duplicate email raises ``DuplicateEmail`` and
    writes nothing. Returns the new customer ids, in order."""
    rules = (
        TenantRules.load(session, tenant_id)
        if any(not isinstance(item, NewCustomer) for item in customers)
        else TenantRules()
    )
    prepared = [
        item
        if isinstance(item, NewCustomer)
        else prepare_customer(item, origin_connection_id=origin_connection_id, rules=rules)
        for item in customers
    ]
    emails = [item.fields["email"] for item in prepared if item.fields.get("email")]
    guard_tenant(session, tenant_id)
    if len(set(emails)) != len(emails):
        repeated = next(email for email in emails if emails.count(email) > 1)
        raise DuplicateEmail(repeated, None)
    taken = taken_emails(session, tenant_id, emails)
    if taken:
        email = next(email for email in emails if email in taken)
        raise DuplicateEmail(email, taken[email])
    if not prepared:
        return []
    now = utcnow()
    common = {"tenant_id": tenant_id, "created_at": now, "updated_at": now, "version": 1}
    customer_table, contact_table = cast(Table, Customer.__table__), cast(Table, Contact.__table__)
    customer_defaults = {
        **common,
        "customer_type": CustomerType.BUSINESS.value,
        "status": CustomerStatus.ACTIVE.value,
        "custom_properties": {},
        **BILLING_DEFAULTS,
    }
    customer_defaults.update(invoice_recipients=[], invoice_cc=[])  # a row may set them
    matched = [match_values(item.fields) for item in prepared]
    try:
        with session.begin_nested():
            ids = insert_returning_ids(
                session,
                customer_table,
                table_rows(
                    customer_table,
                    # A bulk write passes by the ORM's hooks: the match columns here, and
                    # the name words once the ids are known.
                    [{**item.fields, **keys} for item, keys in zip(prepared, matched, strict=True)],
                    customer_defaults,
                ),
            )
            write_name_words(
                session,
                [
                    row
                    for customer_id, keys in zip(ids, matched, strict=True)
                    for row in name_word_rows(tenant_id, customer_id, keys["match_name"])
                ],
            )
            with_contact = [
                (ids[i], item) for i, item in enumerate(prepared) if item.primary_contact
            ]
            alias_rows = [
                {
                    "tenant_id": tenant_id,
                    "customer_id": ids[i],
                    "system": alias.system,
                    "reference": alias.reference,
                    "created_at": now,
                }
                for i, item in enumerate(prepared)
                for alias in item.aliases
            ]
            if alias_rows:
                insert_rows(session, cast(Table, CustomerReference.__table__), alias_rows)
            contact_ids: list[int] = []
            if with_contact:
                contact_defaults = {**common, "is_primary": True, "roles": [PRIMARY_ROLE]}
                contact_defaults["communications"] = []
                contact_ids = insert_returning_ids(
                    session,
                    contact_table,
                    table_rows(
                        contact_table,
                        [
                            {**(item.primary_contact or {}), "customer_id": customer_id}
                            for customer_id, item in with_contact
                        ],
                        contact_defaults,
                    ),
                )
            tag_rows = [
                {"tenant_id": tenant_id, "customer_id": customer_id, "tag": tag, "created_at": now}
                for customer_id, item in zip(ids, prepared, strict=True)
                for tag in item.tags
            ]
            if tag_rows:
                insert_rows(session, cast(Table, CustomerTag.__table__), tag_rows)
    except IntegrityError as error:
        if "email" in str(error.orig).lower():
            raise DuplicateEmail("an email of this batch", None) from None
        if "customer_references" in str(error.orig).lower():
            raise Refused(
                "an alias of this batch names another customer already; nothing was written"
            ) from None
        raise
    outbox = [
        {
            "tenant_id": tenant_id,
            "entity_type": "customer",
            "entity_id": customer_id,
            "operation": "create",
            "fields": sorted([*item.fields, *(["tags"] if item.tags else [])]),
            "origin_connection_id": origin_connection_id,
            "created_at": now,
        }
        for customer_id, item in zip(ids, prepared, strict=True)
    ] + [
        {
            "tenant_id": tenant_id,
            "entity_type": "contact",
            "entity_id": contact_id,
            "operation": "create",
            "fields": sorted(item.primary_contact or {}),
            "origin_connection_id": origin_connection_id,
            "created_at": now,
        }
        for contact_id, (_, item) in zip(contact_ids, with_contact, strict=True)
    ]
    insert_rows(session, cast(Table, OutboxEntry.__table__), outbox)
    return ids


def _check_version(customer: Customer, expected_version: int | None) -> None:
    if expected_version is not None and customer.version != expected_version:
        raise StaleVersion("customer", customer.id, expected_version, customer.version)


def _apply(
    session: Session,
    customer: Customer,
    values: Mapping[str, Any],
    *,
    expected_version: int | None,
    origin_connection_id: int | None,
    tags: tuple[Sequence[str], Sequence[str]] | None = None,
) -> list[str]:
    """Set the values that differ (and add and remove ``tags``: (added, removed)), bump
    the version and write the outbox row. Returns the changed field names (empty: nothing
    was written)."""
    _check_version(customer, expected_version)
    changed = [field for field, value in values.items() if getattr(customer, field) != value]
    if tags is not None and changed_tags(customer, *tags):
        changed.append("tags")
    if not changed:
        return []
    key, email = customer.id, values.get("email", customer.email)
    with guarded(session, "customer", key, email=email, expected_version=expected_version):
        for field in changed:
            if field in values:
                setattr(customer, field, values[field])
        customer.updated_at = utcnow()
    write_outbox(
        session,
        tenant_id=customer.tenant_id,
        entity_type="customer",
        entity_id=customer.id,
        operation="update",
        fields=changed,
        origin_connection_id=origin_connection_id,
    )
    return changed


def _live(customer: Customer) -> Customer:
    if customer.deleted_at is not None:
        raise Refused(f"customer {customer.id} is deleted; it is kept for history only")
    return customer


def update_customer(
    session: Session,
    tenant_id: int,
    customer_id: int,
    changes: Mapping[str, Any],
    *,
    custom: CustomChanges | None = None,
    add_tags: Sequence[str] = (),
    remove_tags: Sequence[str] = (),
    expected_version: int | None = None,
    origin_connection_id: int | None = None,
) -> Customer:
    """Change some fields. ``expected_version`` guards against overwriting a change made
    since the caller read the record.

    ``custom`` sets and removes single custom properties and keeps the others; a
    ``custom_properties`` in ``changes`` replaces the whole object instead, so the two
    cannot be given together. Values of keys the tenant has defined are checked against
    their definitions. ``add_tags`` / ``remove_tags`` change single tags (see
    ``customers.tags``). A ``legal_entity`` is given by its code (blank: none). Where the
    tenant requires a billing address, a change by hand may not blank part of it."""
    rules = TenantRules.load(
        session,
        tenant_id,
        definitions=bool(custom) or "custom_properties" in changes,
        legal_entities=LEGAL_ENTITY in changes,
        billing_address=origin_connection_id is None,
    )
    columns, legal_entity_id = _legal_entity(changes, rules)
    cleaned = clean_customer(columns, from_crm=origin_connection_id is not None)
    customer = _live(get_customer(session, tenant_id, customer_id))
    if LEGAL_ENTITY in changes:
        cleaned["legal_entity_id"] = legal_entity_id
    if origin_connection_id is None and rules.require_billing_address:
        blanked = [part for part in missing_billing_address(cleaned) if part in cleaned]
        if blanked:
            raise InvalidInput(_billing_address_problems(blanked))
    if custom:
        if "custom_properties" in cleaned:
            raise InvalidInput.single(
                "custom_properties", "give either the whole object or changes of keys"
            )
        cleaned["custom_properties"] = custom.apply(customer.custom_properties)
    if cleaned.get("custom_properties"):
        cleaned["custom_properties"] = typed_values(
            rules.definitions,
            cleaned["custom_properties"],
            list(custom.set) if custom else (),
        )
    if "email" in cleaned:
        if not cleaned["email"] and origin_connection_id is None:
            raise InvalidInput.single("email", "is required")
        if cleaned["email"]:
            _check_email_free(session, tenant_id, cleaned["email"], customer.id)
    if "website" in cleaned and "domain" not in changes and cleaned["website"] is None:
        cleaned["domain"] = None
    _category_provenance(cleaned, customer, origin_connection_id)
    _apply(
        session,
        customer,
        cleaned,
        expected_version=expected_version,
        origin_connection_id=origin_connection_id,
        tags=(add_tags, remove_tags) if add_tags or remove_tags else None,
    )
    if "legal_entity_id" in cleaned:
        session.expire(customer, ["legal_entity"])  # loaded for the old id
    return customer


def _set_state(
    session: Session,
    tenant_id: int,
    customer_id: int,
    values: Mapping[str, Any],
    expected_version: int | None,
    origin_connection_id: int | None = None,
) -> Customer:
    customer = _live(get_customer(session, tenant_id, customer_id))
    _apply(
        session,
        customer,
        values,
        expected_version=expected_version,
        origin_connection_id=origin_connection_id,
    )
    return customer


def archive_customer(
    session: Session,
    tenant_id: int,
    customer_id: int,
    *,
    expected_version: int | None = None,
    origin_connection_id: int | None = None,
) -> Customer:
    """Drop out of active lists; stays reachable by id, email and search."""
    customer = _live(get_customer(session, tenant_id, customer_id))
    if customer.archived_at is not None:
        return customer
    return _set_state(
        session,
        tenant_id,
        customer_id,
        {"archived_at": utcnow()},
        expected_version,
        origin_connection_id,
    )


def set_archived(
    session: Session,
    tenant_id: int,
    customer_id: int,
    *,
    archived: bool,
    origin_connection_id: int | None = None,
) -> Customer:
    """Archive, or bring back into active lists, keeping the status (a CRM's archived
    flag moves this and nothing else)."""
    customer = _live(get_customer(session, tenant_id, customer_id))
    if archived == (customer.archived_at is not None):
        return customer
    values = {"archived_at": utcnow() if archived else None}
    return _set_state(session, tenant_id, customer_id, values, None, origin_connection_id)


def reactivate_customer(
    session: Session, tenant_id: int, customer_id: int, *, expected_version: int | None = None
) -> Customer:
    """Back into active lists with status active (this also lifts a block)."""
    return _set_state(
        session,
        tenant_id,
        customer_id,
        {"archived_at": None, "status": CustomerStatus.ACTIVE.value},
        expected_version,
    )


def block_customer(
    session: Session, tenant_id: int, customer_id: int, *, expected_version: int | None = None
) -> Customer:
    """Do not invoice: the customer stays listed but ``can_be_invoiced`` is false."""
    return _set_state(
        session, tenant_id, customer_id, {"status": CustomerStatus.BLOCKED.value}, expected_version
    )


def references_of(session: Session, customer_id: int) -> list[str]:
    """What points at this customer, as readable strings (empty: nothing does)."""
    references = [
        f"{ref.system}:{ref.reference}"
        for ref in session.scalars(
            select(CustomerReference).where(CustomerReference.customer_id == customer_id)
        )
    ]
    links = session.scalar(
        select(func.count())
        .select_from(ExternalLink)
        .where(ExternalLink.local_type == "customer", ExternalLink.local_id == customer_id)
    )
    if links:
        # A link remembers that a CRM record is this business: purged, the next change of
        # that record would make it a customer again. A CRM delete or merge unlinks it.
        references.append(
            f"{links} CRM link(s) (delete or merge the CRM record first; the sync unlinks it)"
        )
    return references


def add_reference(
    session: Session, tenant_id: int, customer_id: int, *, system: str, reference: str
) -> CustomerReference:
    """Record that something outside the directory (an invoice, say) points at a customer:
    an alias of it (``customers.aliases.add_alias``)."""
    return add_alias(session, tenant_id, customer_id, system=system, reference=reference)


def delete_customer(
    session: Session,
    tenant_id: int,
    customer_id: int,
    *,
    expected_version: int | None = None,
    origin_connection_id: int | None = None,
) -> Customer:
    """Soft delete: the row stays for history, drops out of every list, and its email is
    free for a new customer. Contacts stay attached."""
    customer = get_customer(session, tenant_id, customer_id)
    if customer.deleted_at is not None:
        return customer
    _check_version(customer, expected_version)
    with guarded(session, "customer", customer_id, expected_version=expected_version):
        customer.deleted_at = utcnow()
        customer.updated_at = customer.deleted_at
    write_outbox(
        session,
        tenant_id=tenant_id,
        entity_type="customer",
        entity_id=customer.id,
        operation="delete",
        fields=["deleted_at"],
        origin_connection_id=origin_connection_id,
    )
    return customer


def purge_customer(session: Session, tenant_id: int, customer_id: int) -> None:
    """Remove the row and its contacts for good; refused while anything references it."""
    customer = get_customer(session, tenant_id, customer_id)
    references = references_of(session, customer_id)
    if references:
        raise Refused(
            f"customer {customer_id} is referenced by {', '.join(references)}; "
            "it can only be soft-deleted"
        )
    for contact in list(customer.contacts):
        session.delete(contact)
    session.delete(customer)
    session.flush()
    write_outbox(
        session,
        tenant_id=tenant_id,
        entity_type="customer",
        entity_id=customer_id,
        operation="purge",
    )


def list_customers(
    session: Session,
    tenant_id: int,
    *,
    include_archived: bool = False,
    include_inactive: bool = True,
    status: str | None = None,
    tags: Sequence[str] = (),
    incomplete: bool = False,
    limit: int = DEFAULT_PAGE_SIZE,
    offset: int = 0,
) -> tuple[Sequence[Customer], int]:
    """A page of live customers by name, and how many there are in all. ``tags``: only
    customers that have every one of them; ``incomplete``: only those missing an email or
    part of a billing address (``Customer.missing_fields``)."""
    query = select(Customer).where(Customer.tenant_id == tenant_id, Customer.deleted_at.is_(None))
    if incomplete:
        query = query.where(Customer.incomplete)
    if tags:
        query = having_tags(query, tenant_id, tags)
    if not include_archived:
        query = query.where(Customer.archived_at.is_(None))
    if status is not None:
        query = query.where(Customer.status == status)
    elif not include_inactive:
        query = query.where(Customer.status != CustomerStatus.INACTIVE.value)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Customer.name, Customer.id).limit(limit).offset(offset))
    return rows.all(), total
