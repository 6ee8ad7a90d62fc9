from __future__ import annotations

import importlib
from collections.abc import Iterator

import dramatiq
import pytest
from dramatiq.middleware import Retries
from sqlalchemy import Engine

from sandbox.llm import LLMSandbox
from worker import database
from worker.jobs.broker import broker
from worker.settings import get_settings

MODEL = "sandbox-rules-1"
API_KEY = "sk-test-categorize-0123456789"


@pytest.fixture
def llm() -> Iterator[LLMSandbox]:
    with LLMSandbox(api_key=API_KEY, retry_after_s=0.2) as sandbox:
        yield sandbox


@pytest.fixture
def worker_settings(
    engine: Engine, llm: LLMSandbox, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """The worker's settings pointed at the test database and the sandbox endpoint."""
    monkeypatch.setenv("CRMSYNC_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("CRMSYNC_CATEGORIZER", "llm")
    monkeypatch.setenv("CRMSYNC_LLM_BASE_URL", llm.base_url)
    monkeypatch.setenv("CRMSYNC_LLM_MODEL", MODEL)
    monkeypatch.setenv("CRMSYNC_LLM_API_KEY", API_KEY)
    monkeypatch.setenv("CRMSYNC_LLM_TIMEOUT_S", "0.5")
    get_settings.cache_clear()
    database.reset()
    yield
    database.reset()
    get_settings.cache_clear()


@pytest.fixture
def fast_retries() -> Iterator[None]:
    """Backoff in tens of milliseconds instead of seconds (the broker is built once)."""
    retries = next(m for m in broker.middleware if isinstance(m, Retries))
    saved = (retries.min_backoff, retries.max_backoff, retries.max_retries)
    retries.min_backoff, retries.max_backoff, retries.max_retries = 20, 100, 4
    yield
    retries.min_backoff, retries.max_backoff, retries.max_retries = saved


@pytest.fixture
def running_worker(worker_settings: None, fast_retries: None) -> Iterator[dramatiq.Worker]:
    importlib.import_module("worker.actors")  # declares the actors on the in-process broker
    consumer = dramatiq.Worker(broker, worker_threads=2, worker_timeout=50)
    consumer.start()
    yield consumer
    consumer.stop()
    broker.flush_all()
