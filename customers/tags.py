"""Tags: a set of short labels on a customer, added and removed one at a time.

A tag is stored trimmed, with inner blanks collapsed and case-folded ("VIP " and "vip" are
one tag), at most :data:`MAX_TAG_LENGTH` characters, without commas, semicolons (the CSV
column separates tags with them) or control characters. A customer has at most
:data:`MAX_TAGS` tags. Each tag is one ``customer_tags`` row, unique per customer, so a
list by tag is an index lookup.

A change of tags is a change of the customer: it bumps the version and writes an outbox
row naming the field ``tags``, in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Select, select

from customers.errors import FieldError, InvalidInput
from customers.models import Customer, CustomerTag

FIELD = "tags"
MAX_TAG_LENGTH = 50
MAX_TAGS = 50
FORBIDDEN = frozenset(",;")


def normalize_tag(value: Any) -> str:
    """The tag as stored; ``ValueError`` saying why it is not one."""
    text = " ".join(str(value).split()).casefold()
    if not text:
        raise ValueError("a tag must not be blank")
    if len(text) > MAX_TAG_LENGTH:
        raise ValueError(
            f"{text[:20]!r}... is {len(text)} characters long; the limit is {MAX_TAG_LENGTH}"
        )
    if any(ch in FORBIDDEN or not ch.isprintable() for ch in text):
        raise ValueError(f"{text!r} holds a comma, semicolon or control character")
    return text


def normalize_tags(values: Iterable[Any] | None) -> list[str]:
    """Distinct tags in the order given; ``InvalidInput`` naming the field ``tags``."""
    tags: list[str] = []
    problems = []
    for value in values or ():
        try:
            tag = normalize_tag(value)
        except ValueError as error:
            problems.append(FieldError(FIELD, str(error)))
            continue
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        problems.append(FieldError(FIELD, f"{len(tags)} tags; the limit is {MAX_TAGS}"))
    if problems:
        raise InvalidInput(problems)
    return tags


def split_tags(cell: str) -> list[str]:
    """The tags of a CSV cell: separated by semicolons (or commas), blanks ignored."""
    return [part for part in cell.replace(",", ";").split(";") if part.strip()]


def changed_tags(customer: Customer, add: Iterable[Any], remove: Iterable[Any]) -> bool:
    """Add and remove tags on a loaded customer (adds first, then removals). Adding a tag
    it has is no change; removing one it does not have is an error naming the tag. Returns
    whether anything changed; raises ``InvalidInput`` before changing anything."""
    adding, removing = normalize_tags(add), normalize_tags(remove)
    current = set(customer.tags)
    problems = [
        FieldError(FIELD, f"{tag!r} is both added and removed; choose one")
        for tag in adding
        if tag in removing
    ]
    problems += [
        FieldError(FIELD, f"the customer has no tag {tag!r}")
        for tag in removing
        if tag not in current and tag not in adding
    ]
    final = (current | set(adding)) - set(removing)
    if len(final) > MAX_TAGS and len(final) > len(current):
        problems.append(FieldError(FIELD, f"would have {len(final)} tags; the limit is {MAX_TAGS}"))
    if problems:
        raise InvalidInput(problems)
    if final == current:
        return False
    customer.tag_rows[:] = [row for row in customer.tag_rows if row.tag in final]
    for tag in sorted(final - current):
        customer.tag_rows.append(CustomerTag(tenant_id=customer.tenant_id, tag=tag))
    return True


def having_tags(query: Select[Any], tenant_id: int, tags: Iterable[Any]) -> Select[Any]:
    """``query`` (over ``Customer``) narrowed to customers that have every one of ``tags``."""
    for tag in normalize_tags(tags):
        query = query.where(
            Customer.id.in_(
                select(CustomerTag.customer_id).where(
                    CustomerTag.tenant_id == tenant_id, CustomerTag.tag == tag
                )
            )
        )
    return query
