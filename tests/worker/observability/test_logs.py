"""The one logging setup: JSON lines with the ids bound where they were written, the level
that CRMSYNC_LOG_LEVEL names, and no secret in any line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from dramatiq import Message
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

import worker.actors  # noqa: F401  (registers the jobs and where their connection is)
from worker import logs
from worker.jobs.context import JobContext
from worker.settings import Settings
from worker.webhooks.app import RequestIds

log = logging.getLogger("tests.observability")


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    named = {name: logging.getLogger(name).level for name in ("dramatiq", "alembic", "uvicorn")}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, value in named.items():
        logging.getLogger(name).setLevel(value)
    structlog.contextvars.clear_contextvars()
    structlog.reset_defaults()
    logs._installed.clear()
    logs._secret_values = ()


def configured(service: bool = True, **settings: Any) -> io.StringIO:
    stream = io.StringIO()
    logs.configure(Settings(**settings), service=service, stream=stream)
    return stream


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_lines_are_json_with_the_ids_bound_where_they_were_written() -> None:
    stream = configured()
    with logs.bound(connection_id=7, run_id=42, request_id=None):
        log.info("page %d applied", 3)
    log.warning("outside")
    inside, outside = lines(stream)
    assert inside["event"] == "page 3 applied" and inside["level"] == "info"
    assert (inside["connection_id"], inside["run_id"]) == (7, 42)
    assert "request_id" not in inside  # None is left out
    assert inside["logger"] == "tests.observability" and inside["timestamp"].endswith("Z")
    assert "connection_id" not in outside and outside["level"] == "warning"


def test_an_exception_is_one_json_line_with_its_traceback() -> None:
    stream = configured()
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    [line] = lines(stream)
    assert "ValueError: boom" in line["exception"] and "Traceback" in line["exception"]


def test_the_level_is_the_settings_even_for_loggers_dramatiq_turned_up() -> None:
    logging.getLogger("dramatiq").setLevel(logging.DEBUG)  # as Dramatiq's CLI leaves it
    stream = configured(log_level="WARNING")
    logging.getLogger("dramatiq.worker").info("Worker process is ready for action.")
    log.info("not shown")
    log.warning("shown")
    assert [line["event"] for line in lines(stream)] == ["shown"]
    stream = configured(log_level="DEBUG")
    logging.getLogger("dramatiq.worker").debug("shown at debug")
    assert [line["event"] for line in lines(stream)] == ["shown at debug"]


def test_commands_for_a_person_write_text_unless_told_otherwise() -> None:
    stream = configured(service=False)
    log.warning("in text")
    assert "in text" in stream.getvalue() and not stream.getvalue().startswith("{")
    stream = configured(service=False, log_format="json")
    log.warning("in json")
    assert lines(stream)[0]["event"] == "in json"
    stream = configured(service=True, log_format="text")
    log.warning("text again")
    assert not stream.getvalue().startswith("{")


def test_a_second_setup_replaces_the_first_and_dramatiqs_handler() -> None:
    logging.basicConfig(force=True, stream=io.StringIO())  # what Dramatiq's CLI does
    first = configured()
    second = configured()
    log.warning("once")
    assert first.getvalue() == "" and len(lines(second)) == 1
    ours = [h for h in logging.getLogger().handlers if type(h) is logging.StreamHandler]
    assert len(ours) == 1


def test_no_secret_reaches_a_line() -> None:
    secret, key = "hubspot-app-secret-0123", "llm-api-key-abcdef-9876"
    stream = configured(hubspot_client_secret=secret, llm_api_key=key)
    log.warning("signature check with %s failed", secret)
    log.warning("calling with Authorization: Bearer pat-na1-11112222-3333")
    log.warning("POST /webhooks/salesforce/Zx9_tokenvalue-1 refused")
    log.warning('refresh answered {"access_token": "00Dxx!AQ4AQ.very", "scope": "api"}')
    log.warning("options", extra={"client_secret": "abc", "nested": {"api_key": key, "n": 1}})
    with logs.bound(refresh_token="rt-123456789"):
        log.warning("bound secret")
    text = stream.getvalue()
    hidden = (secret, key, "pat-na1-11112222-3333", "Zx9_tokenvalue-1", "00Dxx!AQ4AQ.very")
    for value in (*hidden, '"abc"', "rt-123456789"):
        assert value not in text, value
    events = lines(stream)
    assert events[0]["event"] == "signature check with *** failed"
    assert events[2]["event"] == "POST /webhooks/salesforce/*** refused"
    assert events[4]["client_secret"] == "***" and events[4]["nested"] == {"api_key": "***", "n": 1}
    assert '"scope": "api"' in events[3]["event"]  # only the secret goes


def test_a_job_binds_its_message_actor_and_connection_and_clears_them_after() -> None:
    stream = configured()
    context = JobContext()
    message = Message(
        queue_name="default", actor_name="sync_changes", args=(5,), kwargs={}, options={}
    )
    context.before_process_message(None, message)  # type: ignore[arg-type]
    log.info("in the job")
    context.after_process_message(None, message)  # type: ignore[arg-type]
    log.info("after the job")
    other = Message(queue_name="default", actor_name="prune", args=(), kwargs={}, options={})
    context.before_process_message(None, other)  # type: ignore[arg-type]
    log.info("a job of all connections")
    context.after_skip_message(None, other)  # type: ignore[arg-type]
    inside, after, prune = lines(stream)
    assert inside["message_id"] == message.message_id and inside["actor"] == "sync_changes"
    assert inside["connection_id"] == 5
    assert not {"message_id", "actor", "connection_id"} & set(after)
    assert prune["actor"] == "prune" and "connection_id" not in prune


def test_each_webhook_request_has_a_request_id_on_its_lines_and_its_answer() -> None:
    stream = configured()

    async def handler(request: Request) -> PlainTextResponse:
        log.info("handling")
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/", handler)], middleware=[Middleware(RequestIds)])
    with TestClient(app) as client:
        given = client.get("/", headers={"X-Request-Id": "abc-123"})
        made = client.get("/")
        refused = client.get("/", headers={"X-Request-Id": "no spaces {allowed}"})
    assert given.headers["X-Request-Id"] == "abc-123"
    assert len(made.headers["X-Request-Id"]) == 32
    assert refused.headers["X-Request-Id"] != "no spaces {allowed}"
    ids = [line["request_id"] for line in lines(stream) if line["event"] == "handling"]
    assert ids == ["abc-123", made.headers["X-Request-Id"], refused.headers["X-Request-Id"]]


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_no_secret_reaches_a_traceback(log_format: str) -> None:
    stream = configured(hubspot_client_secret="hubspot-app-secret-0123", log_format=log_format)
    try:
        raise ValueError("refused hubspot-app-secret-0123 at /webhooks/salesforce/Zx9_token")
    except ValueError:
        log.exception("failed")
    text = stream.getvalue()
    assert "ValueError: refused *** at /webhooks/salesforce/***" in text.replace("\\n", "\n")
    assert "hubspot-app-secret-0123" not in text and "Zx9_token" not in text
