"""A local OpenAI-compatible chat endpoint that answers from the rules categorizer.

``POST /v1/chat/completions`` speaks OpenAI's wire format (bodies, error shapes,
``Authorization: Bearer``, ``Retry-After`` / ``retry-after-ms``), so the categorizer is
tested through the unchanged ``openai`` SDK over a real socket. The answer is the rules
categorizer's decision for the facts in the request, as JSON content.

Faults come from :class:`sandbox.faults.Faults`: rules on the endpoint key
``chat.completions`` answer 429 (with ``Retry-After``), any 5xx, or stall past the client's
timeout; rules on ``chat.completions.answer`` replace a good answer with a malformed one
(:attr:`LLMSandbox.malformed_answer`). The helper methods add such rules.

Used by tests, the bench and the demo only; never by production code paths.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import threading
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors.llm import facts_from_messages
from customers.categorizers.rules import RulesCategorizer
from sandbox.faults import FaultRule, Faults
from sandbox.runner import ServerThread

ENDPOINT = "chat.completions"
ANSWER = "chat.completions.answer"
DEFAULT_MODEL = "sandbox-rules"
# Outside the taxonomy, but well-formed JSON: what a model that ignores the schema sends.
MALFORMED_ANSWER = '{"category": "spaceships", "subcategory": null, "confidence": 0.9}'

_SERVER_ERRORS = {
    500: "The server had an error while processing your request. Sorry about that!",
    502: "Bad gateway.",
    503: "The engine is currently overloaded, please try again later.",
    504: "Gateway timeout.",
}


def error_response(
    status: int, message: str, *, kind: str, code: str | None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


class LLMSandbox:
    """One endpoint on its own port: ``with LLMSandbox() as llm: ... llm.base_url``."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        retry_after_s: float = 1.0,
        seed: int = 0,
        malformed_answer: str = MALFORMED_ANSWER,
    ) -> None:
        self.api_key = api_key
        self.retry_after_s = retry_after_s
        self.malformed_answer = malformed_answer
        self.faults = Faults(seed=seed)
        self.categorizer = RulesCategorizer()
        self.requests: list[dict[str, Any]] = []  # bodies of the requests answered or failed
        self.arrivals: list[float] = []  # time.monotonic() of each request, in order
        self.stopping = False
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._server: ServerThread | None = None
        self.app = Starlette(
            routes=[Route("/v1/chat/completions", self._chat_completions, methods=["POST"])]
        )

    # ---- running ---------------------------------------------------------------------

    def start(self, *, port: int = 0) -> LLMSandbox:
        self._server = ServerThread(self.app, port=port).start()
        return self

    def stop(self) -> None:
        self.stopping = True  # ends stalled "timeout" faults, so the server can stop
        if self._server is not None:
            self._server.stop()

    def __enter__(self) -> LLMSandbox:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the LLM sandbox is not running")
        return f"{self._server.url}/v1"

    # ---- faults ----------------------------------------------------------------------

    def rate_limit(self, times: int = 1) -> None:
        self.faults.add(FaultRule(endpoint=ENDPOINT, status=429, remaining=times))

    def fail(self, status: int = 500, times: int = 1) -> None:
        self.faults.add(FaultRule(endpoint=ENDPOINT, status=status, remaining=times))

    def stall(self, times: int = 1) -> None:
        self.faults.add(FaultRule(endpoint=ENDPOINT, kind="timeout", remaining=times))

    def malformed(self, times: int = 1) -> None:
        self.faults.add(FaultRule(endpoint=ANSWER, remaining=times))

    @property
    def calls(self) -> int:
        return self.faults.calls[ENDPOINT]

    # ---- the endpoint ----------------------------------------------------------------

    async def _pause(self, delay_s: float) -> None:
        deadline = time.monotonic() + delay_s
        while not self.stopping and time.monotonic() < deadline:
            await asyncio.sleep(min(0.05, max(deadline - time.monotonic(), 0)))

    async def _chat_completions(self, request: Request) -> Response:
        self.faults.count_call(ENDPOINT)
        with self._lock:
            self.arrivals.append(time.monotonic())
        if (
            self.api_key is not None
            and request.headers.get("authorization") != f"Bearer {self.api_key}"
        ):
            return error_response(401, "Incorrect API key provided.", kind="invalid_request_error",
                                  code="invalid_api_key")  # fmt: skip
        try:
            body = json.loads(await request.body())
            facts = facts_from_messages(body["messages"])
            model = str(body["model"])
        except (ValueError, KeyError, TypeError) as error:
            return error_response(400, f"Invalid request: {error}", kind="invalid_request_error",
                                  code=None)  # fmt: skip
        with self._lock:
            self.requests.append(body)
        decision = self.faults.decide(ENDPOINT)
        if decision is not None:
            await self._pause(decision.delay_s)
            if decision.kind == "timeout":
                return error_response(504, _SERVER_ERRORS[504], kind="server_error", code=None)
            if decision.kind == "error":
                return self._fault(decision.status)
        if self.faults.decide(ANSWER) is not None:
            content = self.malformed_answer
        else:
            answer = self.categorizer.categorize(facts)
            content = json.dumps({"category": answer.category, "subcategory": answer.subcategory,
                                  "confidence": answer.confidence})  # fmt: skip
        return JSONResponse(self._completion(model, content))

    def _fault(self, status: int) -> Response:
        if status == 429:
            headers = {
                "retry-after-ms": str(int(self.retry_after_s * 1000)),
                "Retry-After": str(math.ceil(self.retry_after_s)),
            }
            return error_response(429, "Rate limit reached for requests per min.",
                                  kind="requests", code="rate_limit_exceeded", headers=headers)  # fmt: skip
        message = _SERVER_ERRORS.get(status, f"HTTP {status}")
        kind = "server_error" if status >= 500 else "invalid_request_error"
        return error_response(status, message, kind=kind, code=None)

    def _completion(self, model: str, content: str) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-sandbox-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        }


def main() -> None:
    """``python -m sandbox.llm``: serve the endpoint in the foreground for trying the
    ``llm`` categorizer by hand."""
    import argparse
    import signal

    parser = argparse.ArgumentParser(description="An OpenAI-compatible sandbox endpoint.")
    parser.add_argument("--port", type=int, default=8095)  # the console has 8090
    parser.add_argument("--api-key", default=None, help="Require this bearer key.")
    parser.add_argument("--error-rate", type=float, default=0.0, help="Share answered 503.")
    args = parser.parse_args()
    sandbox = LLMSandbox(api_key=args.api_key)
    if args.error_rate:
        sandbox.faults.add(FaultRule(endpoint=ENDPOINT, rate=args.error_rate, status=503))
    sandbox.start(port=args.port)
    print(f"CRMSYNC_CATEGORIZER=llm CRMSYNC_LLM_BASE_URL={sandbox.base_url} "
          f"CRMSYNC_LLM_MODEL={DEFAULT_MODEL}" + (" CRMSYNC_LLM_API_KEY=..." if args.api_key else ""),
          flush=True)  # fmt: skip
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()


if __name__ == "__main__":
    main()
