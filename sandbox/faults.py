"""Faults on demand and call counters, shared by the HubSpot and Salesforce sandboxes.

A fault rule names an endpoint key (the app's own name for a route, e.g.
``"companies.list"``; ``"*"`` matches every endpoint; a trailing ``*`` matches a prefix)
and what to do to a share of its calls: answer with an error status, stall past the
client's timeout, or add latency. Each app decides how an error *looks* (HubSpot and
Salesforce bodies differ); this module only decides *whether* and *which*.

Randomness comes from one seeded generator so a faulted run can be repeated.
"""

from __future__ import annotations

import fnmatch
import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

FaultKind = Literal["error", "timeout", "latency"]

# A "timeout" fault stalls the response this long, which is longer than any client in
# this project waits.
TIMEOUT_STALL_S = 30.0


@dataclass(frozen=True, kw_only=True)
class FaultRule:
    endpoint: str
    rate: float = 1.0
    kind: FaultKind = "error"
    status: int = 500
    latency_s: float = 0.0
    remaining: int | None = None  # apply at most this many times, then the rule retires

    def matches(self, endpoint: str) -> bool:
        return fnmatch.fnmatchcase(endpoint, self.endpoint)


@dataclass(frozen=True)
class FaultDecision:
    kind: FaultKind
    status: int = 500
    delay_s: float = 0.0


@dataclass
class Faults:
    """Fault rules plus the counters every sandbox request and webhook delivery bumps."""

    seed: int = 0
    rules: list[FaultRule] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)
    deliveries: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._random = random.Random(self.seed)
        self._uses: dict[int, int] = {}

    def add(self, rule: FaultRule) -> FaultRule:
        if not 0.0 <= rule.rate <= 1.0:
            raise ValueError(f"fault rate must be between 0 and 1, got {rule.rate}")
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()
            self._uses.clear()

    def reset_counters(self) -> None:
        with self._lock:
            self.calls.clear()
            self.deliveries.clear()

    def count_call(self, endpoint: str) -> None:
        with self._lock:
            self.calls[endpoint] += 1

    def count_delivery(self, outcome: str) -> None:
        with self._lock:
            self.deliveries[outcome] += 1

    def decide(self, endpoint: str) -> FaultDecision | None:
        """What, if anything, to do to this call. Latency rules add up; the first
        matching error or timeout rule that fires wins."""
        delay = 0.0
        with self._lock:
            for rule in list(self.rules):
                if not rule.matches(endpoint):
                    continue
                if rule.remaining is not None and self._uses.get(id(rule), 0) >= rule.remaining:
                    continue
                if self._random.random() >= rule.rate:
                    continue
                self._uses[id(rule)] = self._uses.get(id(rule), 0) + 1
                if rule.kind == "latency":
                    delay += rule.latency_s
                    continue
                if rule.kind == "timeout":
                    return FaultDecision("timeout", delay_s=delay + TIMEOUT_STALL_S)
                return FaultDecision("error", status=rule.status, delay_s=delay)
        return FaultDecision("latency", delay_s=delay) if delay else None

    def snapshot(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {"calls": dict(self.calls), "deliveries": dict(self.deliveries)}
