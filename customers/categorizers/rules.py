"""The offline categorizer: rules over what the directory already knows. Deterministic.

Evidence, strongest first (weights are how much one source alone is trusted):

====================  ======  ==========================================================
source                weight  reads
====================  ======  ==========================================================
CRM industry          0.60    the CRM's industry value (``COMPUTER_SOFTWARE``, ``Food &
                              Beverage``), matched against ``keywords.KEYWORDS``
domain suffix         0.55    ``.gov`` / ``.gov.uk`` / ``.gouv.fr`` -> government,
                              ``.edu`` / ``.ac.uk`` -> education, ``.mil`` -> defense
customer type         0.50    ``government`` -> public sector / government;
                      0.40    ``consumer`` (a person) -> other
industry TLD          0.35    ``.bank``, ``.law``, ``.hotel``, ... (``.org``: 0.15)
name words            0.35    words and phrases of the name (``Acme Software GmbH``)
domain words          0.20    words of the website or email domain (``acme-software.com``,
                              ``acmesoftware.com``); free-mail domains say nothing
====================  ======  ==========================================================

Each category's support is the chance that at least one of its sources is right
(``1 - prod(1 - weight)``); the best-supported category wins, ties going to the one listed
first in the taxonomy. Confidence is that support, scaled down by how much support other
categories got (evidence that disagrees), and capped at 0.95 because rules are never sure.
The subcategory is the one most evidence named inside the winning category, or none.
With no evidence at all the answer is ``other`` with confidence 0.2.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass

from customers import taxonomy
from customers.categorizers import Categorization, CustomerFacts
from customers.categorizers.keywords import (
    EDUCATION_SUFFIXES,
    GOVERNMENT_SUFFIXES,
    INDUSTRY_TLDS,
    KEYWORDS,
    MILITARY_SUFFIXES,
)
from customers.fields import domain_of
from customers.match_keys import is_free_mail

SOURCE = "rules"
INDUSTRY_WEIGHT = 0.60
DOMAIN_SUFFIX_WEIGHT = 0.55
GOVERNMENT_TYPE_WEIGHT = 0.50
CONSUMER_TYPE_WEIGHT = 0.40
INDUSTRY_TLD_WEIGHT = 0.35
ORG_TLD_WEIGHT = 0.15
NAME_WEIGHT = 0.35
DOMAIN_WORDS_WEIGHT = 0.20
MAX_CONFIDENCE = 0.95
NO_EVIDENCE_CONFIDENCE = 0.2
MAX_PHRASE_WORDS = max(len(key.split()) for key in KEYWORDS)
MIN_COMPOUND_LENGTH = 6  # shorter words hide inside unrelated ones ("tech" in "biotechx")
SECOND_LEVEL_LABELS = frozenset({"co", "com", "net", "org", "ltd", "plc", "or", "ne"})

_ORDER = {pair: index for index, pair in enumerate(taxonomy.choices())}
_COMPOUND_KEYS = sorted(
    (key for key in KEYWORDS if " " not in key and len(key) >= MIN_COMPOUND_LENGTH),
    key=lambda key: (-len(key), key),
)


@dataclass(frozen=True, slots=True)
class Vote:
    category: str
    subcategory: str | None
    weight: float
    reason: str


def words_of(text: str) -> list[str]:
    """Lower-case ASCII words; ``_ & - / .`` separate words (so CRM enum values read as
    phrases)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.findall(r"[a-z0-9]+", ascii_text.replace("&", " "))


def _split(slug: str) -> tuple[str, str | None]:
    category, _, subcategory = slug.partition("/")
    return category, subcategory or None


def keyword_votes(words: list[str], weight: float, what: str) -> list[Vote]:
    """Longest phrases first, each word used once: 'real estate' is one match."""
    votes: list[Vote] = []
    index = 0
    while index < len(words):
        for size in range(min(MAX_PHRASE_WORDS, len(words) - index), 0, -1):
            phrase = " ".join(words[index : index + size])
            slug = KEYWORDS.get(phrase)
            if slug is not None:
                votes.append(Vote(*_split(slug), weight, f"{what} {phrase!r}"))
                index += size
                break
        else:
            index += 1
    return votes


def industry_votes(industry: str | None) -> list[Vote]:
    if not industry:
        return []
    words = words_of(industry)
    whole = KEYWORDS.get(" ".join(words))
    if whole is not None:
        return [Vote(*_split(whole), INDUSTRY_WEIGHT, f"CRM industry {industry!r}")]
    return keyword_votes(words, INDUSTRY_WEIGHT, f"CRM industry {industry!r}:")


