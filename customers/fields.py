"""Validation and normalization of directory input, field by field.

Each field has one normalizer that either returns the stored form or raises ``ValueError``
with a reason a person can act on. ``clean_customer`` / ``clean_contact`` run them all and
report every bad field at once, before anything is written.

Well-kept libraries do the hard parts: email-validator (syntax, IDNA), phonenumbers
(E.164), pycountry (ISO 3166 countries, ISO 4217 currencies).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import phonenumbers
import pycountry
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import String

from customers import billing, taxonomy
from customers.custom_properties import normalize_custom_properties
from customers.delivery import CONTACT_DELIVERY_FIELDS, CUSTOMER_DELIVERY_FIELDS
from customers.errors import FieldError, InvalidInput
from customers.models import Base, Contact, ContactRole, Customer, CustomerStatus, CustomerType

MAX_PAYMENT_TERMS_DAYS = 365
MAX_TEXT = 300
MAX_NOTES = 20_000
CUSTOM_ROLE = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
SURROGATE = re.compile("[\ud800-\udfff]")  # what decoding left of bytes that were not UTF-8


def column_limits(model: type[Base]) -> dict[str, int]:
    """The longest text each column holds: the one source of every length limit, so a
    value the validators accept always fits (PostgreSQL refuses what is longer)."""
    return {
        column.name: int(column.type.length)
        for column in model.__table__.columns
        if isinstance(column.type, String) and column.type.length
    }


CUSTOMER_LIMITS = column_limits(Customer)
CONTACT_LIMITS = column_limits(Contact)


def _text(limit: int = MAX_TEXT) -> Callable[[Any], str | None]:
    def normalize(value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            value = str(value)
        if "\x00" in value:  # PostgreSQL text cannot hold one; SQLite would keep it
            raise ValueError("holds a NUL character")
        if not value.isascii() and SURROGATE.search(value):  # bytes that were not UTF-8
            raise ValueError("is not valid text (it holds bytes that are not UTF-8)")
        value = " ".join(value.split()) if limit <= MAX_TEXT else value.strip()
        if len(value) > limit:
            raise ValueError(f"is {len(value)} characters long; the limit is {limit}")
        return value or None

    return normalize


def required_text(limit: int = MAX_TEXT) -> Callable[[Any], str]:
    def normalize(value: Any) -> str:
        cleaned = _text(limit)(value)
        if not cleaned:
            raise ValueError("is required")
        return cleaned

    return normalize


def normalize_email(value: Any) -> str | None:
    """Lower-cased, syntax-checked address (no DNS lookup: input must not depend on the
    network). Casing never makes two customers."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return _valid_email(str(value).strip())


# A page's worth of values (the reads of one record follow each other closely): a cache as
# large as a directory grew a worker's memory with the size of each sync, and syncs of
# other data share the process.
VALUES_CACHED = 8_192


@lru_cache(maxsize=VALUES_CACHED)
def _valid_email(text: str) -> str:
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError as error:
        raise ValueError(f"{text!r} is not a valid email address ({error})") from None
    return result.normalized.lower()


def normalize_phone(value: Any, default_region: str | None = None) -> str | None:
    """E.164 when the number parses; otherwise kept as given (CRMs hold many numbers that
    no library can parse, and dropping them would lose data)."""
    text = _text(64)(value)
    if text is None:
        return None
    if text in _E164_MADE:
        return text  # a number this made: E.164 reads as itself, in any country
    made, valid = _e164(text, default_region)
    if valid:
        if len(_E164_MADE) >= VALUES_CACHED:
            _E164_MADE.clear()
        _E164_MADE[made] = None
    return made


MIN_PHONE_DIGITS = 3


def check_typed_phone(phone: str | None) -> None:
    """What a person types as a phone holds a number: E.164, or text with at least
    :data:`MIN_PHONE_DIGITS` digits ("ext. 123", "0800 FLOWERS" pass; "call me maybe" does
    not). A CRM's own text is kept as the CRM holds it instead: refusing it would fail
    the whole record over one field nobody here typed."""
    if phone is None or phone.startswith("+"):
        return
    if sum(ch.isdigit() for ch in phone) < MIN_PHONE_DIGITS:
        raise ValueError(
            f"{phone!r} is not a phone number (it has fewer than {MIN_PHONE_DIGITS} digits)"
        )


