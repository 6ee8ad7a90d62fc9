"""What a check gives: a count of problems, each with its record, field and history."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

MAX_SHOWN = 10  # problems printed in full per check; the JSON has them all


@dataclass
class Problem:
    record: str
    field: str
    detail: str
    history: list[str] = dataclasses.field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"record": self.record, "field": self.field, "detail": self.detail,
                "history": self.history}  # fmt: skip


@dataclass
class Outcome:
    name: str
    checked: int
    problems: list[Problem] = dataclasses.field(default_factory=list)
    explained: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.problems)

    @property
    def passed(self) -> bool:
        return not self.problems
