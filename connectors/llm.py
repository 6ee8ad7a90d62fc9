"""The OpenAI-compatible categorizer: any ``/v1/chat/completions`` endpoint, through the
official ``openai`` SDK (OpenAI itself, Azure-style gateways, vLLM, Ollama, LiteLLM...).

The model is asked for structured output (a JSON schema in ``response_format``) whose
enums are the taxonomy's slugs, and the answer is validated again here, because not every
compatible server enforces a schema: an answer outside the taxonomy, or no JSON at all, is
a :class:`~connectors.errors.Permanent` failure for that customer.

Errors are mapped to the connector taxonomy in :func:`map_error`, the one place that knows
the SDK's exceptions: 429 -> ``RateLimited`` with the server's ``Retry-After``; 5xx, 408,
409, timeouts and network errors -> ``Transient``; 401/403 -> ``AuthError``; other 4xx ->
``Permanent``. The SDK's own retries are off (``max_retries=0``) so that the job's retries,
with their backoff and failure rows, are the only ones.

The API key is a secret: it is handed to the SDK and never logged, printed or put in an
error. Only the facts in ``CustomerFacts`` are sent (never notes, contacts or tax ids).
"""

from __future__ import annotations

import email.utils
import json
from datetime import UTC, datetime
from typing import Any, cast

import openai
from openai.types.chat import ChatCompletionMessageParam
from openai.types.shared_params import ResponseFormatJSONSchema
from pydantic import SecretStr

from connectors.errors import AuthError, ConnectorError, Permanent, RateLimited, Transient
from customers import taxonomy
from customers.categorizers import Categorization, CustomerFacts

PROVIDER = "llm"
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_RATE_LIMIT_WAIT_S = 10.0  # a 429 that names no wait
MAX_SOURCE = 120  # the width of customers.category_source
# The SDK refuses to start without a key; servers that need none ignore this one.
NO_KEY = "unused"
SCHEMA_NAME = "customer_category"
FACTS_HEADER = "Customer (JSON):"

SYSTEM_PROMPT = """You categorize business customers for an accounts-receivable directory.
Choose the one category, and if one fits, the one subcategory of that category, that best
describes what the customer does. Use only the slugs listed below; never invent one. If
nothing fits, answer category "other" with subcategory null. Give your confidence from 0
to 1. Answer with JSON only: {"category": ..., "subcategory": ... or null, "confidence": ...}.

Taxonomy (category slug: description; then its subcategory slugs):
"""


def taxonomy_text() -> str:
    lines = []
    for category in taxonomy.CATEGORIES:
        lines.append(f"- {category.slug}: {category.description}")
        lines.extend(f"  - {sub.slug}: {sub.description}" for sub in category.subcategories)
    return "\n".join(lines)


def response_format() -> dict[str, Any]:
    """The JSON schema of an answer (OpenAI structured outputs, strict mode)."""
    subcategories = sorted({sub.slug for c in taxonomy.CATEGORIES for sub in c.subcategories})
    schema = {
        "type": "object",
        "properties": {
            "category": {"type": "string", "enum": [c.slug for c in taxonomy.CATEGORIES]},
            "subcategory": {"anyOf": [{"type": "string", "enum": subcategories}, {"type": "null"}]},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        },
        "required": ["category", "subcategory", "confidence"],
        "additionalProperties": False,
    }
    return {
        "type": "json_schema",
        "json_schema": {"name": SCHEMA_NAME, "strict": True, "schema": schema},
    }


def messages_for(facts: CustomerFacts) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": SYSTEM_PROMPT + taxonomy_text()},
        {
            "role": "user",
            "content": f"{FACTS_HEADER}\n{json.dumps(facts.as_dict(), ensure_ascii=False)}",
        },
    ]


def facts_from_messages(messages: list[dict[str, Any]]) -> CustomerFacts:
    """The facts a request carries (the inverse of :func:`messages_for`; the sandbox uses it)."""
    for message in reversed(messages):
        content = message.get("content")
        if message.get("role") == "user" and isinstance(content, str) and FACTS_HEADER in content:
            return CustomerFacts.from_dict(json.loads(content.split(FACTS_HEADER, 1)[1]))
    raise ValueError(f"no user message with {FACTS_HEADER!r}")


