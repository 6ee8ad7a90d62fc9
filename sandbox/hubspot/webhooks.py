"""Webhook delivery as HubSpot does it: signed POSTs of JSON arrays of up to 100 events,
sent from a background thread, retried with randomized delays, out of order on demand.

A change in the store becomes events (``company.propertyChange`` and friends) which this
module filters by the subscription, stamps with ids and attempt numbers, and delivers to
the subscription's target URL with v1 and v3 signatures built by the SDK's own
``Signature.get_signature``. Failed batches (connection error, timeout, 5xx, 429, other 4xx
except 400/401/403/404/405, which HubSpot does not retry) are tried up to 10 more times;
HubSpot spreads those over 24 hours, ``retry_scale`` shrinks the schedule for tests.
Faults can drop, duplicate or reorder events, and every outcome is counted in ``Faults``.
"""

from __future__ import annotations

import heapq
import itertools
import json
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests
from hubspot.utils.signature import Signature

from sandbox.faults import Faults

MAX_BATCH = 100
# Seconds before each retry, about 22 hours in all; each is randomized by RETRY_JITTER.
RETRY_SCHEDULE_S = (60, 120, 300, 600, 1800, 3600, 7200, 14400, 21600, 28800)
RETRY_JITTER = (0.75, 1.1)
NOT_RETRIED = {400, 401, 403, 404, 405}
SUBSCRIPTION_TYPES = (
    *(
        f"{obj}.{kind}"
        for obj in ("company", "contact")
        for kind in (
            "creation",
            "deletion",
            "propertyChange",
            "merge",
            "restore",
            "associationChange",
        )
    ),
    "contact.privacyDeletion",  # sent for a GDPR delete, which only contacts have
)


@dataclass(frozen=True, kw_only=True)
class WebhookSubscription:
    """Where events go and which ones. ``event_types=None`` means every type above;
    ``property_names=None`` means propertyChange for every property."""

    target_url: str
    client_secret: str = "sandbox-client-secret"
    app_id: int = 1_000_001
    event_types: frozenset[str] | None = None
    property_names: frozenset[str] | None = None

    def wants(self, event: dict[str, Any]) -> bool:
        kind = event["subscriptionType"]
        if self.event_types is not None and kind not in self.event_types:
            return False
        if kind.endswith(".propertyChange") and self.property_names is not None:
            return event["propertyName"] in self.property_names
        return True

    def subscription_id(self, kind: str) -> int:
        return self.app_id * 100 + SUBSCRIPTION_TYPES.index(kind) + 1


@dataclass(frozen=True, kw_only=True)
class WebhookFaults:
    """Share of events to lose, send twice, or hold back behind later ones."""

    drop: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    reorder_delay_s: float = 0.2


@dataclass(kw_only=True)
class WebhookOptions:
    retry_scale: float = 1.0
    timeout_s: float = 5.0
    max_retries: int = 10
    batch_window_s: float = 0.05
    max_concurrent: int = 10
    faults: WebhookFaults = field(default_factory=WebhookFaults)
    seed: int = 0