# Syncs read the same numbers and countries over and over; parsing them is the slow part.
# A number read is read again in the form it was written in: a CRM's "030 1234567", then
# the directory's "+49301234567" (validating the new customer, comparing it in a merge).
# The E.164 numbers made are kept, so that second form is never parsed.
_E164_MADE: dict[str, None] = {}


@lru_cache(maxsize=VALUES_CACHED)
def _e164(text: str, region: str | None) -> tuple[str, bool]:
    """The number in E.164 and true, or the text as it is and false when it is no valid
    number."""
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return text, False
    if not phonenumbers.is_valid_number(parsed):
        return text, False  # "ext. 12" parses in some countries; only a valid number is rewritten
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164), True


# Spellings people and CRMs use that ISO 3166 does not list (pycountry knows names, common names,
# official names and alpha-2/alpha-3 codes already).
COUNTRY_ALIASES = {
    "uk": "GB",
    "u.k.": "GB",
    "great britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "usa": "US",
    "u.s.": "US",
    "u.s.a.": "US",
    "united states of america": "US",
    "america": "US",
    "holland": "NL",
    "the netherlands": "NL",
    "deutschland": "DE",
    "russia": "RU",
    "czechia": "CZ",
    "turkey": "TR",
    "uae": "AE",
}


def normalize_country(value: Any) -> str | None:
    """ISO 3166-1 alpha-2 from a code (alpha-2 or alpha-3), a name or a common alias
    ('Germany', 'DE', 'DEU', 'Deutschland', 'UK'). The one country parser: the CLI, imports
    and every CRM value go through it."""
    text = _text(120)(value)
    if text is None:
        return None
    code = _country_code(COUNTRY_ALIASES.get(text.casefold(), text))
    if code is None:
        raise ValueError(f"{text!r} is not an ISO 3166 country code or name")
    return code


@lru_cache(maxsize=4096)
def _country_code(text: str) -> str | None:
    try:
        return str(pycountry.countries.lookup(text).alpha_2)
    except LookupError:
        return None


def normalize_currency(value: Any) -> str | None:
    text = _text(3)(value) if isinstance(value, str) and len(value.strip()) <= 3 else value
    if text is None:
        return None
    currency = pycountry.currencies.get(alpha_3=str(text).upper())
    if currency is None:
        raise ValueError(f"{text!r} is not an ISO 4217 currency code")
    return str(currency.alpha_3)


def normalize_website(value: Any) -> str | None:
    text = _text(500)(value)
    if text is None:
        return None
    url = text if "://" in text else f"https://{text}"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or "." not in parts.hostname:
        raise ValueError(f"{text!r} is not a web address")
    return url


def domain_of(website_or_email: str | None) -> str | None:
    """The registrable-looking host of a website or email: 'https://www.Acme.com/x' and
    'ap@acme.com' both give 'acme.com'."""
    if not website_or_email:
        return None
    if "@" in website_or_email and "://" not in website_or_email:
        host = website_or_email.rsplit("@", 1)[1]
    else:
        host = (
            urlsplit(
                website_or_email if "://" in website_or_email else f"https://{website_or_email}"
            ).hostname
            or ""
        )
    host = host.lower().strip(".")
    return host.removeprefix("www.") or None


def normalize_domain(value: Any) -> str | None:
    text = _text(255)(value)
    if text is None:
        return None
    domain = domain_of(text)
    if (
        not domain
        or "." not in domain
        or not re.fullmatch(r"[a-z0-9.-]+", domain.encode("idna").decode())
    ):
        raise ValueError(f"{text!r} is not a domain name")
    return domain


def normalize_tax_id(value: Any) -> str | None:
    """Upper-case, without spaces, dots and dashes: 'de 123.456-789' == 'DE123456789'."""
    text = _text(64)(value)
    if text is None:
        return None
    return re.sub(r"[\s.\-/]", "", text).upper() or None


