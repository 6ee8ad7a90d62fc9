"""Outbound Messages: SOAP notifications POSTed to a listener when records change.

A registration names a listener URL, an object (Account or Contact) and the fields to
send, like an Outbound Message action on a workflow rule "created, and every time it's
edited". Each create, edit or undelete queues one notification per matching
registration. A background thread sends due notifications, up to 100 per message, with
the record's values *at send time* (Salesforce sends the latest values, not the ones of
the change). Anything but a SOAP reply with ``<Ack>true</Ack>`` leaves them queued, to be
retried with exponentially growing gaps capped at two hours, and dropped once a day old.
``time_scale`` shrinks that schedule (and the batching window) so tests take seconds.

Faults (:class:`sandbox.faults.Faults` endpoint keys): ``outbound.drop`` loses a message
in transit (it is retried, as an unacknowledged one would be), ``outbound.duplicate``
sends it twice, ``outbound.reorder`` sends its notifications one per message, newest
first; ``outbound.send`` latency delays a send. Outcomes are counted with
``faults.count_delivery``: sent, acked, nacked, failed, dropped, duplicated, reordered,
expired.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import requests

from .org import Org
from .soap import envelope, is_ack, notification_xml

MAX_NOTIFICATIONS_PER_MESSAGE = 100
FIRST_RETRY_S = 15.0
MAX_RETRY_INTERVAL_S = 2 * 60 * 60
GIVE_UP_AFTER_S = 24 * 60 * 60
BATCH_WINDOW_S = 1.0  # changes this close together go out in one message
DEFAULT_TIMEOUT_S = 10.0
NOTIFY_ON = frozenset({"created", "updated", "undeleted"})


@dataclass(frozen=True)
class Registration:
    id: str
    endpoint_url: str
    object_name: str
    fields: tuple[str, ...]
    send_session_id: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "endpoint_url": self.endpoint_url,
            "object": self.object_name,
            "fields": list(self.fields),
            "send_session_id": self.send_session_id,
        }


@dataclass
class Pending:
    notification_id: str
    registration_id: str
    record_id: str
    queued_at: float
    due_at: float
    attempts: int = 0


@dataclass
class OutboundMessenger:
    org: Org
    time_scale: float = 1.0
    timeout_s: float = DEFAULT_TIMEOUT_S
    verify: bool | str = True
    api_version: str = "59.0"
    registrations: dict[str, Registration] = field(default_factory=dict)
    _pending: list[Pending] = field(default_factory=list)
    _in_flight: int = 0
    _paused: bool = False

    def __post_init__(self) -> None:
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._http = requests.Session()
        self._http.verify = self.verify
        # Listeners are local test doubles: no proxies or CA bundles from the environment
        # (requests would let REQUESTS_CA_BUNDLE override ``verify``).
        self._http.trust_env = False
        self.org.store.subscribe(self.on_change)

    # --- registration and queueing -----------------------------------------------------

    def register(
        self,
        endpoint_url: str,
        object_name: str,
        fields: list[str],
        *,
        send_session_id: bool = False,
    ) -> Registration:
        obj = self.org.store.schema.get(object_name)
        if obj is None:
            raise ValueError(f"outbound messages are for Account or Contact, not {object_name!r}")
        names = ["Id"]
        for name in fields:
            definition = obj.field(name)
            if definition is None:
                raise ValueError(f"{object_name} has no field {name!r}")
            if definition.name not in names:
                names.append(definition.name)
        registration = Registration(
            self.org.ids.new("WorkflowOutboundMessage"),
            endpoint_url,
            obj.name,
            tuple(names),
            send_session_id,
        )
        with self._cond:
            self.registrations[registration.id] = registration
        return registration

    def unregister(self, registration_id: str) -> None:
        with self._cond:
            self.registrations.pop(registration_id, None)
            self._pending = [p for p in self._pending if p.registration_id != registration_id]
            self._cond.notify_all()

    def on_change(self, object_name: str, record_id: str, change: str) -> None:
        if change not in NOTIFY_ON:
            return
        now = time.monotonic()
        with self._cond:
            for registration in self.registrations.values():
                if registration.object_name == object_name:
                    self._pending.append(
                        Pending(
                            self.org.ids.new("OutboundMessageNotification"),
                            registration.id,
                            record_id,
                            queued_at=now,
                            due_at=now + BATCH_WINDOW_S * self.time_scale,
                        )
                    )
            self._cond.notify_all()

    @property
    def pending_count(self) -> int:
        with self._cond:
            return len(self._pending) + self._in_flight

    def pause(self) -> None:
        with self._cond:
            self._paused = True

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued notification was acknowledged or expired."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.05))
        return True

    # --- the delivery thread ---------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="sf-outbound", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout_s + 1)
            self._thread = None
        self._http.close()

    def _take_due(self) -> tuple[Registration, list[Pending]] | None:
        """Due notifications of one registration (at most 100), or None; holds the lock."""
        if self._paused:
            return None
        now = time.monotonic()
        for registration in self.registrations.values():
            due = [
                p for p in self._pending if p.registration_id == registration.id and p.due_at <= now
            ]
            if due:
                batch = due[:MAX_NOTIFICATIONS_PER_MESSAGE]
                taken = {id(p) for p in batch}
                self._pending = [p for p in self._pending if id(p) not in taken]
                self._in_flight += len(batch)
                return registration, batch
        return None

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                work = self._take_due()
                if work is None:
                    upcoming = [p.due_at for p in self._pending]
                    wait = (
                        min(upcoming) - time.monotonic() if upcoming and not self._paused else 0.2
                    )
                    self._cond.wait(max(0.001, min(wait, 0.2)))
                    continue
            registration, batch = work
            unacknowledged = self._deliver(registration, batch)
            with self._cond:
                self._in_flight -= len(batch)
                self._reschedule(unacknowledged)
                self._cond.notify_all()

    def _reschedule(self, batch: list[Pending]) -> None:
        now = time.monotonic()
        for item in batch:
            item.attempts += 1
            if now - item.queued_at >= GIVE_UP_AFTER_S * self.time_scale:
                self.org.faults.count_delivery("expired")
                continue
            gap = min(FIRST_RETRY_S * 2 ** (item.attempts - 1), MAX_RETRY_INTERVAL_S)
            item.due_at = now + gap * self.time_scale
            self._pending.append(item)

    def _payload(self, registration: Registration, batch: list[Pending]) -> bytes:
        org = self.org
        notifications = []
        with org.store.lock:
            for item in batch:
                record = org.store.records[registration.object_name][item.record_id]
                values = {name: record[name] for name in registration.fields}
                notifications.append(
                    notification_xml(item.notification_id, registration.object_name, values)
                )
        short_org = org.org_id[:15]
        return envelope(
            organization_id=org.org_id,
            action_id=registration.id,
            session_id=org.sessions.issue() if registration.send_session_id else None,
            enterprise_url=f"{org.instance_url}/services/Soap/c/{self.api_version}/{short_org}",
            partner_url=f"{org.instance_url}/services/Soap/u/{self.api_version}/{short_org}",
            notifications=notifications,
        )

    def _deliver(self, registration: Registration, batch: list[Pending]) -> list[Pending]:
        """Send a batch; returns the notifications that were not acknowledged."""
        faults = self.org.faults
        if faults.decide("outbound.drop") is not None:
            faults.count_delivery("dropped")
            return batch
        messages = [batch]
        if len(batch) > 1 and faults.decide("outbound.reorder") is not None:
            faults.count_delivery("reordered")
            messages = [[item] for item in reversed(batch)]
        unacknowledged: list[Pending] = []
        for message in messages:
            payload = self._payload(registration, message)
            copies = 1
            if faults.decide("outbound.duplicate") is not None:
                faults.count_delivery("duplicated")
                copies = 2
            acked = [self._post(registration.endpoint_url, payload) for _ in range(copies)]
            if not any(acked):
                unacknowledged.extend(message)
        return unacknowledged

    def _post(self, url: str, payload: bytes) -> bool:
        faults = self.org.faults
        decision = faults.decide("outbound.send")
        if decision is not None and decision.delay_s:
            self._stop.wait(decision.delay_s)
        faults.count_delivery("sent")
        try:
            response = self._http.post(
                url,
                data=payload,
                headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'},
                timeout=self.timeout_s,
            )
        except requests.RequestException:
            faults.count_delivery("failed")
            return False
        if response.status_code == 200 and is_ack(response.content):
            faults.count_delivery("acked")
            return True
        faults.count_delivery("nacked")
        return False
