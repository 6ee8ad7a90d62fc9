"""A job as a failure row keeps it: its name and arguments, in one shape.

A failure row's ``payload`` is ``{"actor": name, "args": [...], "kwargs": {...}}``, plain
JSON. :class:`JobCall` is the one place that shape is built (:meth:`JobCall.payload`) and
read (:meth:`JobCall.from_payload`); replaying a row sends the call again
(``worker.jobs.enqueue.replay``), which re-reads current state rather than re-sending a
stale copy.

This module must not import the broker or the database: the sync engine, the retry policy
and the operator's failure commands all build or read payloads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class JobCall:
    """A job by name with its arguments (plain JSON values)."""

    actor: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, actor: str, *args: Any, **kwargs: Any) -> JobCall:
        return cls(actor, tuple(args), dict(kwargs))

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any] | None) -> JobCall:
        """The call a failure row's payload describes; ``args`` and ``kwargs`` may be left
        out. Raises ``ValueError`` saying what is wrong when it describes no call."""
        if not isinstance(payload, Mapping):
            raise ValueError("the payload is not an object")
        actor, args, kwargs = (
            payload.get("actor"),
            payload.get("args", []),
            payload.get("kwargs", {}),
        )
        if not isinstance(actor, str) or not actor:
            raise ValueError("the payload names no job")
        if not isinstance(args, list):
            raise ValueError("the payload's args are not a list")
        if not isinstance(kwargs, Mapping):
            raise ValueError("the payload's kwargs are not an object")
        return cls(actor, tuple(args), dict(kwargs))

    def payload(self) -> dict[str, Any]:
        """The call as a failure row keeps it."""
        return {"actor": self.actor, "args": list(self.args), "kwargs": dict(self.kwargs)}
