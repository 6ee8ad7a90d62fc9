"""Finding a customer that a new record (from a CRM, an import, a person) duplicates.

Exact keys make a *sure* match: the same tax id (spacing and punctuation ignored), the same
email, or the same company domain (its registrable part: ``shop.acme.co.uk`` is
``acme.co.uk``; free-mail domains never count). A similar name makes a *likely* match
only: likely matches are held for a person to decide, never linked automatically, because
two businesses can share a name and one business can have two. The keys themselves are
made in ``customers.match_keys``.

A :class:`DuplicateIndex` made by :meth:`DuplicateIndex.load` asks the database: every
customer row carries its keys in indexed match columns (``customers.match_columns``), so
nothing of the directory is held in memory beyond the answers of one batch. A batch says
which records it will check (:meth:`DuplicateIndex.prefetch`) and their keys are read with
one query per kind of key (two for names: how many customers share each word, then the
customers of the words shared by few enough). It sees the customers that existed when it
was loaded; what a batch creates is added to it (:meth:`DuplicateIndex.add`), or to an
overlay of its own (:meth:`DuplicateIndex.over`), and is found by the rest of the batch
from memory. Names are blocked by their significant tokens, so a check compares against
the few customers that share a word with it, not against all of them; rapidfuzz scores
those.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process
from sqlalchemy import select
from sqlalchemy.orm import Session

from customers import duplicate_queries
from customers.errors import SureDuplicate
from customers.fields import normalize_tax_id
from customers.match_columns import match_values
from customers.match_keys import company_domain, name_key
from customers.models import Customer

__all__ = [
    "LIKELY_SCORE",
    "Candidate",
    "DuplicateCheck",
    "DuplicateIndex",
    "Keys",
    "company_domain",
    "duplicates_made",
    "find_duplicates",
    "name_key",
    "refusal",
]

LIKELY_SCORE = 85.0
MAX_BLOCK = 2_000  # a token shared by more customers than this says nothing about identity
_DIGIT = re.compile(r"\d")
_NO_NUMBERS: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Candidate:
    customer_id: int
    score: float
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class DuplicateCheck:
    sure: Candidate | None = None
    likely: tuple[Candidate, ...] = ()

    @property
    def found(self) -> bool:
        return self.sure is not None or bool(self.likely)


@dataclass(slots=True)
class _Entry:
    customer_id: int
    key: str
    numbers: frozenset[str]  # of the key, worked out once: every check compares them

    @classmethod
    def of(cls, customer_id: int, key: str) -> _Entry:
        return cls(customer_id, key, _numbers(key))


@dataclass
class _Group:
    """Entries with the same numbers in their keys, with the keys side by side: rapidfuzz
    scores them as one list, and a hit's index names its entry."""

    entries: list[_Entry] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    _ordered: list[str] | None = None  # the keys' words sorted, once something is scored

    def append(self, entry: _Entry) -> None:
        self.entries.append(entry)
        self.keys.append(entry.key)
        if self._ordered is not None:
            self._ordered.append(_ordered(entry.key))

    @property
    def ordered(self) -> list[str]:
        if self._ordered is None:
            self._ordered = [_ordered(key) for key in self.keys]
        return self._ordered


@dataclass
class _Names:
    """Name entries sharing a word, grouped by the numbers in their keys: a name is only
    compared with those of the same numbers ("Store 12" and "Store 14" are different
    businesses), so the others cost nothing at a check."""

    groups: dict[frozenset[str], _Group] = field(default_factory=dict)
    size: int = 0

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[_Entry]:
        for group in self.groups.values():
            yield from group.entries

    def append(self, entry: _Entry) -> None:
        group = self.groups.get(entry.numbers)
        if group is None:
            group = self.groups[entry.numbers] = _Group()
        group.append(entry)
        self.size += 1

    def drop(self, customer_id: int) -> None:
        for numbers, group in list(self.groups.items()):
            if any(entry.customer_id == customer_id for entry in group.entries):
                kept = _Group()
                for entry in group.entries:
                    if entry.customer_id != customer_id:
                        kept.append(entry)
                self.size -= len(group.entries) - len(kept.entries)
                self.groups[numbers] = kept


