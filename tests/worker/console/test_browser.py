"""The console in a real headless Chromium (Debian's ``chromium``, driven by Playwright),
against the console served by uvicorn on a real socket, a migrated SQLite file, and the
HubSpot sandbox: sign in, pause a connection, replay a failure and see it resolved, link a
held duplicate, and, as a viewer, be refused every operator action. Screenshots of each
step are saved in the test's temporary folder.
"""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from connectors.credentials import Credentials
from customers import db, service
from customers.service import get_tenant
from customers.sync_state import Connection, DuplicateReview, ExternalLink, SyncFailure
from sandbox.hubspot import HubSpotSandbox
from tests.services import in_ci
from tests.worker.console.conftest import OPERATOR, PASSWORD, VIEWER, add_users
from worker.console.app import build_app
from worker.embedded import jobs_run_here
from worker.failures import record_failure
from worker.settings import get_settings
from worker.sync import connections
from worker.sync.passes import Sync

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
START_WAIT_S = 30.0


def chromium_path() -> str:
    if shutil.which(CHROMIUM) is None:
        message = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
        if in_ci():
            pytest.fail(f"{message}; CI needs it (tests never skip in CI)")
        pytest.skip(message)
    return CHROMIUM


class ServedConsole:
    """The console app served by uvicorn on a free port, on a thread of this process."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        app = build_app(get_settings(), sessions, host="127.0.0.1")
        config = uvicorn.Config(app, log_level="warning", ws="none", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )

    def __enter__(self) -> ServedConsole:
        self.thread.start()
        deadline = time.monotonic() + START_WAIT_S
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the console did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join()
        self.socket.close()


@pytest.fixture
def hubspot() -> Iterator[HubSpotSandbox]:
    with HubSpotSandbox(limits=None) as sandbox:
        yield sandbox


@pytest.fixture
def world(hubspot: HubSpotSandbox, console_sessions: sessionmaker[Session]) -> dict[str, int]:
    """Two local customers; a HubSpot company that looks like one of them, which an
    incremental sync holds for review; a categorization that failed for good."""
    sessions = console_sessions
    add_users(sessions)
    with db.transaction(sessions) as session:
        tenant_id = get_tenant(session, "default").id
        address = {"billing_street": "Ring 1", "billing_city": "Köln", "billing_country": "DE"}
        acme = service.create_customer(
            session, tenant_id, {"name": "Acme Corporation", "email": "ap@acme.io", **address}
        )
        globex = service.create_customer(
            session, tenant_id, {"name": "Globex", "email": "ap@globex.example", **address}
        )
        ids = {"acme": acme.id, "globex": globex.id}
    hubspot.create("companies", {"name": "ACME Corp.", "domain": "acme-corp.de", "city": "Köln"})
    with jobs_run_here():
        ids["connection"] = connections.connect(
            sessions,
            tenant_id=tenant_id,
            provider="hubspot",
            account_id=str(hubspot.portal_id),
            name="HubSpot sandbox",
            credentials=Credentials(access_token=hubspot.access_token),
            base_url=hubspot.url,
        )
        run = Sync(ids["connection"], sessions=sessions).incremental()
    assert run.counts.get("held") == 1, run.counts
    with db.transaction(sessions) as session:
        ids["review"] = session.scalars(select(DuplicateReview.id)).one()
        ids["failure"] = record_failure(
            session, direction="categorize", local_id=globex.id, object_type="customer",
            error=RuntimeError("the categorizer was down"),
            payload={"actor": "categorize_customer", "args": [globex.id], "kwargs": {}},
        ).id  # fmt: skip
    return ids


def read(sessions: sessionmaker[Session], model: type, row_id: int) -> str:
    with sessions() as session:
        return str(session.get(model, row_id).status)  # type: ignore[attr-defined]


# One database is enough here: the pages' queries run on both in test_access.
@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_an_operator_and_a_viewer_in_a_real_browser(
    world: dict[str, int], console_sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    executable = chromium_path()
    shots = tmp_path / "screenshots"
    shots.mkdir()
    sessions = console_sessions
    with ServedConsole(sessions) as served, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})

        def sign_in(email: str) -> None:
            page.goto(f"{served.url}/connections")
            expect(page).to_have_url(re.compile(r"/login\?next="))
            page.get_by_label("Email").fill(email)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            expect(page).to_have_url(f"{served.url}/connections")
            expect(page.locator("header .who")).to_contain_text(email)

        # Sign in as the operator; the connections page lists the sandbox portal.
        sign_in(OPERATOR)
        row = page.locator(f"#connection-{world['connection']}")
        expect(row.locator(".status")).to_have_text("active")
        expect(page.locator(".chart svg")).to_be_visible()

        # Pause the connection.
        row.get_by_role("button", name="Pause").click()
        expect(page.locator(".flash")).to_have_text(f"connection {world['connection']} paused")
        expect(row.locator(".status")).to_have_text("paused")
        page.screenshot(path=shots / "1-connection-paused.png", full_page=True)
        assert read(sessions, Connection, world["connection"]) == "paused"

        # Replay a failure from its page and see it resolved.
        page.get_by_role("link", name="Failures").click()
        page.get_by_role("link", name=str(world["failure"]), exact=True).click()
        expect(page.locator("#failure-status")).to_have_text("open")
        page.get_by_role("button", name="Replay").click()
        expect(page.locator(".flash")).to_have_text(f"replayed {world['failure']}")
        expect(page.locator("#failure-status")).to_have_text("resolved")
        page.screenshot(path=shots / "2-failure-resolved.png", full_page=True)
        assert read(sessions, SyncFailure, world["failure"]) == "resolved"

        # Link the held duplicate to the customer it is.
        page.get_by_role("link", name="Review queue").click()
        page.get_by_role("link", name="ACME Corp.").click()
        expect(page.locator(".side-by-side")).to_contain_text("Acme Corporation")
        page.screenshot(path=shots / "3-held-duplicate.png", full_page=True)
        page.get_by_role("button", name=f"Link to customer {world['acme']}").click()
        expect(page.locator(".flash")).to_have_text(
            f"held record {world['review']}: linked to customer {world['acme']}"
        )
        expect(page.locator("main")).to_contain_text("No CRM records are held for review.")
        assert read(sessions, DuplicateReview, world["review"]) == "linked"
        with sessions() as session:
            link = session.scalars(
                select(ExternalLink).where(ExternalLink.connection_id == world["connection"])
            ).one()
            assert link.local_id == world["acme"]

        page.get_by_role("button", name="Sign out").click()
        expect(page).to_have_url(f"{served.url}/login")

        # A viewer: the operator buttons are disabled, and each operator action is refused.
        sign_in(VIEWER)
        resume = row.get_by_role("button", name="Resume")
        expect(resume).to_be_disabled()
        resume.evaluate("button => { button.disabled = false; }")
        resume.click()
        expect(page.locator("h1")).to_have_text("Refused")
        expect(page.locator(".error")).to_contain_text("only an operator")
        page.screenshot(path=shots / "4-viewer-refused.png", full_page=True)
        page.go_back()
        csrf = page.locator('input[name="csrf"]').first.get_attribute("value")
        assert csrf
        connection = world["connection"]
        for path, form in (
            (f"/connections/{connection}/resume", {}),
            (f"/connections/{connection}/pause", {}),
            (f"/connections/{connection}/sync", {}),
            (f"/connections/{connection}/reconcile", {}),
            ("/failures/replay", {"id": str(world["failure"])}),
            ("/failures/dismiss", {"id": str(world["failure"]), "reason": "noise"}),
            (f"/reviews/{world['review']}/link", {"customer_id": str(world["acme"])}),
            (f"/reviews/{world['review']}/create", {}),
            (f"/reviews/{world['review']}/dismiss", {"reason": "not one"}),
        ):
            answer = page.request.post(
                served.url + path, form={**form, "csrf": csrf}, max_redirects=0
            )
            assert answer.status == 403, path
            assert "only an operator" in answer.text(), path
        assert read(sessions, Connection, world["connection"]) == "paused"
        assert read(sessions, SyncFailure, world["failure"]) == "resolved"
        browser.close()
