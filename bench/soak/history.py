"""The soak's log of everything it did: workload operations and chaos events, with times.

Every operation names the records it touched as keys (``customer:12``, ``hubspot:company:
901``, ``salesforce:account:001...``), so a failed check can print the history of one
record: the operations on it and on every CRM record linked to it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


def customer_key(customer_id: int) -> str:
    return f"customer:{customer_id}"


def crm_key(provider: str, object_type: str, external_id: str) -> str:
    return f"{provider}:{object_type}:{external_id}"


@dataclass(frozen=True)
class Operation:
    at: float  # time.time() when the operation was done (after it returned)
    side: str  # local | hubspot | salesforce | chaos
    kind: str  # create | edit | delete | archive | merge | fault | kill | restart ...
    keys: tuple[str, ...]
    fields: dict[str, Any] = field(default_factory=dict)  # local field -> value set
    note: str = ""
    ok: bool = True
    # For deletes and merges: the local id each CRM record carried (its crmsync id) when it
    # went, so the checks can tell which customer had to be archived or unlinked.
    carried: dict[str, str] = field(default_factory=dict)

    def line(self, started: float) -> str:
        what = ", ".join(f"{name}={value!r}" for name, value in self.fields.items())
        status = "" if self.ok else " (refused)"
        return (f"  +{self.at - started:7.2f}s {self.side:<10} {self.kind:<8} "
                f"{' '.join(self.keys)} {what} {self.note}{status}").rstrip()  # fmt: skip

    def as_json(self, started: float) -> dict[str, Any]:
        return {"t": round(self.at - started, 3), "side": self.side, "kind": self.kind,
                "keys": list(self.keys), "fields": {k: str(v) for k, v in self.fields.items()},
                "note": self.note, "ok": self.ok, "carried": self.carried}  # fmt: skip


class History:
    def __init__(self) -> None:
        self.started = time.time()
        self._operations: list[Operation] = []
        self._lock = threading.Lock()

    def log(self, side: str, kind: str, keys: Iterable[str], fields: dict[str, Any] | None = None,
            note: str = "", ok: bool = True, carried: dict[str, str] | None = None) -> Operation:  # fmt: skip
        operation = Operation(time.time(), side, kind, tuple(keys), dict(fields or {}), note, ok,
                              dict(carried or {}))  # fmt: skip
        with self._lock:
            self._operations.append(operation)
        return operation

    @property
    def operations(self) -> list[Operation]:
        with self._lock:
            return list(self._operations)

    def touching(self, keys: Iterable[str]) -> list[Operation]:
        wanted = set(keys)
        return [op for op in self.operations if wanted.intersection(op.keys)]

    def lines(self, keys: Iterable[str]) -> list[str]:
        return [op.line(self.started) for op in self.touching(keys)]