@dataclass
class _Block:
    """The customers in the database sharing a word: how many (``MAX_BLOCK + 1`` meaning
    more than ``MAX_BLOCK``), and (unless more) those whose name key is between
    ``shortest`` and ``longest`` characters long."""

    count: int
    shortest: int
    longest: int
    names: _Names

    def covers(self, window: tuple[int, int]) -> bool:
        return self.shortest <= window[0] and window[1] <= self.longest


@dataclass
class _Directory:
    """The customers of a tenant in the database, as a batch's checks ask for them: the
    answers are kept for the batch, so each key is read once."""

    session: Session
    tenant_id: int
    up_to: int  # the newest customer id when the batch began
    exact: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    blocks: dict[str, _Block] = field(default_factory=dict)
    # One entry per customer and name key, however many of its words were read.
    entries: dict[tuple[int, str], _Entry] = field(default_factory=dict)

    def ids(self, column: str, value: str) -> list[int]:
        if (column, value) not in self.exact:
            self.read_exact(column, [value])
        return self.exact[(column, value)]

    def block(self, token: str, window: tuple[int, int]) -> _Block:
        self.read_names({token: window})
        return self.blocks[token]

    def read_exact(self, column: str, values: Iterable[str]) -> None:
        wanted = sorted({v for v in values if (column, v) not in self.exact})
        if not wanted:
            return
        found = duplicate_queries.ids_by_key(
            self.session, self.tenant_id, self.up_to, column, wanted
        )
        for value in wanted:
            self.exact[(column, value)] = found.get(value, [])

    def read_names(self, windows: dict[str, tuple[int, int]]) -> None:
        """Read the words whose answer is not known for these lengths (an answer known for
        other lengths is read again, for both)."""
        wanted: dict[str, tuple[int, int]] = {}
        for token, (shortest, longest) in windows.items():
            known = self.blocks.get(token)
            if known is not None:
                if known.covers((shortest, longest)):
                    continue
                shortest, longest = min(shortest, known.shortest), max(longest, known.longest)
            wanted[token] = (shortest, longest)
        if not wanted:
            return
        found = duplicate_queries.names_by_word(
            self.session, self.tenant_id, self.up_to, wanted, MAX_BLOCK
        )
        for token, shared in found.items():
            names = _Names()
            for customer_id, key in shared.named:
                names.append(self.entry(customer_id, key))
            self.blocks[token] = _Block(shared.count, *wanted[token], names)

    def entry(self, customer_id: int, key: str) -> _Entry:
        entry = self.entries.get((customer_id, key))
        if entry is None:
            entry = self.entries[(customer_id, key)] = _Entry.of(customer_id, key)
        return entry


def _window(key: str) -> tuple[int, int]:
    """The lengths a name key can have and still score ``LIKELY_SCORE`` against ``key``.

    Both scores compare strings of the keys' own lengths (``token_sort_ratio`` joins the
    sorted words with single spaces, as the key has them), and neither can exceed
    ``200 * shorter / (shorter + longer)``; one character of slack each way for rounding."""
    length = len(key)
    score = LIKELY_SCORE
    shortest = math.ceil(score * length / (200 - score)) - 1
    longest = math.floor((200 - score) * length / score) + 1
    return max(shortest, 0), longest


# The match column each exact key is read from, and the table of an index that holds it.
_EXACT_KEYS = (
    ("same tax id", "by_tax_id", "match_tax_id"),
    ("same email", "by_email", "match_email"),
    ("same domain", "by_domain", "match_domain"),
)


