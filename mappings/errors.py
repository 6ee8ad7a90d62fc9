"""Errors raised by the mappings package.

::

    MappingError          a map file is wrong: raised at load, never during a sync
    RemoteValueError      a CRM value cannot become a directory value (ValueError)

A ``MappingError`` always names the file, the field (when there is one) and the problem,
so an operator can fix the file without reading code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class MappingError(Exception):
    """A map file cannot be used: unparseable, or a field names something unknown."""

    def __init__(self, file: str, problem: str, field: str | None = None) -> None:
        self.file = file
        self.field = field
        self.problem = problem
        where = f"{file}: field {field!r}" if field else file
        super().__init__(f"{where}: {problem}")


class RemoteValueError(ValueError):
    """Some CRM values could not be turned into directory values.

    ``problems`` maps each field (a map entry's key) to the reason; ``accepted`` holds the
    fields that did convert, so a caller may still use them.
    """

    def __init__(self, problems: Mapping[str, str], accepted: Mapping[str, Any]) -> None:
        self.problems = dict(problems)
        self.accepted = dict(accepted)
        super().__init__("; ".join(f"{field}: {why}" for field, why in self.problems.items()))
