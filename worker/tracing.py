"""OpenTelemetry tracing: off unless ``CRMSYNC_OTEL_ENABLED=true``.

When on, a process sends its spans over OTLP (HTTP/protobuf) to the endpoint the standard
variables name (``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_EXPORTER_OTLP_HEADERS``,
``OTEL_SERVICE_NAME``, ``OTEL_TRACES_SAMPLER``, ...), through the official
instrumentations: SQLAlchemy (every query), requests and urllib3 (the Salesforce and
HubSpot clients), httpx (the LLM endpoint), Redis, and Starlette (webhook requests); each
job a worker runs is a span of its own around them (:class:`JobSpans`).

The packages are the ``otel`` extra (``pip install 'crmsync[otel]'``), imported only when
tracing is on; on without them, the process stops with an error saying so. Salesforce
webhook tokens are taken out of request spans; no request or response body is recorded.
"""

from __future__ import annotations

import importlib
import logging
import threading
from typing import Any

import dramatiq
from dramatiq.middleware import Middleware

from worker.jobs.kinds import connection_of
from worker.logs import redact_text
from worker.settings import Settings

log = logging.getLogger(__name__)

EXTRA = "otel"
_started = False
_lock = threading.Lock()


class TracingUnavailable(RuntimeError):
    """Tracing is enabled but its packages are not installed."""


def enabled() -> bool:
    return _started


# Everything tracing imports: all there, or a TracingUnavailable naming the extra.
MODULES = (
    "opentelemetry.sdk.trace",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.instrumentation.httpx",
    "opentelemetry.instrumentation.redis",
    "opentelemetry.instrumentation.requests",
    "opentelemetry.instrumentation.sqlalchemy",
    "opentelemetry.instrumentation.starlette",
    "opentelemetry.instrumentation.urllib3",
)


def check(settings: Settings) -> None:
    """Raise :class:`TracingUnavailable` if tracing is enabled without its packages (a
    command that starts other processes checks before it does)."""
    if not settings.otel_enabled:
        return
    try:
        for module in MODULES:
            importlib.import_module(module)
    except ImportError as missing:
        raise TracingUnavailable(
            f"CRMSYNC_OTEL_ENABLED is true but the tracing packages are not installed "
            f"({missing.name}): install crmsync with its '{EXTRA}' extra, "
            f"e.g. pip install 'crmsync[{EXTRA}]'"
        ) from None


def setup(settings: Settings, service: str, *, exporter: Any = None) -> bool:
    """Start tracing in this process if enabled (once); True when it runs. ``exporter``
    replaces the OTLP exporter (tests pass an in-memory one)."""
    global _started
    if not settings.otel_enabled:
        return False
    with _lock:
        if _started:
            return True
        check(settings)
        from opentelemetry import trace
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
        from opentelemetry.instrumentation.redis import RedisInstrumentor
        from opentelemetry.instrumentation.requests import RequestsInstrumentor
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
        from opentelemetry.instrumentation.urllib3 import URLLib3Instrumentor
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

        # OTEL_SERVICE_NAME, when set, wins over this name.
        provider = TracerProvider(resource=Resource.create({"service.name": f"crmsync-{service}"}))
        if exporter is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        else:
            provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        # The instrumentation declares SQLAlchemy < 2.1; it works with 2.1 (tests/worker/observability).
        SQLAlchemyInstrumentor().instrument(
            tracer_provider=provider, enable_commenter=False, skip_dep_check=True
        )
        RequestsInstrumentor().instrument(tracer_provider=provider)
        URLLib3Instrumentor().instrument(tracer_provider=provider)
        HTTPXClientInstrumentor().instrument(tracer_provider=provider)
        RedisInstrumentor().instrument(tracer_provider=provider)
        from worker.jobs.broker import broker

        broker.add_middleware(JobSpans())
        _started = True
        log.info("tracing on: spans of crmsync-%s go to the OTLP endpoint", service)
        return True


def _redact_request(span: Any, scope: dict[str, Any]) -> None:
    """Request spans carry the path; a Salesforce webhook path holds its connection's token."""
    if not span.is_recording():
        return
    path = redact_text(str(scope.get("path", "")))
    for key in ("http.target", "url.path"):
        span.set_attribute(key, path)
    for key in ("http.url", "url.full"):
        span.set_attribute(key, redact_text(str(scope.get("root_path", "")) + path))


def instrument_app(app: Any) -> None:
    """Trace a web app's requests (webhooks, console), when tracing runs."""
    if not _started:
        return
    from opentelemetry.instrumentation.starlette import StarletteInstrumentor

    StarletteInstrumentor.instrument_app(app, server_request_hook=_redact_request)


class JobSpans(Middleware):
    """One span per job run, so its queries and CRM calls share a trace."""

    def __init__(self) -> None:
        self._local = threading.local()

    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        from opentelemetry import context, trace

        span = trace.get_tracer(__name__).start_span(
            f"job {message.actor_name}",
            kind=trace.SpanKind.CONSUMER,
            attributes={
                "messaging.system": "dramatiq",
                "messaging.message.id": message.message_id,
                "messaging.destination.name": message.queue_name,
                "crmsync.connection_id": connection_of(message.actor_name, message.args) or 0,
            },
        )
        self._local.token = context.attach(trace.set_span_in_context(span))
        self._local.span = span

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: Any,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        from opentelemetry import context, trace

        span = getattr(self._local, "span", None)
        if span is None:
            return
        if exception is not None:
            span.record_exception(exception)
            span.set_status(trace.Status(trace.StatusCode.ERROR, type(exception).__name__))
        span.end()
        context.detach(self._local.token)
        self._local.span = None

    def after_skip_message(self, broker: dramatiq.Broker, message: Any) -> None:
        self.after_process_message(broker, message)
