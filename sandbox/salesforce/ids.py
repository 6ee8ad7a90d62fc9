"""Salesforce record ids and datetimes, made and read the way Salesforce does.

An id is 15 case-sensitive base-62 characters (3-character key prefix that names the
object, then a pod and a sequence) followed by a 3-character suffix that encodes which
of the 15 are upper case, so that the 18-character form survives case-insensitive
systems. Clients mix both forms; every lookup here normalizes to 18 characters.

Datetimes on the wire look like ``2024-01-01T00:00:00.000+0000`` (milliseconds, UTC,
no colon in the offset); SOQL and the replication resources accept ISO-8601 variants.
"""

from __future__ import annotations

import functools
import itertools
import re
import threading
from datetime import UTC, date, datetime, timedelta

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"

KEY_PREFIXES = {
    "Account": "001",
    "Contact": "003",
    "User": "005",
    "Organization": "00D",
    "QueryLocator": "01g",
    "BulkJob": "750",
    "WorkflowOutboundMessage": "04k",
    "OutboundMessageNotification": "04l",
}

# The pod/instance characters real ids carry after the prefix; any fixed pair will do.
_POD = "5J0"

ID_RE = re.compile(r"^[0-9A-Za-z]{15}(?:[0-9A-Z]{3})?$")


def checksum_suffix(id15: str) -> str:
    """The 3-character suffix that turns a 15-character id into an 18-character one."""
    suffix = []
    for chunk in range(3):
        bits = 0
        for position, char in enumerate(id15[chunk * 5 : chunk * 5 + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << position
        suffix.append(_SUFFIX_ALPHABET[bits])
    return "".join(suffix)


def to_18(record_id: str) -> str | None:
    """Normalize a 15- or 18-character id; None if it is not shaped like an id."""
    if not ID_RE.match(record_id):
        return None
    id15 = record_id[:15]
    full = id15 + checksum_suffix(id15)
    if len(record_id) == 18 and record_id.upper() != full.upper():
        return None
    return full


def _base62(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, remainder = divmod(number, 62)
        chars.append(BASE62[remainder])
    return "".join(reversed(chars))


class IdFactory:
    """Makes unique ids per key prefix; thread-safe."""

    def __init__(self, start: int = 1) -> None:
        self._counter = itertools.count(start)
        self._lock = threading.Lock()

    def new(self, kind: str) -> str:
        with self._lock:
            number = next(self._counter)
        id15 = KEY_PREFIXES[kind] + _POD + _base62(number, 9)
        return id15 + checksum_suffix(id15)


# --- datetimes -------------------------------------------------------------------------


def now_utc() -> datetime:
    return truncate_ms(datetime.now(UTC))


def truncate_ms(moment: datetime) -> datetime:
    """Salesforce keeps datetimes to the millisecond."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@functools.lru_cache(maxsize=65_536)
def format_datetime(moment: datetime) -> str:
    """``2024-01-01T00:00:00.000+0000``, the form every REST response uses."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def format_date(day: date) -> str:
    return day.isoformat()


_DATETIME_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(Z|[+-]\d{2}:?\d{2})$"
)


def parse_datetime(text: str) -> datetime | None:
    """Parse an ISO-8601 datetime with an explicit zone (``Z``, ``+hh:mm`` or ``+hhmm``).

    Salesforce rejects zone-less datetimes in SOQL and in the replication resources, so
    this returns None for them rather than guessing a zone.
    """
    match = _DATETIME_RE.match(text)
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            int((fraction or "0").ljust(6, "0")[:6]),
            tzinfo=UTC,
        )
    except ValueError:
        return None
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        moment -= sign * offset
    return truncate_ms(moment)


def parse_date(text: str) -> date | None:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None
