"""Errors raised by the directory.

::

    DirectoryError
    ├── InvalidInput          one or more fields are wrong; nothing was written
    ├── NotFound              no such customer / contact / tenant
    ├── DuplicateEmail        another live customer of the tenant has this email
    ├── StaleVersion          someone else changed the record since it was read
    └── Refused               the change breaks a rule (e.g. purging a referenced customer)
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
        super().__init__(
            f"{kind} {key} was changed by someone else (you had version {expected}, "
            f"it is now at version {actual}); read it again and retry"
        )


class Refused(DirectoryError):
    """The change is well-formed but a directory rule forbids it."""