@dataclass
class DuplicateIndex:
    """What identifies each live customer of a tenant, for a batch: read from the database
    when loaded, plus what was added in memory."""

    by_tax_id: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    by_email: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    by_domain: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    by_token: dict[str, _Names] = field(default_factory=lambda: defaultdict(_Names))
    # An index over another: it finds what either holds, and adds to itself only, so a
    # batch can index what it created without touching a shared index until it commits.
    under: DuplicateIndex | None = None
    added: list[tuple[int, dict[str, str | None]]] = field(default_factory=list)
    # What each customer was indexed under: (tax id, email, domain, name key).
    keys: dict[int, tuple[str | None, str | None, str | None, str | None]] = field(
        default_factory=dict
    )
    # The database under the whole index (of the lowest layer), if it was loaded.
    directory: _Directory | None = None

    def discard(self, customer_id: int) -> None:
        """Forget a customer (changed or gone), so it can be added again as it is now."""
        keys = self.keys.pop(customer_id, None)
        if keys is None:
            return
        tax, email, domain, name = keys
        for table, value in (
            (self.by_tax_id, tax),
            (self.by_email, email),
            (self.by_domain, domain),
        ):
            if value and value in table:
                table[value].discard(customer_id)
        for token in set(name.split()) if name else ():
            names = self.by_token.get(token)
            if names is not None:
                names.drop(customer_id)

    def over(self) -> DuplicateIndex:
        """A new, empty index layered over this one."""
        return DuplicateIndex(under=self)

    def layers(self) -> list[DuplicateIndex]:
        return [self] if self.under is None else [self, *self.under.layers()]

    def add_all_from(self, overlay: DuplicateIndex) -> None:
        """Take in what was added to ``overlay`` (e.g. once its batch committed)."""
        for customer_id, values in overlay.added:
            self.add(customer_id, **values)

    @classmethod
    def load(cls, session: Session, tenant_id: int) -> DuplicateIndex:
        """The tenant's live customers as they are in the database (nothing is read until a
        check or :meth:`prefetch` asks). Customers created after this call are not seen:
        a batch adds what it creates."""
        up_to = duplicate_queries.newest_id(session)
        return cls(directory=_Directory(session, tenant_id, up_to))

    def use(self, session: Session) -> None:
        """Ask the database through ``session`` from now on (for an index kept across
        transactions, each with a session of its own)."""
        directory = self.layers()[-1].directory
        if directory is not None:
            directory.session = session

    def prefetch(self, records: Sequence[Keys]) -> None:
        """Read what checking these records will ask the database, one query per kind of
        key (call it with a page of records before checking them one by one)."""
        directory = self.layers()[-1].directory
        if directory is None or not records:
            return
        keys = [match_values(vars(record)) for record in records]
        for _reason, _table, column in _EXACT_KEYS:
            directory.read_exact(column, [value for k in keys if (value := k[column])])
        names = [name for k in keys if (name := k["match_name"])]
        # A numbered name's words first: its numbers' blocks hold all its likely matches.
        directory.read_names(_windows(names, numbered=True))
        # The rest of the words of a name whose every number is too common to block on.
        crowded = [
            name
            for name in names
            if (numbers := _numbers(name))
            and all(directory.blocks[number].count > MAX_BLOCK for number in numbers)
        ]
        directory.read_names(_windows(crowded, numbered=False))

    def add(
        self,
        customer_id: int,
        *,
        name: str | None,
        email: str | None = None,
        domain: str | None = None,
        tax_id: str | None = None,
    ) -> None:
        """Make a customer findable (also one created moments ago in the same batch)."""
        if self.under is not None:
            self.added.append(
                (customer_id, {"name": name, "email": email, "domain": domain, "tax_id": tax_id})
            )
        self.discard(customer_id)
        tax, lowered, company = (
            normalize_tax_id(tax_id),
            email.lower() if email else None,
            company_domain(domain, email),
        )
        key = name_key(name) if name else None
        self.keys[customer_id] = (tax, lowered, company, key)
        if tax:
            self.by_tax_id[tax].add(customer_id)
        if lowered:
            self.by_email[lowered].add(customer_id)
        if company:
            self.by_domain[company].add(customer_id)
        if key:
            entry = _Entry.of(customer_id, key)
            for token in set(key.split()):
                self.by_token[token].append(entry)

    def check(
        self,
        *,
        name: str | None,
        email: str | None = None,
        domain: str | None = None,
        tax_id: str | None = None,
        exclude: Iterable[int] = (),
    ) -> DuplicateCheck:
        """Sure and likely duplicates of a record with these values."""
        excluded = set(exclude)
        exact: dict[int, list[str]] = defaultdict(list)
        values = (
            normalize_tax_id(tax_id),
            email.lower() if email else None,
            # A record with no domain of its own is known by its email's (never free mail).
            company_domain(domain, email),
        )
        for (reason, table, column), value in zip(_EXACT_KEYS, values, strict=True):
            for layer in self.layers() if value else ():
                found = list(getattr(layer, table).get(value, ()))
                if layer.directory is not None and value:
                    found += layer.directory.ids(column, value)
                for customer_id in found:
                    if customer_id not in excluded and reason not in exact[customer_id]:
                        exact[customer_id].append(reason)
        fuzzy = self._similar_names(name, excluded) if name else {}
        candidates = {
            customer_id: Candidate(
                customer_id,
                100.0 if customer_id in exact else fuzzy[customer_id],
                tuple(exact.get(customer_id, []))
                + ((f"similar name ({fuzzy[customer_id]:.0f})",) if customer_id in fuzzy else ()),
            )
            for customer_id in set(exact) | set(fuzzy)
        }
        ranked = sorted(
            candidates.values(), key=lambda c: (-c.score, -len(c.reasons), c.customer_id)
        )
        sure_ids = list(exact)
        # Exactly one customer matched on an exact key: that is the same business. Several
        # (say, two customers with the same domain) is for a person to sort out.
        sure = candidates[sure_ids[0]] if len(sure_ids) == 1 else None
        likely = tuple(c for c in ranked if sure is None or c.customer_id != sure.customer_id)
        return DuplicateCheck(sure, likely)

    def _similar_names(self, name: str, excluded: set[int]) -> dict[int, float]:
        key = name_key(name)
        numbers = _numbers(key)
        window = _window(key)
        found: dict[int, float] = {}
        for block in self._blocks(key, numbers, window):
            held: set[int] | None = None  # the customers in memory: fresher than stored
            for names, stored in block:
                group = names.groups.get(numbers)
                if group is None:
                    continue
                for index, score in _likely(key, group).items():
                    customer_id = group.entries[index].customer_id
                    if customer_id in excluded or customer_id in found:
                        continue
                    if stored:
                        if held is None:
                            held = {e.customer_id for n, s in block if not s for e in n}
                        if customer_id in held:
                            continue
                    found[customer_id] = round(score, 1)
        return found

    def _blocks(
        self, key: str, numbers: frozenset[str], window: tuple[int, int]
    ) -> list[list[tuple[_Names, bool]]]:
        """The blocks a name's likely matches are in: of its words that are shared by no
        more than ``MAX_BLOCK``. A likely match has the name's numbers, so for a numbered
        name the block of one of its numbers holds them all."""
        for number in sorted(numbers):
            block = self._block(number, window)
            if block is not None:
                return [block]
        return [block for token in set(key.split()) if (block := self._block(token, window))]

    def _block(self, token: str, window: tuple[int, int]) -> list[tuple[_Names, bool]] | None:
        """The customers with ``token`` in their name key, in every layer (from the database
        only those with a name key in ``window``), each layer's with whether it is stored;
        None when more than ``MAX_BLOCK``. A customer both in memory and stored (changed
        since the batch began) counts once, as it is in memory."""
        block: list[tuple[_Names, bool]] = []
        count = 0
        for layer in self.layers():
            names = layer.by_token.get(token)
            if names:
                block.append((names, False))
                count += len(names)
            if layer.directory is not None:
                stored = layer.directory.block(token, window)
                count += stored.count
                if count > MAX_BLOCK:
                    # Only now does it matter which of them are held in memory too.
                    held = {entry.customer_id for n, _ in block for entry in n}
                    count -= sum(1 for entry in stored.names if entry.customer_id in held)
                block.append((stored.names, True))
        return None if count > MAX_BLOCK else block


