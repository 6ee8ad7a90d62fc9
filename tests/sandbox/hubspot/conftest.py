"""Fixtures for the HubSpot sandbox tests: sandboxes on real sockets (port 0), the unchanged
SDK pointed at them, one shared read-only portal of 25,000 companies, and a real local
HTTP receiver for webhooks."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hubspot import HubSpot
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.hubspot import HubSpotSandbox
from sandbox.runner import ServerThread
from sandbox.seed import generate_companies

BIG_PORTAL_COMPANIES = 25_000


def sdk_client(sandbox: HubSpotSandbox, token: str | None = None) -> HubSpot:
    """The official SDK, unchanged, talking to the sandbox over its socket."""
    return HubSpot(access_token=token or sandbox.access_token, host=sandbox.url)


@pytest.fixture
def make_hubspot_sandbox() -> Iterator[Callable[..., HubSpotSandbox]]:
    """Build and start sandboxes with any options; all are stopped afterwards."""
    started: list[HubSpotSandbox] = []

    def make(**options: Any) -> HubSpotSandbox:
        options.setdefault("limits", None)
        options.setdefault("webhook_retry_scale", 1e-4)
        sandbox = HubSpotSandbox(**options).start()
        started.append(sandbox)
        return sandbox

    yield make
    for sandbox in started:
        sandbox.stop()


@pytest.fixture
def hubspot_sandbox(make_hubspot_sandbox: Callable[..., HubSpotSandbox]) -> HubSpotSandbox:
    """An empty portal with rate limits off."""
    return make_hubspot_sandbox()


@pytest.fixture
def hubspot_client(hubspot_sandbox: HubSpotSandbox) -> HubSpot:
    return sdk_client(hubspot_sandbox)


@pytest.fixture(scope="session")
def big_hubspot_portal() -> Iterator[HubSpotSandbox]:
    """25,000 seeded companies, limits off. Shared: tests must only read from it."""
    sandbox = HubSpotSandbox(limits=None)
    sandbox.seed(generate_companies(BIG_PORTAL_COMPANIES, seed=7))
    sandbox.start()
    yield sandbox
    sandbox.stop()


@dataclass
class ReceivedRequest:
    url: str
    method: str
    headers: dict[str, str]
    body: str


@dataclass
class WebhookReceiver:
    """A real HTTP endpoint that records each POST and answers with scripted statuses."""

    statuses: list[int] = field(default_factory=list)  # answered in order, then 204
    received: list[ReceivedRequest] = field(default_factory=list)
    url: str = ""

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    async def handle(self, request: Request) -> Response:
        body = (await request.body()).decode()
        with self._lock:
            self.received.append(
                ReceivedRequest(str(request.url), request.method, dict(request.headers), body)
            )
            status = self.statuses.pop(0) if self.statuses else 204
        return Response(status_code=status)

    def events(self, *, acknowledged_only: bool = False) -> list[dict[str, Any]]:
        import json

        return [event for request in self.received for event in json.loads(request.body)]


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    app = Starlette(routes=[Route("/hooks/hubspot", receiver.handle, methods=["POST"])])
    server = ServerThread(app).start()
    receiver.url = f"{server.url}/hooks/hubspot"
    yield receiver
    server.stop()
