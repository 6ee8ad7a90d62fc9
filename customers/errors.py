"""Errors raised by the directory.

::

    DirectoryError
    ├── InvalidInput          one or more fields are wrong; nothing was written
    │   └── DuplicateEmail    another live customer of the tenant has this email
    ├── NotFound              no such customer / contact / tenant
    ├── StaleVersion          someone else changed the record since it was read
    └── Refused               the change breaks a rule (e.g. purging a referenced customer)
        └── SureDuplicate     another live customer is the same business by an exact key
"""

from __future__ import annotations

from dataclasses import dataclass


class DirectoryError(Exception):
    """Root of every error the directory raises on purpose."""


@dataclass(frozen=True)
class FieldError:
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


class InvalidInput(DirectoryError):
    """Input failed validation. ``errors`` names each field and why."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(error) for error in errors))

    @classmethod
    def single(cls, field: str, reason: str) -> InvalidInput:
        return cls([FieldError(field, reason)])


class NotFound(DirectoryError):
    def __init__(self, kind: str, key: object) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"{kind} {key} not found")


class DuplicateEmail(InvalidInput):
    def __init__(self, email: str, existing_id: int | None) -> None:
        self.email = email
        self.existing_id = existing_id
        owner = f"customer {existing_id}" if existing_id is not None else "another customer"
        super().__init__([FieldError("email", f"{email} is already used by {owner}")])


class StaleVersion(DirectoryError):
    def __init__(self, kind: str, key: object, expected: int | None, actual: int | None) -> None:
        self.expected = expected
        self.actual = actual
        if expected is None or actual is None:  # a concurrent write found at flush time
            said = f"{kind} {key} was changed by someone else while this change was written"
        else:
            said = (
                f"{kind} {key} was changed by someone else (you had version {expected}, "
                f"it is now at version {actual})"
            )
        super().__init__(f"{said}; read it again and retry")


class Refused(DirectoryError):
    """The change is well-formed but a directory rule forbids it."""


class SureDuplicate(Refused):
    """Another live customer is, by an exact key (tax id, email, company domain), the same
    business as the one being added or changed. ``reasons`` says which keys matched."""

    def __init__(self, customer_id: int, name: str, reasons: tuple[str, ...]) -> None:
        self.customer_id = customer_id
        self.name = name
        self.reasons = reasons
        super().__init__(
            f"customer {customer_id} {name!r} is the same business ({', '.join(reasons)}); "
            "nothing was written"
        )
