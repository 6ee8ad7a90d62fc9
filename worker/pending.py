"""Record ids waiting to be synced, gathered per (connection, object type).

Webhooks name records one or a few at a time, and a job per request would spend most of
its time on what every job costs (loading the connection, a run row, the connection's
lock). So the intake adds the ids it accepted to a pending set and sends one
``sync_pending`` job only when none is on its way already (the set is *armed*); the job
takes up to :data:`MAX_IDS` ids at once, oldest occurrence first, and fetches them in one
batch. The job keeps the set armed until it holds the connection's lock, then *hands
over*: if ids arrived meanwhile it sends the next job, which fetches them while this one
writes (with more than :data:`MAX_IDS` waiting, it sends it at once). So the batches grow
with the load (all that arrived during one write) and shrink to one id when it is quiet.
Deadlines are in the takers' clocks, which must agree to well within a lease (as Dramatiq's
own worker heartbeats assume).

At least once: taking ids *leases* them to the taker (a token with a deadline, renewed
while the job works); they are gone only when the taker acknowledges them after its
commit. A taker killed before that (SIGKILL, a lost machine) stops renewing; once its
lease and the arm it may hold expire, the next add for the same connection and object
type puts the ids of the lease back in front of the pending ones and sends a job for
them. (The killed job's own message is also redelivered by the broker, and the periodic
incremental sync reads what changed in any case.)

The store lives in the Redis of the shared state (``worker.shared_state``: the one that
also holds the locks and budgets), else in this process's memory (the embedded mode runs
every job in this process).

This module must not call a CRM or the database.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import redis

MAX_IDS = 100  # HubSpot's batch read limit; Salesforce retrieves 200 at a time
DEFAULT_LEASE_S = 30.0
KEY_PREFIX = "crmsync:pending:"


@dataclass(frozen=True)
class Taken:
    """Ids leased to one taker; ``more`` says ids were left pending (over :data:`MAX_IDS`)."""

    token: str
    ids: list[str]
    more: bool


class PendingStore(Protocol):
    def add(self, connection_id: int, object_type: str, ids: Iterable[tuple[str, float]]) -> bool:
        """Add (id, occurred-at in ms) pairs; True when the caller must send a job for them."""
        ...

    def disarm(self, connection_id: int, object_type: str) -> None:
        """Forget that a job is on its way (its sending failed)."""
        ...

    def take(self, connection_id: int, object_type: str, *, lease_s: float) -> Taken:
        """Lease up to :data:`MAX_IDS` ids, oldest first; the set stays armed."""
        ...

    def hand_over(self, connection_id: int, object_type: str) -> bool:
        """The job on its way is done taking: True when ids wait and the caller must send
        the next job (the set stays armed for it); else the set is disarmed."""
        ...

    def renew(self, connection_id: int, object_type: str, token: str, *, lease_s: float) -> bool:
        """Extend a lease; False when it has expired and its ids went back."""
        ...

    def ack(self, connection_id: int, object_type: str, token: str) -> None: ...

    def pending(self, connection_id: int, object_type: str) -> list[str]:
        """The ids waiting, oldest first (for tests and operators)."""
        ...


@contextmanager
def leased(
    store: PendingStore, connection_id: int, object_type: str, *, lease_s: float
) -> Iterator[Taken]:
    """Take pending ids and keep their lease alive while the block runs.

    They are acknowledged when the block ends normally; an exception leaves them leased,
    to come back when the lease expires."""
    taken = store.take(connection_id, object_type, lease_s=lease_s)
    if not taken.ids:
        yield taken
        return
    done = threading.Event()

    def renew() -> None:
        while not done.wait(lease_s / 3):
            try:
                if not store.renew(connection_id, object_type, taken.token, lease_s=lease_s):
                    return  # expired and given back: the next taker applies them again
            except redis.exceptions.ConnectionError:
                return

    heartbeat = threading.Thread(target=renew, name=f"lease-{taken.token[:8]}", daemon=True)
    heartbeat.start()
    try:
        yield taken
    finally:
        done.set()
        heartbeat.join()
    store.ack(connection_id, object_type, taken.token)


def _script(name: str) -> str:
    """A Lua script kept beside this module (shipped in the wheel with it)."""
    return Path(__file__).with_name(name).read_text(encoding="utf-8")


def _now_ms() -> int:
    return int(time.time() * 1000)


# -- Redis ---------------------------------------------------------------------------------

# The key layout and each script's KEYS and ARGV are described in the .lua files. Every
# script but the acknowledgement first gives back the ids of expired leases: the reclaim
# function is put in front of it.
_RECLAIM = _script("pending_reclaim.lua")
_ADD = _RECLAIM + _script("pending_add.lua")
_TAKE = _RECLAIM + _script("pending_take.lua")
_HAND_OVER = _RECLAIM + _script("pending_hand_over.lua")
_ACK = _script("pending_ack.lua")


class RedisPending:
    """Pending ids in Redis, shared by the webhooks app and every worker process."""

    def __init__(self, client: redis.Redis, *, armed_ttl_s: float = DEFAULT_LEASE_S) -> None:
        self._client = client
        self._armed_ttl_ms = int(armed_ttl_s * 1000)
        self._add = client.register_script(_ADD)
        self._take = client.register_script(_TAKE)
        self._hand_over = client.register_script(_HAND_OVER)
        self._ack = client.register_script(_ACK)

    @staticmethod
    def _keys(connection_id: int, object_type: str) -> tuple[str, str, str, str]:
        base = f"{KEY_PREFIX}{connection_id}:{object_type}"
        return base, f"{base}:armed", f"{base}:leases", f"{base}:lease:"

    def add(self, connection_id: int, object_type: str, ids: Iterable[tuple[str, float]]) -> bool:
        pending, armed, leases, prefix = self._keys(connection_id, object_type)
        pairs: list[str | int] = []
        for external_id, occurred_ms in ids:
            pairs += [int(occurred_ms), external_id]
        args: list[str | int] = [prefix, _now_ms(), self._armed_ttl_ms, *pairs]
        return bool(self._add(keys=[pending, armed, leases], args=args))

    def disarm(self, connection_id: int, object_type: str) -> None:
        self._client.delete(self._keys(connection_id, object_type)[1])

    def take(self, connection_id: int, object_type: str, *, lease_s: float) -> Taken:
        pending, armed, leases, prefix = self._keys(connection_id, object_type)
        token = uuid.uuid4().hex
        now = _now_ms()
        args: list[str | int] = [prefix, now, token, now + int(lease_s * 1000), MAX_IDS]
        left, *ids = self._take(keys=[pending, armed, leases], args=args)
        return Taken(token, [_text(value) for value in ids], more=int(left) > 0)

    def hand_over(self, connection_id: int, object_type: str) -> bool:
        pending, armed, leases, prefix = self._keys(connection_id, object_type)
        args: list[str | int] = [prefix, _now_ms(), self._armed_ttl_ms]
        return bool(self._hand_over(keys=[pending, armed, leases], args=args))

    def renew(self, connection_id: int, object_type: str, token: str, *, lease_s: float) -> bool:
        leases = self._keys(connection_id, object_type)[2]
        deadline = _now_ms() + int(lease_s * 1000)
        self._client.zadd(leases, {token: deadline}, xx=True)  # only a lease still held
        return self._client.zscore(leases, token) is not None

    def ack(self, connection_id: int, object_type: str, token: str) -> None:
        _, _, leases, prefix = self._keys(connection_id, object_type)
        self._ack(keys=[leases, prefix + token], args=[token])

    def pending(self, connection_id: int, object_type: str) -> list[str]:
        key = self._keys(connection_id, object_type)[0]
        return [_text(value) for value in self._client.zrange(key, 0, -1)]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


# -- in-process ----------------------------------------------------------------------------


@dataclass
class _Lease:
    deadline_ms: int
    ids: dict[str, float]


@dataclass
class _Slot:
    pending: dict[str, float]
    leases: dict[str, _Lease]
    armed_until_ms: int = 0


class MemoryPending:
    """Pending ids in this process, for the in-process broker; same rules as in Redis."""

    def __init__(self, *, armed_ttl_s: float = DEFAULT_LEASE_S) -> None:
        self._guard = threading.Lock()
        self._slots: dict[tuple[int, str], _Slot] = {}
        self._armed_ttl_ms = int(armed_ttl_s * 1000)

    def _slot(self, connection_id: int, object_type: str, now: int) -> _Slot:
        slot = self._slots.setdefault((connection_id, object_type), _Slot({}, {}))
        for token, lease in list(slot.leases.items()):
            if lease.deadline_ms <= now:
                del slot.leases[token]
                _merge(slot.pending, lease.ids.items())
        return slot

    def add(self, connection_id: int, object_type: str, ids: Iterable[tuple[str, float]]) -> bool:
        now = _now_ms()
        with self._guard:
            slot = self._slot(connection_id, object_type, now)
            _merge(slot.pending, ids)
            if not slot.pending or slot.armed_until_ms > now:
                return False
            slot.armed_until_ms = now + self._armed_ttl_ms
            return True

    def disarm(self, connection_id: int, object_type: str) -> None:
        with self._guard:
            self._slot(connection_id, object_type, _now_ms()).armed_until_ms = 0

    def take(self, connection_id: int, object_type: str, *, lease_s: float) -> Taken:
        now = _now_ms()
        token = uuid.uuid4().hex
        with self._guard:
            slot = self._slot(connection_id, object_type, now)
            ordered = sorted(slot.pending.items(), key=lambda pair: (pair[1], pair[0]))
            chosen = dict(ordered[:MAX_IDS])
            for external_id in chosen:
                del slot.pending[external_id]
            if chosen:
                slot.leases[token] = _Lease(now + int(lease_s * 1000), chosen)
            return Taken(token, list(chosen), more=bool(slot.pending))

    def hand_over(self, connection_id: int, object_type: str) -> bool:
        now = _now_ms()
        with self._guard:
            slot = self._slot(connection_id, object_type, now)
            slot.armed_until_ms = now + self._armed_ttl_ms if slot.pending else 0
            return bool(slot.pending)

    def renew(self, connection_id: int, object_type: str, token: str, *, lease_s: float) -> bool:
        with self._guard:
            lease = self._slot(connection_id, object_type, _now_ms()).leases.get(token)
            if lease is None:
                return False
            lease.deadline_ms = _now_ms() + int(lease_s * 1000)
            return True

    def ack(self, connection_id: int, object_type: str, token: str) -> None:
        with self._guard:
            self._slot(connection_id, object_type, _now_ms()).leases.pop(token, None)

    def pending(self, connection_id: int, object_type: str) -> list[str]:
        with self._guard:
            slot = self._slot(connection_id, object_type, _now_ms())
            return [i for i, _ in sorted(slot.pending.items(), key=lambda p: (p[1], p[0]))]

    def clear(self) -> None:
        with self._guard:
            self._slots.clear()


def _merge(pending: dict[str, float], ids: Iterable[tuple[str, float]]) -> None:
    """Add ids, keeping each one's earliest occurrence (its place in the line)."""
    for external_id, occurred_ms in ids:
        known = pending.get(external_id)
        pending[external_id] = occurred_ms if known is None else min(known, occurred_ms)


in_process = MemoryPending()  # the embedded mode's store


def store_for(client: redis.Redis | None, *, lease_s: float = DEFAULT_LEASE_S) -> PendingStore:
    """The store in ``client``'s Redis, or, without one, this process's memory
    (``worker.shared_state.pending_ids`` picks the client)."""
    if client is not None:
        return RedisPending(client, armed_ttl_s=lease_s)
    return in_process
