"""The console's walls, driven over HTTP with Starlette's TestClient: sign-in, CSRF on
every form, the viewer's refusals, another tenant's ids, bad input, and the body limit."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from customers.models import Tenant
from customers.sync_state import Connection, DuplicateReview, SyncFailure
from tests.worker.console.conftest import OPERATOR, OUTSIDER, PASSWORD, VIEWER, Seeded
from worker.console import users
from worker.console.app import build_app
from worker.settings import get_settings


@pytest.fixture
def app_client(seeded: Seeded, console_sessions: sessionmaker[Session]) -> Iterator[TestClient]:
    # https: the session cookie is Secure (the console is not on a loopback address here).
    app = build_app(get_settings(), console_sessions, host="0.0.0.0")
    with TestClient(app, base_url="https://console.test", follow_redirects=False) as client:
        yield client


def csrf_of(client: TestClient, path: str = "/login") -> str:
    page = client.get(path)
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


def sign_in(client: TestClient, email: str) -> str:
    answer = client.post(
        "/login", data={"csrf": csrf_of(client), "email": email, "password": PASSWORD}
    )
    assert answer.status_code == 303, answer.text
    return csrf_of(client, "/connections")


def status_of(sessions: sessionmaker[Session], model: type, row_id: int) -> str:
    with sessions() as session:
        return str(session.get(model, row_id).status)  # type: ignore[attr-defined]


def operator_posts(seeded: Seeded) -> list[tuple[str, dict[str, str]]]:
    ours = seeded.ours
    return [
        (f"/connections/{ours['connection']}/pause", {}),
        (f"/connections/{ours['connection']}/resume", {}),
        (f"/connections/{ours['connection']}/sync", {}),
        (f"/connections/{ours['connection']}/reconcile", {}),
        ("/failures/replay", {"id": str(ours["failure"])}),
        ("/failures/dismiss", {"id": str(ours["failure"]), "reason": "noise"}),
        (f"/reviews/{ours['review']}/link", {"customer_id": str(ours["acme"])}),
        (f"/reviews/{ours['review']}/create", {}),
        (f"/reviews/{ours['review']}/dismiss", {"reason": "not a duplicate"}),
    ]


PAGES = ["/connections", "/runs", "/failures", "/conflicts", "/reviews", "/customers", "/chart.svg"]


def test_unauthenticated_requests_go_to_sign_in(app_client: TestClient, seeded: Seeded) -> None:
    for path in [
        *PAGES,
        f"/failures/{seeded.ours['failure']}",
        f"/customers/{seeded.ours['acme']}",
    ]:
        answer = app_client.get(path)
        assert answer.status_code == 303 and answer.headers["location"].startswith(
            "/login?next="
        ), path
    for path, form in operator_posts(seeded):
        answer = app_client.post(path, data=form)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login"), path


def test_sign_in_sets_a_strict_secure_cookie_and_a_wrong_password_is_refused(
    app_client: TestClient,
) -> None:
    wrong = app_client.post(
        "/login", data={"csrf": csrf_of(app_client), "email": OPERATOR, "password": "nope"}
    )
    assert wrong.status_code == 401 and "do not match" in wrong.text
    unknown = app_client.post(
        "/login", data={"csrf": csrf_of(app_client), "email": "who@x.test", "password": "nope"}
    )
    assert unknown.status_code == 401 and unknown.text.count("do not match") == 1
    answer = app_client.post(
        "/login",
        data={"csrf": csrf_of(app_client), "email": OPERATOR.upper(), "password": PASSWORD},
    )
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"].lower()
    assert "samesite=strict" in cookie and "secure" in cookie and "httponly" in cookie
    assert app_client.get("/connections").status_code == 200


def test_failed_sign_ins_are_limited(app_client: TestClient) -> None:
    for _ in range(10):
        app_client.post(
            "/login", data={"csrf": csrf_of(app_client), "email": VIEWER, "password": "x"}
        )
    blocked = app_client.post(
        "/login", data={"csrf": csrf_of(app_client), "email": VIEWER, "password": PASSWORD}
    )
    assert blocked.status_code == 429
    assert app_client.get("/connections").status_code == 303  # not signed in


def test_every_post_needs_the_sessions_csrf_token(
    app_client: TestClient, seeded: Seeded, console_sessions: sessionmaker[Session]
) -> None:
    sign_in(app_client, OPERATOR)
    for path, form in operator_posts(seeded):
        assert app_client.post(path, data=form).status_code == 403, path
        assert app_client.post(path, data={**form, "csrf": "forged"}).status_code == 403, path
    assert app_client.post("/logout").status_code == 403
    assert status_of(console_sessions, Connection, seeded.ours["connection"]) == "active"
    assert status_of(console_sessions, SyncFailure, seeded.ours["failure"]) == "open"
    fresh = TestClient(app_client.app, base_url="https://console.test")
    assert fresh.post("/login", data={"email": OPERATOR, "password": PASSWORD}).status_code == 403


def test_a_viewer_reads_everything_and_is_refused_every_action(
    app_client: TestClient, seeded: Seeded, console_sessions: sessionmaker[Session]
) -> None:
    csrf = sign_in(app_client, VIEWER)
    for path in PAGES:
        assert app_client.get(path).status_code == 200, path
    for path, form in operator_posts(seeded):
        answer = app_client.post(path, data={**form, "csrf": csrf})
        assert answer.status_code == 403 and "only an operator" in answer.text, path
    assert status_of(console_sessions, Connection, seeded.ours["connection"]) == "active"
    assert status_of(console_sessions, SyncFailure, seeded.ours["failure"]) == "open"
    assert app_client.post("/logout", data={"csrf": csrf}).status_code == 303


def test_another_tenants_ids_answer_like_missing_ones(
    app_client: TestClient, seeded: Seeded
) -> None:
    csrf = sign_in(app_client, OPERATOR)
    theirs = seeded.theirs
    for path in (f"/runs/{theirs['run']}", f"/failures/{theirs['failure']}", f"/conflicts/{theirs['conflict']}",
                 f"/reviews/{theirs['review']}", f"/customers/{theirs['acme']}",
                 "/runs/99999999", "/customers/2147483648", "/failures/99999999999999999999"):  # fmt: skip
        assert app_client.get(path).status_code == 404, path
    for path, form in (
        (f"/connections/{theirs['connection']}/pause", {}),
        (f"/connections/{theirs['connection']}/sync", {}),
        ("/failures/replay", {"id": str(theirs["failure"])}),
        ("/failures/dismiss", {"id": str(theirs["failure"]), "reason": "x"}),
        (f"/reviews/{theirs['review']}/link", {"customer_id": str(theirs["acme"])}),
        (f"/reviews/{seeded.ours['review']}/link", {"customer_id": str(theirs["acme"])}),
    ):
        assert app_client.post(path, data={**form, "csrf": csrf}).status_code == 404, path
    listed = app_client.get("/failures?status=all").text
    assert f'href="/failures/{theirs["failure"]}"' not in listed
    assert f'href="/failures/{seeded.ours["failure"]}"' in listed


def test_an_outsider_sees_only_their_own_tenant(app_client: TestClient, seeded: Seeded) -> None:
    sign_in(app_client, OUTSIDER)
    assert app_client.get(f"/failures/{seeded.theirs['failure']}").status_code == 200
    assert app_client.get(f"/failures/{seeded.ours['failure']}").status_code == 404


def test_bad_input_is_a_4xx_naming_the_field(app_client: TestClient, seeded: Seeded) -> None:
    csrf = sign_in(app_client, OPERATOR)
    for path, field in (
        ("/failures?connection=abc", "connection"), ("/failures?since=yesterday", "since"),
        ("/failures?since=99999999999d", "since"), ("/failures?direction=sideways", "direction"),
        ("/failures?status=weird", "status"), ("/runs?kind=nap", "kind"),
        ("/runs?connection=-1", "connection"), ("/conflicts?customer=1e9", "customer"),
    ):  # fmt: skip
        answer = app_client.get(path)
        assert answer.status_code == 400 and field in answer.text, path
    assert app_client.get("/customers?q=%ff" + "x" * 500).status_code == 200
    nul = app_client.get("/customers?q=%00%ff")  # refused as every NUL is (see below)
    assert nul.status_code == 400 and "q: holds a NUL character" in nul.text
    for path, form in (
        ("/failures/replay", {}),
        ("/failures/replay", {"id": "x"}),
        ("/failures/dismiss", {"id": str(seeded.ours["failure"]), "reason": " "}),
        (f"/reviews/{seeded.ours['review']}/link", {"customer_id": ""}),
        (f"/reviews/{seeded.ours['review']}/dismiss", {"reason": ""}),
    ):
        assert app_client.post(path, data={**form, "csrf": csrf}).status_code == 400, (path, form)
    too_big = app_client.post(
        "/failures/dismiss", data={"csrf": csrf, "id": "1", "reason": "x" * 100_000}
    )
    assert too_big.status_code == 413


def test_failure_detail_masks_credentials(app_client: TestClient, seeded: Seeded) -> None:
    sign_in(app_client, VIEWER)
    page = app_client.get(f"/failures/{seeded.ours['secretive']}")
    assert page.status_code == 200
    assert "pat-na1-secret-value" not in page.text and "***" in page.text


def test_pages_show_the_seeded_history(app_client: TestClient, seeded: Seeded) -> None:
    sign_in(app_client, VIEWER)
    conflict = app_client.get(f"/conflicts/{seeded.ours['conflict']}").text
    for shown in ("phone", "+49 221 1", "+49 221 2", "+49 221 3", "two-way", "crm won"):
        assert shown in conflict
    customer = app_client.get(f"/customers/{seeded.ours['acme']}").text
    assert f"/conflicts/{seeded.ours['conflict']}" in customer
    assert "erp: C-1001" in customer  # its alias
    globex = app_client.get(f"/customers/{seeded.ours['globex']}").text
    assert f"/failures/{seeded.ours['failure']}" in globex
    review = app_client.get(f"/reviews/{seeded.ours['review']}").text
    assert "ACME Corp." in review and "Acme Corporation" in review
    chart = app_client.get("/chart.svg")
    assert chart.headers["content-type"].startswith("image/svg+xml")
    assert "9 in 7 days" in chart.text  # 4 created + 3 updated + 2 contacts created


def test_sign_in_returns_to_the_page_asked_for_and_never_off_site(app_client: TestClient) -> None:
    for asked, landed in (
        ("/failures?status=all", "/failures?status=all"),
        ("//evil.test/x", "/connections"),
        ("https://evil.test/", "/connections"),
        ("/\\evil.test", "/connections"),
    ):
        app_client.cookies.clear()
        answer = app_client.post(
            "/login",
            data={
                "csrf": csrf_of(app_client),
                "email": VIEWER,
                "password": PASSWORD,
                "next": asked,
            },
        )
        assert answer.status_code == 303 and answer.headers["location"] == landed, asked


def test_pages_carry_security_headers(app_client: TestClient) -> None:
    answer = app_client.get("/login")
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert app_client.get("/no-such-page").status_code == 404


def test_an_operator_acts_on_one_or_many(
    app_client: TestClient, seeded: Seeded, console_sessions: sessionmaker[Session]
) -> None:
    csrf = sign_in(app_client, OPERATOR)
    ours = seeded.ours
    both = [str(ours["failure"]), str(ours["secretive"])]
    answer = app_client.post(
        "/failures/dismiss", data={"csrf": csrf, "id": both, "reason": "known outage"}
    )
    assert answer.status_code == 303
    assert status_of(console_sessions, SyncFailure, ours["failure"]) == "dismissed"
    assert status_of(console_sessions, SyncFailure, ours["secretive"]) == "dismissed"
    assert f"dismissed {ours['failure']}, {ours['secretive']}" in app_client.get("/failures").text
    connection = ours["connection"]
    assert (
        app_client.post(f"/connections/{connection}/pause", data={"csrf": csrf}).status_code == 303
    )
    assert status_of(console_sessions, Connection, connection) == "paused"
    # A paused connection is not synced: refused, saying what to do.
    refused = app_client.post(f"/connections/{connection}/sync", data={"csrf": csrf})
    assert refused.status_code == 409 and "is paused" in refused.text
    assert (
        app_client.post(f"/connections/{connection}/resume", data={"csrf": csrf}).status_code == 303
    )
    assert status_of(console_sessions, Connection, connection) == "active"


def test_malformed_bodies_are_4xx_not_5xx(app_client: TestClient, seeded: Seeded) -> None:
    csrf = sign_in(app_client, OPERATOR)
    target = "/failures/dismiss"
    answers = [
        app_client.post(target, content=b"\xff\xfe=%zz&csrf=" + csrf.encode(),
                        headers={"content-type": "application/x-www-form-urlencoded"}),
        app_client.post(target, data={"csrf": csrf}, files={"upload": ("a.txt", b"x")}),
        app_client.post(target, content="&".join(f"f{i}=1" for i in range(1500)),
                        headers={"content-type": "application/x-www-form-urlencoded"}),
        app_client.post(target, content=b"--nope\r\n", headers={"content-type": "multipart/form-data; boundary=x"}),
        app_client.post(target, content=b"{}", headers={"content-type": "application/json"}),
    ]  # fmt: skip
    assert [answer.status_code // 100 for answer in answers] == [4] * len(answers), [
        answer.status_code for answer in answers
    ]


def test_a_nul_anywhere_is_a_400_naming_the_field_and_writes_nothing(
    app_client: TestClient, seeded: Seeded, console_sessions: sessionmaker[Session]
) -> None:
    # PostgreSQL text holds no NUL: a filter or a form value with one used to reach SQL (500).
    login_csrf = csrf_of(app_client)
    answer = app_client.post(
        "/login", data={"csrf": login_csrf, "email": "a\x00@b.test", "password": PASSWORD}
    )
    assert answer.status_code == 400 and "email" in answer.text
    assert app_client.get("/login?next=/%00").status_code == 400
    csrf = sign_in(app_client, OPERATOR)
    for path, field in (
        ("/runs?outcome=ok%00", "outcome"), ("/failures?error=x%00", "error"),
        ("/conflicts?field=%00", "field"), ("/customers?q=a&x%00=1", "x"),
    ):  # fmt: skip
        answer = app_client.get(path)
        assert answer.status_code == 400 and field in answer.text, path
    failure = seeded.ours["secretive"]
    review = seeded.ours["review"]
    for path, form, field in (
        ("/failures/dismiss", {"id": str(failure), "reason": "noise\x00"}, "reason"),
        (f"/reviews/{review}/dismiss", {"reason": "\x00"}, "reason"),
        (f"/reviews/{review}/link", {"customer_id": f"{seeded.ours['acme']}\x00"}, "customer_id"),
    ):
        answer = app_client.post(path, data={**form, "csrf": csrf})
        assert answer.status_code == 400 and field in answer.text, path
    assert status_of(console_sessions, SyncFailure, failure) == "open"
    assert status_of(console_sessions, DuplicateReview, review) == "open"


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    field=st.sampled_from(["id", "reason", "customer_id", "back", "csrf", "next", "q"]),
    value=st.one_of(
        st.text(max_size=300),
        st.sampled_from(["\x00", str(2**63), "-1", "1e309", "NaN", "../../etc/passwd", "//x"]),
    ),
    path=st.sampled_from(
        ["/failures/dismiss", "/login", "/reviews/{review}/link",
         "/reviews/{review}/dismiss", "/connections/{connection}/pause"]
    ),
)  # fmt: skip
def test_fuzzed_forms_never_answer_5xx(
    app_client: TestClient, seeded: Seeded, field: str, value: str, path: str
) -> None:
    if "crmsync_console" not in app_client.cookies:
        sign_in(app_client, OPERATOR)
    csrf = csrf_of(app_client, "/connections")
    form = {"csrf": csrf, "id": str(seeded.ours["failure"]), "reason": "r", field: value}
    answer = app_client.post(path.format(**seeded.ours), data=form)
    assert answer.status_code < 500 and "Traceback" not in answer.text, (path, field, value)


def test_a_removed_user_is_signed_out_at_once_and_cannot_sign_in(
    app_client: TestClient, seeded: Seeded, console_sessions: sessionmaker[Session]
) -> None:
    csrf = sign_in(app_client, OPERATOR)
    with console_sessions.begin() as session:
        tenant_id = session.scalars(select(Tenant.id).where(Tenant.slug == "default")).one()
        users.remove_user(session, tenant_id, OPERATOR)
    page = app_client.get("/connections")
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    connection = seeded.ours["connection"]
    answer = app_client.post(f"/connections/{connection}/pause", data={"csrf": csrf})
    assert answer.status_code == 303 and answer.headers["location"] == "/login"
    assert status_of(console_sessions, Connection, connection) == "active"
    again = app_client.post(
        "/login", data={"csrf": csrf_of(app_client), "email": OPERATOR, "password": PASSWORD}
    )
    assert again.status_code == 401