def _choice(kind: type[CustomerType] | type[CustomerStatus]) -> Callable[[Any], str]:
    allowed = [member.value for member in kind]

    def normalize(value: Any) -> str:
        text = str(value).strip().lower() if value is not None else ""
        if text not in allowed:
            raise ValueError(f"{value!r} is not one of {', '.join(allowed)}")
        return text

    return normalize


def parse_payment_terms(value: Any) -> int | None:
    """Days until an invoice is due: 30, '30', 'net 30', 'NET30', 'due on receipt' (0)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip().lower()
    if text in ("due on receipt", "due_on_receipt", "receipt", "immediate"):
        return 0
    match = re.fullmatch(r"(?:net[\s_-]*)?(\d{1,3})(?:\s*days?)?", text)
    if not match or int(match.group(1)) > MAX_PAYMENT_TERMS_DAYS:
        raise ValueError(
            f"{value!r} is not payment terms (use days, e.g. 'net 30', 0-{MAX_PAYMENT_TERMS_DAYS})"
        )
    return int(match.group(1))


# An amount as text: a dot for decimals, and commas only between groups of three digits
# (1,234.50). "1.000,50" and "5,00" are refused rather than guessed: read the other way
# round they would be a thousand times off.
AMOUNT_TEXT = re.compile(r"-?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?")


def normalize_credit_limit(value: Any) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip()
    if isinstance(value, str) and not AMOUNT_TEXT.fullmatch(text):
        raise ValueError(
            f"{value!r} is not an amount (write it with a dot for decimals and no other "
            "separators than commas between thousands, e.g. 1000.50 or 1,000.50)"
        )
    try:
        amount = Decimal(text.replace(",", ""))
    except InvalidOperation:
        raise ValueError(f"{value!r} is not an amount") from None
    if not amount.is_finite():
        raise ValueError(f"{value!r} is not an amount")
    if amount < 0:
        raise ValueError(f"must not be negative, got {amount}")
    if amount >= Decimal("1e16"):
        raise ValueError(f"{amount} is too large")
    rounded = amount.quantize(Decimal("0.01"))
    if rounded != amount:
        raise ValueError(f"{value!r} has more than 2 decimal places")
    return rounded


def normalize_roles(value: Any) -> list[str]:
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    roles: list[str] = []
    for item in items:
        role = str(item).strip().lower()
        if not role:
            continue
        if role not in {r.value for r in ContactRole} and not CUSTOM_ROLE.match(role):
            raise ValueError(
                f"{item!r} is not a role (custom roles: lowercase letters, digits, - and _)"
            )
        if role not in roles:
            roles.append(role)
    return roles


def normalize_category(value: Any) -> str | None:
    """A category of the taxonomy (``customers.taxonomy``), by its slug; nothing else.
    How sure and who decided are not input: the service layer records them."""
    slug = _text(CUSTOMER_LIMITS["category"])(value)
    if slug is None:
        return None
    if taxonomy.get(slug) is None:
        choices = ", ".join(category.slug for category in taxonomy.CATEGORIES)
        raise ValueError(f"{slug!r} is not a category ({choices})")
    return slug


def check_subcategory(category: str | None, subcategory: str | None) -> None:
    """Raise ``InvalidInput`` unless ``subcategory`` is blank or one of ``category``'s."""
    if subcategory is None or taxonomy.is_valid(category, subcategory):
        return
    if category is None:
        raise InvalidInput.single("subcategory", "needs a category")
    known = taxonomy.get(category)
    subs = ", ".join(sub.slug for sub in known.subcategories) if known else "none"
    raise InvalidInput.single(
        "subcategory", f"{subcategory!r} is not a subcategory of {category} ({subs})"
    )


_ADDRESS = {
    f"{kind}_{part}": (
        normalize_country if part == "country" else _text(CUSTOMER_LIMITS[f"{kind}_{part}"])
    )
    for kind in ("billing", "shipping")
    for part in ("street", "street2", "city", "region", "postal_code", "country")
}

