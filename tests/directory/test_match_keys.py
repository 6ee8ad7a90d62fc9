"""The keys customers are compared by: registrable domains, free mail, name keys."""

from __future__ import annotations

import socket
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from customers import match_keys
from customers.match_keys import company_domain, registrable_domain


@pytest.mark.parametrize(
    ("host", "registrable"),
    [
        ("shop.acme.co.uk", "acme.co.uk"),
        ("acme.co.uk", "acme.co.uk"),
        ("mail.acme.com", "acme.com"),
        ("www.globex.com", "globex.com"),
        ("a.b.initech.com.au", "initech.com.au"),
        ("WWW.Globex.COM.", "globex.com"),
        ("bücher.de", "xn--bcher-kva.de"),
    ],
)
def test_the_registrable_domain_is_compared(host: str, registrable: str) -> None:
    assert registrable_domain(host) == registrable


def test_sites_on_a_shared_platform_stay_apart() -> None:
    # github.io is a suffix of the list's private section: each site is its own business.
    assert registrable_domain("acme.github.io") != registrable_domain("globex.github.io")
    assert registrable_domain("co.uk") == "co.uk"  # a bare suffix is kept as it is


def test_company_domain_of_a_subdomain_or_an_email_on_one() -> None:
    assert company_domain("shop.acme.co.uk") == "acme.co.uk"
    assert company_domain(None, "ap@mail.acme.com") == "acme.com"
    assert company_domain("https://www.globex.com/about") == "globex.com"


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the Public Suffix List must not be fetched")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    match_keys.public_suffix_list.cache_clear()
    yield
    match_keys.public_suffix_list.cache_clear()


@pytest.mark.usefixtures("no_network")
def test_the_suffix_list_is_the_packaged_one_read_without_network() -> None:
    assert registrable_domain("shop.acme.co.uk") == "acme.co.uk"
    assert match_keys.public_suffix_list().privatesuffix("x.y.example.org") == "example.org"