class WebhookDispatcher:
    def __init__(self, *, portal_id: int, options: WebhookOptions, faults: Faults) -> None:
        self.portal_id = portal_id
        self.options = options
        self.subscription: WebhookSubscription | None = None
        self._faults = faults
        self._random = random.Random(options.seed)
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, dict[str, Any]]] = []
        self._seq = itertools.count()
        self._outstanding = 0  # events queued or in flight
        self._stopping = False
        self._pool = ThreadPoolExecutor(
            max_workers=options.max_concurrent, thread_name_prefix="hubspot-webhook"
        )
        self._local = threading.local()
        self._thread = threading.Thread(target=self._run, name="hubspot-webhooks", daemon=True)
        self._thread.start()

    def enqueue(self, events: list[dict[str, Any]]) -> None:
        subscription = self.subscription
        if subscription is None or not events:
            return
        options, now = self.options, time.monotonic()
        with self._cond:
            for raw in events:
                if not subscription.wants(raw):
                    continue
                event = {
                    # HubSpot does not promise unique event ids; neither does the sandbox.
                    "eventId": self._random.randint(100, 4_294_967_295),
                    "subscriptionId": subscription.subscription_id(raw["subscriptionType"]),
                    "portalId": self.portal_id,
                    "appId": subscription.app_id,
                    "attemptNumber": 0,
                    **raw,
                }
                if self._random.random() < options.faults.drop:
                    self._faults.count_delivery("dropped")
                    continue
                copies = 1
                if self._random.random() < options.faults.duplicate:
                    self._faults.count_delivery("duplicated")
                    copies = 2
                for copy in range(copies):
                    due = now + options.batch_window_s * (1 + copy)
                    if self._random.random() < options.faults.reorder:
                        due += options.faults.reorder_delay_s
                    self._push(due, dict(event))
            self._cond.notify_all()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every event is delivered or given up; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._outstanding:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)

    # ---- internals ---------------------------------------------------------------------

    def _push(self, due: float, event: dict[str, Any]) -> None:
        heapq.heappush(self._heap, (due, next(self._seq), event))
        self._outstanding += 1

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and (
                    not self._heap or self._heap[0][0] > time.monotonic()
                ):
                    wait = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(wait)
                if self._stopping:
                    return
                batch: list[dict[str, Any]] = []
                now = time.monotonic()
                while self._heap and self._heap[0][0] <= now and len(batch) < MAX_BATCH:
                    batch.append(heapq.heappop(self._heap)[2])
            self._pool.submit(self._deliver, batch)

    def _deliver(self, batch: list[dict[str, Any]]) -> None:
        subscription = self.subscription
        if subscription is None:
            self._settle(len(batch))
            return
        status, retry_after = self._post(subscription, batch)
        if status is not None and 200 <= status < 300:
            self._finish(batch, "delivered")
            return
        if status in NOT_RETRIED:
            self._finish(batch, "failed")
            return
        # Retries are scheduled per event: a batch can mix fresh events with retried ones.
        spent = [e for e in batch if e["attemptNumber"] >= self.options.max_retries]
        self._finish(spent, "failed")
        now = time.monotonic()
        with self._cond:
            for event in batch:
                attempt = event["attemptNumber"]
                if attempt >= self.options.max_retries:
                    continue
                delay = float(RETRY_SCHEDULE_S[min(attempt, len(RETRY_SCHEDULE_S) - 1)])
                delay *= self._random.uniform(*RETRY_JITTER) * self.options.retry_scale
                if retry_after is not None:
                    delay = max(delay, retry_after)
                event["attemptNumber"] = attempt + 1
                heapq.heappush(self._heap, (now + delay, next(self._seq), event))
            self._cond.notify_all()

    def _finish(self, events: list[dict[str, Any]], outcome: str) -> None:
        for _ in events:
            self._faults.count_delivery(outcome)
        self._settle(len(events))

    def _settle(self, count: int) -> None:
        with self._cond:
            self._outstanding -= count
            self._cond.notify_all()

    def _post(
        self, subscription: WebhookSubscription, batch: list[dict[str, Any]]
    ) -> tuple[int | None, float | None]:
        body = json.dumps(batch, separators=(",", ":"))
        timestamp = str(int(time.time() * 1000))
        uri = subscription.target_url
        secret = subscription.client_secret
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "HubSpot Connect 2.0 (http://dev.hubspot.com/)",
            "X-HubSpot-Signature": Signature.get_signature(secret, body, "v1"),
            "X-HubSpot-Signature-Version": "v1",
            "X-HubSpot-Signature-v3": Signature.get_signature(
                secret, body, "v3", http_uri=uri, http_method="POST", timestamp=timestamp
            ),
            "X-HubSpot-Request-Timestamp": timestamp,
        }
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        try:
            response = session.post(
                uri, data=body.encode(), headers=headers, timeout=self.options.timeout_s
            )
        except requests.RequestException:
            return None, None
        retry_after = None
        if response.status_code == 429 and response.headers.get("Retry-After", "").isdigit():
            retry_after = float(response.headers["Retry-After"])
        return response.status_code, retry_after
