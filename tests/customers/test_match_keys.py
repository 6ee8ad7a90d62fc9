"""The keys customers are compared by: registrable domains, free mail, name keys."""

from __future__ import annotations

import socket
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from customers import match_keys
from customers.match_keys import company_domain, is_free_mail, name_key, registrable_domain


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


@pytest.mark.parametrize(
    ("written", "latin"),
    [
        ("Газпром нефть", "Gazprom Neft"),
        ("ООО «Газпром нефть»", "Gazprom Neft"),
        ("ПАО Сбербанк", "Sberbank"),
        ("Ελληνικά Πετρέλαια Α.Ε.", "Ellinika Petrelaia"),
        ("Łódź Foods Sp. z o.o.", "Lodz Foods"),
        ("Müller & Söhne GmbH", "Muller Sohne"),
        ("ＡＣＭＥ Corp", "Acme"),
    ],
)
def test_names_are_transliterated_then_stripped_of_legal_forms(written: str, latin: str) -> None:
    assert name_key(written) == name_key(latin) != ""


@pytest.mark.parametrize(
    "name", ["Газпром нефть", "Ελληνικά Πετρέλαια", "腾讯控股有限公司", "トヨタ自動車株式会社"]
)
def test_names_in_other_scripts_have_a_key(name: str) -> None:
    assert name_key(name).isascii() and name_key(name).strip()


def test_chinese_and_japanese_legal_forms_are_dropped() -> None:
    assert name_key("腾讯控股有限公司") == name_key("腾讯") == "tengxun"
    assert name_key("トヨタ自動車株式会社") == name_key("トヨタ自動車")


def test_legal_forms_of_other_scripts_are_dropped_only_from_words_in_them() -> None:
    assert name_key("АО Смит") == "smit"
    assert name_key("AO Smith Corp") == "ao smith"  # the Latin "AO" is part of the name
    assert name_key("ООО") == "ooo"  # nothing but a legal form: kept, never empty


@pytest.mark.parametrize(
    "address", ["ap@gmx.at", "x@outlook.de", "x@yahoo.fr", "x@gmail.com", "x@mail.ru", "x@web.de"]
)
def test_free_mail_is_never_a_company_domain(address: str) -> None:
    assert is_free_mail(address.split("@")[1])
    assert company_domain(None, address) is None
    assert company_domain(address.split("@")[1]) is None


def test_a_company_domain_is_not_free_mail() -> None:
    assert not is_free_mail("acme.com") and not is_free_mail("mail.acme.co.uk")


@pytest.mark.parametrize(
    "address", ["none@example.com", "x@mail.example.org", "ap@acme.example", "a@shop.test"]
)
def test_placeholder_domains_are_not_a_company_domain(address: str) -> None:
    assert company_domain(None, address) is None
    assert company_domain(address.split("@")[1]) is None
    assert company_domain("examples.com") == "examples.com"
