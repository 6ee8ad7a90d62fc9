"""The OpenAI-compatible categorizer through the unchanged ``openai`` SDK over a real socket,
against the sandbox endpoint: answers, the error taxonomy, and the key kept secret."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from pydantic import SecretStr

from connectors.errors import AuthError, Permanent, RateLimited, Transient
from connectors.llm import LLMCategorizer, retry_after_s
from customers import taxonomy
from customers.categorizers import CustomerFacts
from sandbox.llm import LLMSandbox
from tests.customers.categorize.conftest import API_KEY, MODEL

FACTS = CustomerFacts(name="Acme Software GmbH", email="ap@acme-software.de", country="DE")


def client(llm: LLMSandbox, *, key: str = API_KEY, timeout_s: float = 5.0) -> LLMCategorizer:
    return LLMCategorizer(
        base_url=llm.base_url, model=MODEL, api_key=SecretStr(key), timeout_s=timeout_s
    )


def test_asks_for_structured_output_and_saves_the_model_as_source(llm: LLMSandbox) -> None:
    answer = client(llm).categorize(FACTS)
    assert (answer.category, answer.subcategory, answer.source) == (
        "technology",
        "software",
        f"llm:{MODEL}",
    )
    [request] = llm.requests
    schema = request["response_format"]["json_schema"]["schema"]
    assert request["model"] == MODEL and request["temperature"] == 0
    assert schema["properties"]["category"]["enum"] == [c.slug for c in taxonomy.CATEGORIES]
    # Only the facts travel: no notes, tax ids or contacts are in the prompt.
    assert '"name": "Acme Software GmbH"' in request["messages"][-1]["content"]


def test_rate_limit_carries_the_servers_wait(llm: LLMSandbox) -> None:
    llm.retry_after_s = 1.5
    llm.rate_limit()
    with pytest.raises(RateLimited) as raised:
        client(llm).categorize(FACTS)
    assert raised.value.wait_s == 1.5 and raised.value.status == 429
    assert llm.calls == 1  # the SDK's own retries are off: ours decide


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_transient(llm: LLMSandbox, status: int) -> None:
    llm.fail(status)
    with pytest.raises(Transient) as raised:
        client(llm).categorize(FACTS)
    assert raised.value.status == status and llm.calls == 1


def test_a_stalled_answer_times_out_as_transient(llm: LLMSandbox) -> None:
    llm.stall()
    started = time.monotonic()
    with pytest.raises(Transient) as raised:
        client(llm, timeout_s=0.3).categorize(FACTS)
    assert raised.value.code == "timeout" and time.monotonic() - started < 3


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (
            '{"category": "spaceships", "subcategory": null, "confidence": 0.9}',
            "outside the taxonomy",
        ),
        (
            '{"category": "finance", "subcategory": "software", "confidence": 0.9}',
            "outside the taxonomy",
        ),
        ('{"category": "finance", "subcategory": null, "confidence": "high"}', "must be a number"),
        ("Sure! This customer is a software company.", "not JSON"),
        ("[1, 2]", "not a JSON object"),
    ],
)
def test_malformed_answers_are_permanent(llm: LLMSandbox, content: str, reason: str) -> None:
    llm.malformed_answer = content
    llm.malformed()
    with pytest.raises(Permanent, match=reason) as raised:
        client(llm).categorize(FACTS)
    assert raised.value.code == "invalid_answer"


def test_a_rejected_key_is_an_auth_error_that_does_not_echo_the_key(llm: LLMSandbox) -> None:
    wrong = "sk-wrong-key-9876543210"
    categorizer = client(llm, key=wrong)
    with pytest.raises(AuthError) as raised:
        categorizer.categorize(FACTS)
    assert raised.value.status == 401
    for text in (str(raised.value), repr(raised.value.as_dict()), repr(vars(categorizer))):
        assert wrong not in text and API_KEY not in text


def test_a_missing_endpoint_is_a_network_error() -> None:
    with LLMSandbox() as llm:
        url = llm.base_url
    with pytest.raises(Transient) as raised:
        LLMCategorizer(base_url=url, model=MODEL, timeout_s=1).categorize(FACTS)
    assert raised.value.code == "connection"


def test_retry_after_forms() -> None:
    assert retry_after_s({"retry-after-ms": "250", "Retry-After": "1"}) == 0.25
    assert retry_after_s({"Retry-After": "7"}) == 7.0
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 < (retry_after_s({"Retry-After": later}) or 0) <= 30
    assert retry_after_s({"Retry-After": "soon"}) is None and retry_after_s({}) is None