CUSTOMER_FIELDS: dict[str, Callable[[Any], Any]] = {
    "name": required_text(CUSTOMER_LIMITS["name"]),
    "email": normalize_email,
    "phone": normalize_phone,
    "website": normalize_website,
    "domain": normalize_domain,
    "tax_id": normalize_tax_id,
    "registration_number": _text(CUSTOMER_LIMITS["registration_number"]),
    "customer_type": _choice(CustomerType),
    "status": _choice(CustomerStatus),
    **_ADDRESS,
    "currency": normalize_currency,
    "payment_terms_days": parse_payment_terms,
    "credit_limit": normalize_credit_limit,
    "category": normalize_category,
    "subcategory": _text(CUSTOMER_LIMITS["subcategory"]),
    "notes": _text(MAX_NOTES),
    "custom_properties": normalize_custom_properties,
    **CUSTOMER_DELIVERY_FIELDS,
    # Tax and billing settings (``customers.billing``).
    "tax_rate": billing.normalize_tax_rate,
    "tax_country": normalize_country,
    "tax_exemption": billing.normalize_tax_exemption,
    "tax_exemption_reason": _text(billing.MAX_REASON),
    "invoicing_flow": billing.normalize_invoicing_flow,
    **dict.fromkeys(billing.TOGGLES, billing.normalize_flag),
    "sales_rep_email": normalize_email,
    "sales_rep_name": _text(CUSTOMER_LIMITS["sales_rep_name"]),
}

CONTACT_FIELDS: dict[str, Callable[[Any], Any]] = {
    "first_name": required_text(CONTACT_LIMITS["first_name"]),
    "last_name": _text(CONTACT_LIMITS["last_name"]),
    "email": normalize_email,
    "phone": normalize_phone,
    "mobile_phone": normalize_phone,
    "job_title": _text(CONTACT_LIMITS["job_title"]),
    "roles": normalize_roles,
    **CONTACT_DELIVERY_FIELDS,
    "department": _text(CONTACT_LIMITS["department"]),
    "notes": _text(MAX_NOTES),
}


def _clean(
    data: Mapping[str, Any],
    spec: Mapping[str, Callable[[Any], Any]],
    region: str | None,
    limits: Mapping[str, int],
    from_crm: bool,
) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    errors: list[FieldError] = []
    for field, value in data.items():
        normalize = spec.get(field)
        if normalize is None:
            errors.append(FieldError(field, "is not a known field"))
            continue
        try:
            if normalize is normalize_phone:
                cleaned[field] = normalize_phone(value, region)
                if not from_crm:
                    check_typed_phone(cleaned[field])
            else:
                cleaned[field] = normalize(value)
            limit = limits.get(field)
            if (
                limit is not None
                and isinstance(cleaned[field], str)
                and len(cleaned[field]) > limit
            ):
                raise ValueError(f"is {len(cleaned[field])} characters long; the limit is {limit}")
        except (ValueError, TypeError) as error:
            errors.append(FieldError(field, str(error)))
        except InvalidInput as error:  # a list field names its bad items (``field[2]``)
            errors.extend(error.errors)
    if errors:
        raise InvalidInput(errors)
    return cleaned


def clean_customer(data: Mapping[str, Any], *, from_crm: bool = False) -> dict[str, Any]:
    """Normalize customer fields; raise ``InvalidInput`` naming every bad field.

    Phone numbers without a country code are read in the billing country, if one is given.
    The domain follows the website (or the email) unless it is given explicitly.
    """
    region = None
    if data.get("billing_country"):
        try:
            region = normalize_country(data["billing_country"])
        except ValueError:
            region = None  # reported by the field loop
    cleaned = _clean(data, CUSTOMER_FIELDS, region, CUSTOMER_LIMITS, from_crm)
    if "domain" not in data and cleaned.get("website"):
        cleaned["domain"] = domain_of(cleaned["website"])
    return cleaned


def clean_contact(
    data: Mapping[str, Any], region: str | None = None, *, from_crm: bool = False
) -> dict[str, Any]:
    """Normalize contact fields; ``from_crm``: values a CRM holds, not typed here (a phone
    that is no number is kept as the CRM holds it)."""
    return _clean(data, CONTACT_FIELDS, region, CONTACT_LIMITS, from_crm)
