"""The category taxonomy: well-formed data and lookups that say no to unknown slugs."""

from __future__ import annotations

import re

import pytest

from customers import taxonomy

SLUG = re.compile(r"^[a-z][a-z0-9_]*$")


def test_categories_are_a_manageable_documented_set() -> None:
    assert 10 <= len(taxonomy.CATEGORIES) <= 14
    for category in taxonomy.CATEGORIES:
        assert SLUG.match(category.slug) and category.label and category.description
        for sub in category.subcategories:
            assert SLUG.match(sub.slug) and sub.label and sub.description
    assert taxonomy.get("other") is not None


def test_slugs_are_unique() -> None:
    slugs = [category.slug for category in taxonomy.CATEGORIES]
    assert len(slugs) == len(set(slugs))
    for category in taxonomy.CATEGORIES:
        subs = [sub.slug for sub in category.subcategories]
        assert len(subs) == len(set(subs)), category.slug


@pytest.mark.parametrize(
    ("category", "subcategory", "valid"),
    [
        ("technology", "software", True),
        ("technology", None, True),
        ("finance", "banking", True),
        ("technology", "banking", False),  # a subcategory of another category
        ("tech", None, False),
        (None, None, True),  # not categorized yet
        (None, "software", False),
        ("other", None, True),
    ],
)
def test_is_valid(category: str | None, subcategory: str | None, valid: bool) -> None:
    assert taxonomy.is_valid(category, subcategory) is valid


def test_labels() -> None:
    assert taxonomy.label("technology") == "Technology"
    assert taxonomy.label("technology", "software") == "Technology / Software"
    with pytest.raises(KeyError):
        taxonomy.label("technology", "banking")
    with pytest.raises(KeyError):
        taxonomy.label("nope")
    labels = taxonomy.labels()
    assert labels["finance/banking"] == "Finance / Banking"
    assert next(iter(labels)) == "technology"


def test_choices_are_exactly_the_valid_pairs() -> None:
    choices = taxonomy.choices()
    assert all(taxonomy.is_valid(*pair) for pair in choices)
    assert len(choices) == len(taxonomy.labels())