class LLMCategorizer:
    """Categorize through an OpenAI-compatible chat endpoint. Thread-safe (one SDK client)."""

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: SecretStr | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.model = model
        self._client = openai.OpenAI(
            base_url=base_url,
            api_key=api_key.get_secret_value() if api_key else NO_KEY,
            max_retries=0,
            timeout=timeout_s,
        )

    @property
    def source(self) -> str:
        return f"{PROVIDER}:{self.model}"[:MAX_SOURCE]

    def categorize(self, facts: CustomerFacts) -> Categorization:
        try:
            completion = self._client.chat.completions.create(
                model=self.model,
                messages=cast("list[ChatCompletionMessageParam]", messages_for(facts)),
                response_format=cast("ResponseFormatJSONSchema", response_format()),
                temperature=0,
            )
        except openai.OpenAIError as error:
            raise map_error(error) from None
        if not completion.choices:
            raise Permanent("the answer has no choices", provider=PROVIDER, code="invalid_answer")
        choice = completion.choices[0]
        return parse_answer(
            choice.message.content, choice.finish_reason, choice.message.refusal, self.source
        )

    def close(self) -> None:
        self._client.close()


def parse_answer(
    content: str | None, finish_reason: str | None, refusal: str | None, source: str
) -> Categorization:
    """Validate a model's answer against the taxonomy; anything else is permanent."""

    def invalid(reason: str) -> Permanent:
        return Permanent(reason, provider=PROVIDER, code="invalid_answer")

    if refusal:
        raise invalid(f"the model refused: {refusal[:200]}")
    if finish_reason == "length":
        raise invalid("the answer was cut off (finish_reason length)")
    if not content:
        raise invalid("the answer is empty")
    try:
        answer = json.loads(content)
    except ValueError:
        raise invalid(f"the answer is not JSON: {content[:200]!r}") from None
    if not isinstance(answer, dict):
        raise invalid(f"the answer is not a JSON object: {content[:200]!r}")
    category, subcategory, confidence = (
        answer.get("category"),
        answer.get("subcategory") or None,
        answer.get("confidence"),
    )
    if not isinstance(category, str) or not isinstance(subcategory, str | None):
        raise invalid(f"category and subcategory must be strings: {content[:200]!r}")
    if isinstance(confidence, bool) or not isinstance(confidence, int | float):
        raise invalid(f"confidence must be a number: {content[:200]!r}")
    try:
        return Categorization(category, subcategory, float(confidence), source)
    except ValueError as error:
        raise invalid(f"the answer is outside the taxonomy: {error}") from None


# ---- the one error mapping -----------------------------------------------------------


def map_error(error: openai.OpenAIError) -> ConnectorError:
    """The connector error for an SDK exception."""
    if isinstance(error, openai.APITimeoutError):
        return Transient("the request timed out", provider=PROVIDER, code="timeout")
    if isinstance(error, openai.APIConnectionError):
        return Transient(f"network: {error}", provider=PROVIDER, code="connection")
    if isinstance(error, openai.APIStatusError):
        status = error.status_code
        message, code = _describe(error.body, error.message)
        common: dict[str, Any] = {"provider": PROVIDER, "status": status, "code": code}
        if status == 429:
            wait_s = retry_after_s(dict(error.response.headers.items()))
            return RateLimited(message, wait_s=wait_s or DEFAULT_RATE_LIMIT_WAIT_S, **common)
        if status in (401, 403):
            return AuthError(message, **common)
        if status >= 500 or status in (408, 409):
            return Transient(message, **common)
        return Permanent(message, **common)
    return Permanent(
        str(error)[:500] or type(error).__name__, provider=PROVIDER, code=type(error).__name__
    )


def _describe(body: object, fallback: str) -> tuple[str, str | None]:
    if isinstance(body, dict):
        code = body.get("code") or body.get("type")
        return str(body.get("message") or fallback)[:500], str(code) if code else None
    return fallback[:500], None


def retry_after_s(headers: dict[str, str]) -> float | None:
    """The wait a 429 asks for: ``retry-after-ms``, else ``Retry-After`` (seconds or date)."""
    lowered = {key.lower(): value for key, value in headers.items()}
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = lowered.get(name)
        if not value:
            continue
        try:
            return max(float(value) / divisor, 0.0)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max((moment - datetime.now(UTC)).total_seconds(), 0.0)
    return None