def _windows(keys: Iterable[str], *, numbered: bool) -> dict[str, tuple[int, int]]:
    """For each word of these name keys, the lengths of the keys it can match (see
    :func:`_window`); with ``numbered``, only the numbers of a key that has some."""
    windows: dict[str, tuple[int, int]] = {}
    for key in keys:
        shortest, longest = _window(key)
        numbers = _numbers(key) if numbered else None
        for token in numbers or key.split():
            known = windows.get(token, (shortest, longest))
            windows[token] = (min(known[0], shortest), max(known[1], longest))
    return windows


def _likely(key: str, group: _Group) -> dict[int, float]:
    """The indexes of ``group`` whose key scores at least ``LIKELY_SCORE`` against ``key``
    by either scorer, with the better score. rapidfuzz scores the whole list in C++;
    ``token_sort_ratio`` is ``ratio`` of the keys with their words sorted, and the group's
    are sorted once, not at every check."""
    best: dict[int, float] = {}
    for query, choices in ((key, group.keys), (_ordered(key), group.ordered)):
        for _choice, score, index in process.extract(
            query, choices, scorer=fuzz.ratio, score_cutoff=LIKELY_SCORE, limit=None
        ):
            if score > best.get(index, 0.0):
                best[index] = score
    return best


def _ordered(key: str) -> str:
    return " ".join(sorted(key.split()))