def _hosts(facts: CustomerFacts) -> list[str]:
    hosts = []
    for value in (facts.domain, domain_of(facts.website), domain_of(facts.email)):
        if value and not is_free_mail(value) and value not in hosts:
            hosts.append(value.lower())
    return hosts


def suffix_votes(host: str) -> list[Vote]:
    labels = host.split(".")
    if len(labels) < 2:
        return []
    tld, second = labels[-1], labels[-2]
    # A suffix counts where only such organisations can register: the generic .gov / .edu /
    # .mil, or the second level under a country code (.gov.uk, .ac.jp, .gouv.fr).
    country_second = second if len(tld) == 2 and len(labels) >= 3 else None
    for suffixes, slug in (
        (GOVERNMENT_SUFFIXES, "public_sector/government"),
        (EDUCATION_SUFFIXES, "public_sector/education"),
        (MILITARY_SUFFIXES, "public_sector/defense"),
    ):
        generic = tld in ("gov", "edu", "mil") and tld in suffixes
        if generic or country_second in suffixes:
            suffix = tld if generic else f"{country_second}.{tld}"
            return [Vote(*_split(slug), DOMAIN_SUFFIX_WEIGHT, f"domain ends in .{suffix}")]
    industry = INDUSTRY_TLDS.get(tld)
    if industry is not None:
        weight = ORG_TLD_WEIGHT if tld == "org" else INDUSTRY_TLD_WEIGHT
        return [Vote(*_split(industry), weight, f"domain ends in .{tld}")]
    return []


def domain_word_votes(host: str) -> list[Vote]:
    labels = [
        label
        for label in host.split(".")[:-1]
        if label != "www" and label not in SECOND_LEVEL_LABELS
    ]
    votes: list[Vote] = []
    for label in labels:
        found = keyword_votes(words_of(label), DOMAIN_WORDS_WEIGHT, f"domain {host!r} word")
        if not found:
            # Run-together names: 'acmesoftware' holds 'software'.
            compound = next((key for key in _COMPOUND_KEYS if key in label), None)
            if compound is not None:
                found = [
                    Vote(
                        *_split(KEYWORDS[compound]),
                        DOMAIN_WORDS_WEIGHT,
                        f"domain {host!r} has {compound!r}",
                    )
                ]
        votes.extend(found)
    return votes


def type_votes(customer_type: str | None) -> list[Vote]:
    if customer_type == "government":
        return [
            Vote("public_sector", "government", GOVERNMENT_TYPE_WEIGHT, "customer type government")
        ]
    if customer_type == "consumer":
        return [Vote("other", None, CONSUMER_TYPE_WEIGHT, "customer type consumer (a person)")]
    return []


def collect_votes(facts: CustomerFacts) -> list[list[Vote]]:
    """The votes of each independent source, one list per source."""
    hosts = _hosts(facts)
    return [
        industry_votes(facts.industry),
        next((votes for host in hosts if (votes := suffix_votes(host))), []),
        type_votes(facts.customer_type),
        keyword_votes(words_of(facts.name), NAME_WEIGHT, "name word"),
        [vote for host in hosts for vote in domain_word_votes(host)],
    ]


def decide(sources: list[list[Vote]]) -> Categorization:
    """Weigh the votes as the module docstring says."""
    misses: dict[str, float] = defaultdict(lambda: 1.0)  # chance every source is wrong
    for votes in sources:
        best: dict[str, float] = {}
        for vote in votes:
            best[vote.category] = max(best.get(vote.category, 0.0), vote.weight)
        for category, weight in best.items():
            misses[category] *= 1.0 - weight
    if not misses:
        return Categorization("other", None, NO_EVIDENCE_CONFIDENCE, SOURCE, ("no evidence",))
    support = {category: 1.0 - miss for category, miss in misses.items()}
    winner = min(support, key=lambda category: (-support[category], _ORDER[(category, None)]))
    others = sum(value for category, value in support.items() if category != winner)
    confidence = support[winner] * support[winner] / (support[winner] + others)
    votes = [vote for source in sources for vote in source if vote.category == winner]
    named: dict[str, float] = defaultdict(float)
    for vote in votes:
        if vote.subcategory is not None:
            named[vote.subcategory] += vote.weight
    subcategory = (
        min(named, key=lambda sub: (-named[sub], _ORDER[(winner, sub)])) if named else None
    )
    return Categorization(
        winner,
        subcategory,
        round(min(confidence, MAX_CONFIDENCE), 2),
        SOURCE,
        tuple(vote.reason for vote in votes),
    )


class RulesCategorizer:
    """The offline default: no network, no model, same answer every time."""

    source = SOURCE

    def categorize(self, facts: CustomerFacts) -> Categorization:
        return decide(collect_votes(facts))
