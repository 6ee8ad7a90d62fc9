"""Duplicate detection: exact keys are sure, similar names only likely."""

from __future__ import annotations

from collections import Counter
from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz import fuzz
from sqlalchemy.orm import Session, sessionmaker

from customers import db, duplicates, service
from customers.duplicates import LIKELY_SCORE, DuplicateIndex, find_duplicates, name_key


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("ACME Corp.", "Acme Corporation"),
        ("O'Brien & Co", "OBrien and Company"),
        ("Łódź Foods Sp. z o.o.", "Lodz Foods"),
    ],
)
def test_legal_forms_case_and_accents_do_not_matter(left: str, right: str) -> None:
    assert name_key(left) == name_key(right)


def test_a_cyrillic_name_is_likely_the_same_as_its_latin_spelling() -> None:
    built = DuplicateIndex()
    built.add(1, name="Gazprom Neft PJSC")
    built.add(2, name="ООО «Северсталь»")
    assert [c.customer_id for c in built.check(name="ПАО «Газпром нефть»").likely] == [1]
    assert [c.customer_id for c in built.check(name="Severstal LLC").likely] == [2]


def index() -> DuplicateIndex:
    built = DuplicateIndex()
    built.add(
        1, name="Acme Corporation", email="ap@acme.com", domain="acme.com", tax_id="DE 123 456 789"
    )
    built.add(2, name="Acme Anvils", domain="acme-anvils.com")
    built.add(3, name="Globex GmbH", email="globex@gmail.com")
    built.add(4, name="Initech Ltd", domain="initech.io")
    built.add(5, name="Initech Holdings", domain="initech.io")
    return built


def test_same_tax_id_with_different_spacing_is_sure() -> None:
    check = index().check(name="Something Else", tax_id="de-123.456.789")
    assert check.sure is not None and check.sure.customer_id == 1
    assert check.sure.reasons == ("same tax id",)


def test_similar_name_is_only_likely() -> None:
    check = index().check(name="ACME Corp.")
    assert check.sure is None
    assert [c.customer_id for c in check.likely] == [1]
    assert check.likely[0].reasons[0].startswith("similar name")


def test_unrelated_names_do_not_match() -> None:
    for name in ("Umbrella Pharma", "Acme Anvil Works International", "Globe Exports"):
        assert not index().check(name=name).found, name


def test_names_that_differ_in_a_number_are_different_businesses() -> None:
    built = DuplicateIndex()
    built.add(1, name="Hooli Farms 1000")
    assert not built.check(name="Hooli Farms 2000").found
    assert built.check(name="HOOLI FARMS 1000 LLC").likely[0].customer_id == 1


def test_free_mail_domains_never_identify_a_business() -> None:
    check = index().check(name="Someone", email="other@gmail.com")
    assert not check.found
    built = DuplicateIndex()
    built.add(1, name="Hans Meier", email="hans@gmx.at")
    built.add(2, name="Marie Dupont", email="marie@yahoo.fr", domain="yahoo.fr")
    for address in ("anna@gmx.at", "other@yahoo.fr", "x@outlook.de"):
        assert not built.check(name="Someone Else", email=address).found, address


def test_a_subdomain_or_a_mailbox_on_one_is_the_same_business() -> None:
    for keys in ({"domain": "shop.acme.com"}, {"domain": "www.acme.com"},
                 {"email": "billing@mail.acme.com"}):  # fmt: skip
        check = index().check(name="Someone", **keys)
        assert check.sure is not None and check.sure.customer_id == 1, keys
        assert check.sure.reasons == ("same domain",)
    built = DuplicateIndex()
    built.add(1, name="Acme UK", domain="shop.acme.co.uk")
    assert built.check(name="x", domain="acme.co.uk").sure is not None
    assert not built.check(name="x", domain="other.co.uk").found


def test_a_domain_shared_by_two_customers_is_not_sure() -> None:
    check = index().check(name="Initech", domain="initech.io")
    assert check.sure is None
    assert {c.customer_id for c in check.likely} == {4, 5}


