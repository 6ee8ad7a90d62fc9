"""The keys two customer records are compared by: a company domain and a name key.

- :func:`company_domain` is the *registrable* domain of a record's domain (or, without
  one, of its email): ``shop.acme.co.uk`` and ``acme.co.uk`` are one business, found
  with the Public Suffix List that the ``publicsuffixlist`` package ships. A free-mail
  provider is never a company domain.
- :func:`name_key` is a name in lower-case ASCII without legal forms.

The list is data inside an installed package, read once per process. Nothing here may
reach the network or the database: keys are computed for every customer of a tenant when
its duplicate index is loaded, so they must be cheap and must not fail.
"""

from __future__ import annotations

import re
import unicodedata
from contextlib import suppress
from functools import cache

from publicsuffixlist import PSLFILE, PublicSuffixList

from customers.fields import domain_of

# Legal forms and filler words that say nothing about which business it is.
LEGAL_WORDS = frozenset(
    """inc incorporated llc l.l.c ltd limited corp corporation co company companies plc gmbh ag kg
    sa s.a sas sarl srl spa bv b.v nv ab as oy kk k.k pty pte sp z o.o zoo the and of group
    holding holdings""".split()
)
FREE_MAIL_DOMAINS = frozenset(
    """gmail.com googlemail.com yahoo.com yahoo.co.uk hotmail.com outlook.com live.com msn.com
    aol.com icloud.com me.com mail.com gmx.de gmx.net web.de proton.me protonmail.com yandex.ru
    zoho.com qq.com 163.com""".split()
)


# Letters that Unicode does not decompose into a base letter plus accents.
_UNDECOMPOSABLE = str.maketrans(
    {"Ł": "L", "ł": "l", "Ø": "O", "ø": "o", "Đ": "D", "đ": "d", "ß": "ss", "Æ": "AE", "æ": "ae",
     "Œ": "OE", "œ": "oe", "Þ": "Th", "þ": "th", "ı": "i"}
)  # fmt: skip


def name_key(name: str) -> str:
    """Lower-case ASCII words without legal forms: 'ACME Corp.' and 'Acme Corporation' both
    give 'acme'; '&' reads as 'and' (and is then dropped)."""
    text = unicodedata.normalize("NFKD", name.translate(_UNDECOMPOSABLE))
    text = text.encode("ascii", "ignore").decode().lower()
    text = text.replace("&", " and ").replace("'", "")
    words = re.findall(r"[a-z0-9]+(?:\.[a-z0-9]+)*", text)
    kept = [w for w in words if w not in LEGAL_WORDS and w.replace(".", "") not in LEGAL_WORDS]
    return " ".join(kept) or " ".join(words)


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
    with suppress(UnicodeError):  # not a valid IDN: compared as written
        host = host.encode("idna").decode("ascii")  # 'bücher.de' is 'xn--bcher-kva.de'
    return public_suffix_list().privatesuffix(host) or host


def is_free_mail(host: str) -> bool:
    """Whether ``host`` (or the domain it belongs to) is a free-mail provider."""
    host = host.lower().strip(".")
    return host in FREE_MAIL_DOMAINS or registrable_domain(host) in FREE_MAIL_DOMAINS


def company_domain(domain: str | None, email: str | None = None) -> str | None:
    """The registrable domain that identifies a business, if any (never a free-mail
    provider): its own domain, else its email's."""
    candidate = domain_of(domain) if domain else domain_of(email)
    if not candidate or is_free_mail(candidate):
        return None
    return registrable_domain(candidate)