def _numbers(key: str) -> frozenset[str]:
    """The words of a name key that hold a digit (keys are ASCII: ``name_key``)."""
    if not _DIGIT.search(key):
        return _NO_NUMBERS
    return frozenset(word for word in key.split() if _DIGIT.search(word))


@dataclass(frozen=True)
class Keys:
    """The values of a customer that duplicates are found by."""

    name: str | None
    email: str | None = None
    domain: str | None = None
    tax_id: str | None = None

    @classmethod
    def of(cls, customer: Customer) -> Keys:
        return cls(customer.name, customer.email, customer.domain, customer.tax_id)


def duplicates_made(
    session: Session, tenant_id: int, customer: Customer, *, before: Keys | None = None
) -> DuplicateCheck:
    """The duplicates of ``customer`` as the session now has it (itself excluded), for a
    person adding or changing one. Call it after the write, in the same transaction: it
    sees the values as the directory cleaned them (a domain taken from the website), a
    new customer checks under the tenant's creation guard that ``create_customer`` took,
    and a refusal rolls the write back. With ``before`` (its keys before a change), only
    the duplicates the change made: one it already had was known and let be."""
    now = Keys.of(customer)
    if before == now:
        return DuplicateCheck()
    index = DuplicateIndex.load(session, tenant_id)
    found = index.check(**vars(now), exclude=[customer.id])
    if before is None:
        return found
    known = index.check(**vars(before), exclude=[customer.id])
    known_ids = {c.customer_id for c in (known.sure, *known.likely) if c is not None}
    sure = found.sure if found.sure and found.sure.customer_id not in known_ids else None
    likely = tuple(c for c in found.likely if c.customer_id not in known_ids)
    return DuplicateCheck(sure, likely)


def refusal(session: Session, candidate: Candidate) -> SureDuplicate:
    """The error that refuses a sure duplicate, naming the customer it duplicates."""
    name = session.scalar(select(Customer.name).where(Customer.id == candidate.customer_id))
    return SureDuplicate(candidate.customer_id, name or "", candidate.reasons)


def find_duplicates(
    session: Session,
    tenant_id: int,
    *,
    name: str | None,
    email: str | None = None,
    domain: str | None = None,
    tax_id: str | None = None,
    exclude: Iterable[int] = (),
) -> DuplicateCheck:
    """One check against the database (for a person adding one customer); batches should
    build a :class:`DuplicateIndex` once and call :meth:`DuplicateIndex.check`."""
    index = DuplicateIndex.load(session, tenant_id)
    return index.check(name=name, email=email, domain=domain, tax_id=tax_id, exclude=exclude)
