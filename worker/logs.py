"""Logging of every crmsync process, set up in one place.

Every process logs through the standard library (``logging.getLogger(__name__)``), and so do
Dramatiq, uvicorn, SQLAlchemy and the CRM clients; :func:`configure` gives the root logger
one handler whose lines structlog renders:

- ``json`` (the default of the services: worker, webhooks, scheduler): one JSON object a
  line, with ``timestamp``, ``level``, ``logger``, ``event`` (the message) and the ids
  bound where the line was written: ``connection_id``, ``run_id``, ``message_id``,
  ``actor``, ``request_id``;
- ``text`` (the default of the other commands, whose output is for a person).

``CRMSYNC_LOG_LEVEL`` and ``CRMSYNC_LOG_FORMAT`` decide, in every process: the Dramatiq
worker processes set themselves up again when they boot (``worker.jobs.context.JobContext``),
after Dramatiq's own logging setup.

Ids are bound with :func:`bound` (contextvars: per thread, per asyncio task), so a line
written anywhere below a job or a sync run carries them. Secrets never reach a line: values
of keys that name a secret, the configured secrets themselves and Salesforce webhook tokens
in paths are replaced by ``***`` (:func:`redact`).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any, TextIO

import structlog
from pydantic import SecretStr

from worker.settings import Settings, get_settings

REDACTED = "***"
SECRET_KEY = re.compile(r"token|secret|password|passwd|authorization|api[_-]?key|credential", re.I)
# Values that are secrets wherever they appear in a message.
_SECRET_TEXT = (
    (re.compile(r"(/webhooks/salesforce/)[A-Za-z0-9_-]+"), rf"\g<1>{REDACTED}"),
    (re.compile(r"\b([Bb]earer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}"), rf"\g<1> {REDACTED}"),
    (
        re.compile(
            r"(?i)\b((?:access|refresh)_token|client_secret|password|api_key)"
            r"(\"?\s*[:=]\s*\"?)[^\s\"&,}]+"
        ),
        rf"\g<1>\g<2>{REDACTED}",
    ),
)
# Keys of the event dict that are ours, not a secret-bearing field, whatever their name says.
_OWN_KEYS = frozenset({"event", "logger", "level", "timestamp", "exception"})
# Libraries whose INFO lines are noise unless debugging.
_QUIET_UNLESS_DEBUG = ("alembic", "apscheduler", "httpx", "httpcore", "urllib3")

# Set by configure: the secret values of the settings, replaced wherever they appear.
_secret_values: tuple[str, ...] = ()


def _secrets_of(settings: Settings) -> tuple[str, ...]:
    values: list[str] = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            secret = value.get_secret_value()
            # Several keys may be given comma-separated (the encryption key); short values
            # would blank out ordinary words.
            values.extend(part.strip() for part in secret.split(",") if len(part.strip()) >= 8)
    return tuple(sorted(set(values), key=len, reverse=True))


def redact_text(text: str) -> str:
    for secret in _secret_values:
        text = text.replace(secret, REDACTED)
    for pattern, replacement in _SECRET_TEXT:
        text = pattern.sub(replacement, text)
    return text


def _redact_value(key: str, value: Any) -> Any:
    if key not in _OWN_KEYS and SECRET_KEY.search(key):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value("", item) for item in value]
    return value


def redact(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A structlog processor: no secret leaves in a log line."""
    return {key: _redact_value(key, value) for key, value in event.items()}


class _StandardError(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to ``sys.stderr`` as it is when a line is written: Dramatiq's processes
    swap it for a pipe to their main process, and a command run in a test for a buffer."""

    def __init__(self) -> None:
        super().__init__()

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass  # always the current sys.stderr


_installed: list[logging.Handler] = []


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
    ]


def configure(
    settings: Settings | None = None, *, service: bool, stream: TextIO | None = None
) -> None:
    """Give the root logger crmsync's one handler (replacing any: Dramatiq's, an earlier
    call's), at ``CRMSYNC_LOG_LEVEL``, in ``CRMSYNC_LOG_FORMAT`` (default: json for a
    service, text otherwise), writing to ``stream`` (default: standard error)."""
    global _secret_values
    config = settings or get_settings()
    _secret_values = _secrets_of(config)
    as_json = (config.log_format or ("json" if service else "text")) == "json"
    renderer: Any
    # Tracebacks become text before redaction, so a secret in one is caught too.
    if as_json:
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
    tail = [structlog.processors.format_exc_info, redact, renderer]
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *tail],
    )
    handler = logging.StreamHandler(stream) if stream is not None else _StandardError()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in root.handlers[:]:
        # Plain stream handlers (``logging.basicConfig``'s, Dramatiq's) and ours give way;
        # handlers added on purpose (a file, a test's capture) stay.
        if type(old) in (logging.StreamHandler, _StandardError) or old in _installed:
            root.removeHandler(old)
    _installed[:] = [handler]
    root.addHandler(handler)
    root.setLevel(config.log_level)
    for name in _QUIET_UNLESS_DEBUG:
        logging.getLogger(name).setLevel(
            logging.NOTSET if config.log_level == "DEBUG" else logging.WARNING
        )
    # Dramatiq's CLI sets the level of these; ours is the one that counts.
    for name in ("dramatiq", "uvicorn", "uvicorn.error"):
        logging.getLogger(name).setLevel(logging.NOTSET)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.filter_by_level,
            *_shared_processors()[1:],
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


@contextmanager
def bound(**ids: Any) -> Iterator[None]:
    """Log lines written inside carry these ids (``None`` values are left out)."""
    with structlog.contextvars.bound_contextvars(
        **{key: value for key, value in ids.items() if value is not None}
    ):
        yield


def bind(**ids: Any) -> None:
    """Bind ids for the rest of this context (a thread, an asyncio task)."""
    structlog.contextvars.bind_contextvars(
        **{key: value for key, value in ids.items() if value is not None}
    )
