"""``crmsync users``: add (password from a prompt or stdin, never an option), list with
--json (never a hash), remove; each tenant's users are its own."""

from __future__ import annotations

import json

from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from customers.console_users import ConsoleUser
from worker.cli import app
from worker.console import users

PASSWORD = "a long enough secret"


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), input=stdin, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_add_list_remove(console_sessions: sessionmaker[Session]) -> None:
    code, out, _ = run("users", "add", "Ops@Acme.test", "--role", "operator", "--password-stdin",
                       "--json", stdin=PASSWORD + "\n")  # fmt: skip
    assert code == 0 and json.loads(out)["email"] == "ops@acme.test"
    code, _, _ = run("tenants", "add", "other")
    assert code == 0
    code, _, _ = run(
        "users", "add", "v@other.test", "--tenant", "other", stdin=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert code == 0
    listed = json.loads(run("users", "list", "--json")[1])["users"]
    assert [(u["email"], u["role"]) for u in listed] == [("ops@acme.test", "operator")]
    assert "hash" not in json.dumps(listed) and PASSWORD not in json.dumps(listed)
    other = json.loads(run("--tenant", "other", "users", "list", "--json")[1])["users"]
    assert [(u["email"], u["role"]) for u in other] == [("v@other.test", "viewer")]
    with console_sessions() as session:
        stored = session.query(ConsoleUser).filter_by(email="ops@acme.test").one()
        assert stored.password_hash.startswith("$argon2id$")
        assert users.authenticate(session, "OPS@acme.test", PASSWORD) is not None
        assert users.authenticate(session, "ops@acme.test", PASSWORD + "x") is None
    # Another tenant's user is not found from this one.
    code, _, err = run("users", "remove", "v@other.test")
    assert code == 1 and "not found" in err
    code, _, _ = run("users", "remove", "ops@acme.test")
    assert code == 0 and json.loads(run("users", "list", "--json")[1])["users"] == []


def test_bad_input_writes_nothing(console_sessions: sessionmaker[Session]) -> None:
    for args, stdin, field in (
        (("users", "add", "not-an-email", "--password-stdin"), PASSWORD, "email"),
        (("users", "add", "a@b.test", "--password-stdin"), "short", "password"),
    ):
        code, _, err = run(*args, stdin=stdin + "\n")
        assert code == 2 and f"invalid {field}" in err, err
    code, _, err = run(
        "users", "add", "a@b.test", "--role", "admin", "--password-stdin", stdin=PASSWORD
    )
    assert code == 2 and "admin" in err
    assert run("users", "add", "a@b.test", "--password-stdin", stdin=PASSWORD + "\n")[0] == 0
    code, _, err = run("users", "add", "A@b.test", "--password-stdin", stdin=PASSWORD + "\n")
    assert code == 2 and "already has a console account" in err
    # No --password option: a password never lands in shell history.
    code, _, _ = run("users", "add", "c@b.test", "--password", PASSWORD)
    assert code == 2
    with console_sessions() as session:
        assert session.query(ConsoleUser).count() == 1


def test_console_command_names_its_address_options() -> None:
    code, out, _ = run("console", "--help")
    assert code == 0 and "--host" in out and "--port" in out and "CRMSYNC_CONSOLE_PORT" in out


def test_a_nul_or_control_character_in_an_email_is_refused_or_not_found(
    console_sessions: sessionmaker[Session],
) -> None:
    # PostgreSQL text holds no NUL: each of these reached SQL and ended in a traceback.
    for address in ("ops\x00@acme.test", "ops@acme.test\x07"):
        code, _, err = run("users", "add", address, "--password-stdin", stdin=PASSWORD + "\n")
        assert code == 2 and "invalid email" in err, err
    code, _, err = run("users", "remove", "ops\x00@acme.test")
    assert code == 1 and "not found" in err
    with console_sessions() as session:
        assert session.query(ConsoleUser).count() == 0
        assert users.authenticate(session, "ops\x00@acme.test", PASSWORD) is None
