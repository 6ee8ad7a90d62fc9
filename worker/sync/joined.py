"""A scan's small pages joined into pages worth a transaction each.

Applying a page has a cost of its own, whatever its size: the connection's lock, the
tenant's creation guard, its links and duplicate candidates read, a bulk write per table,
the cursor saved, the commit. HubSpot hands out 100 records a page, Salesforce's REST
queries 2,000: applied one by one, HubSpot's pages paid that cost twenty times as often
per record. :func:`joined` gathers consecutive pages until they hold ``records`` records
(or the scan ends) and hands them out as one page: their records in order, the last one's
cursor and ``done``. Applying it is applying each page in turn and saving the last cursor,
so a pass stopped between two joined pages resumes from the same place as before, having
re-read at most one joined page.

A scan that raises (a connector error, ``BudgetExhausted``) after some pages were read
first hands out what it read, then raises: what was read is applied and its cursor saved,
as it was page by page, so a budget too small for a whole joined page still moves on.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from connectors.base import Page

# What one transaction applies: HubSpot's pages ten at a time, a Salesforce REST batch
# (2,000) as it comes. More would hold the connection's lock and the tenant's creation
# guard longer for little more.
APPLY_RECORDS = 1_000


def joined(pages: Iterable[Page], records: int | None = None) -> Iterator[Page]:
    """Consecutive pages of ``pages`` joined until they hold at least ``records`` records
    (default :data:`APPLY_RECORDS`), in order; the last one may hold fewer."""
    records = APPLY_RECORDS if records is None else records
    if records < 1:
        raise ValueError(f"records must be at least 1, got {records}")
    held: list[Page] = []
    count = 0
    source = iter(pages)
    while True:
        try:
            page = next(source)
        except StopIteration:
            break
        except Exception:
            if held:
                yield _join(held)
            raise
        held.append(page)
        count += len(page.records)
        if count >= records or page.done:
            yield _join(held)
            held, count = [], 0
    if held:
        yield _join(held)


def _join(pages: list[Page]) -> Page:
    if len(pages) == 1:
        return pages[0]
    return Page(
        [record for page in pages for record in page.records],
        cursor=pages[-1].cursor,
        done=pages[-1].done,
    )