def test_exclude_and_customers_added_during_a_batch() -> None:
    built = index()
    assert not built.check(name="Acme Corporation", email="ap@acme.com", exclude=[1]).found
    built.add(6, name="Vandelay Industries", domain="vandelay.com")
    assert built.check(name="x", domain="vandelay.com").sure.customer_id == 6  # type: ignore[union-attr]


def test_find_duplicates_reads_live_customers_from_the_database(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    with db.transaction(sessions) as session:
        acme = service.create_customer(
            session,
            tenant_id,
            {"name": "Acme Corporation", "email": "ap@acme.com", "tax_id": "GB 999 8888 77"},
        )
        gone = service.create_customer(
            session, tenant_id, {"name": "Hooli", "email": "ap@hooli.com"}
        )
        service.delete_customer(session, tenant_id, gone.id)
    with sessions() as session:
        check = find_duplicates(session, tenant_id, name="ACME Corp", tax_id="gb999888877")
        assert check.sure is not None and check.sure.customer_id == acme.id
        assert check.sure.reasons[0] == "same tax id" and check.likely == ()
        assert not find_duplicates(session, tenant_id, name="Hooli", email="ap@hooli.com").found


_WORDS = st.sampled_from(["acme", "anvil", "co", "12", "14", "b2b", "nord", "nordic", "x", "ab"])


@settings(max_examples=400, deadline=None)
@given(
    existing=st.lists(st.lists(_WORDS, min_size=1, max_size=4), min_size=1, max_size=25),
    most=st.sampled_from([2, 5, duplicates.MAX_BLOCK]),
    data=st.data(),
)
def test_a_block_is_scored_as_each_pair_would_be(
    existing: list[list[str]], most: int, data: st.DataObject
) -> None:
    """Blocks are scored in bulk, with the token-sort score taken as the ratio of presorted
    words, and a numbered name is looked up by its numbers: a name is likely the same as
    exactly those that share a word with it that no more than ``most`` names have, and
    score ``LIKELY_SCORE`` pair by pair, with that score."""
    # A name of its own words, or one of theirs reordered with perhaps a word more.
    reordered = st.sampled_from(existing).flatmap(st.permutations)
    probe = data.draw(
        st.lists(_WORDS, min_size=1, max_size=4)
        | st.tuples(reordered, st.lists(_WORDS, max_size=1)).map(lambda t: [*t[0], *t[1]])
    )
    built = DuplicateIndex()
    names = dict(enumerate(existing, start=1))
    for customer_id, words in names.items():
        built.add(customer_id, name=" ".join(words))
    # Some customers renamed since: found by their new names only.
    renames = st.tuples(st.sampled_from(sorted(names)), st.lists(_WORDS, min_size=1, max_size=4))
    for customer_id, words in data.draw(st.lists(renames, max_size=5)):
        built.add(customer_id, name=" ".join(words))
        names[customer_id] = words
    probe_key = name_key(" ".join(probe))
    keys = {customer_id: name_key(" ".join(words)) for customer_id, words in names.items()}
    sharing = Counter(word for key in keys.values() for word in set(key.split()))
    expected = {}
    for customer_id, key in keys.items():
        shared = set(key.split()) & set(probe_key.split())
        if not any(sharing[word] <= most for word in shared):
            continue  # blocked: no word shared, or each by too many to tell
        if _with_digits(key) != _with_digits(probe_key):
            continue
        score = max(fuzz.ratio(probe_key, key), fuzz.token_sort_ratio(probe_key, key))
        if score >= LIKELY_SCORE:
            expected[customer_id] = round(score, 1)
    with patch.object(duplicates, "MAX_BLOCK", most):
        found = built.check(name=" ".join(probe)).likely
    assert {c.customer_id: c.score for c in found} == expected


def _with_digits(key: str) -> set[str]:
    return {word for word in key.split() if any(char.isdigit() for char in word)}
