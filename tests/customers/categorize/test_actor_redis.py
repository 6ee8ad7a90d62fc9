"""``categorize_customer`` in a real worker process on Redis, against PostgreSQL and the
sandbox endpoint served from this test process: 429, then 500, then an answer."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
from sqlalchemy import Engine

from customers import db, service
from customers.models import Customer
from sandbox.llm import LLMSandbox
from tests.customers.categorize.conftest import API_KEY, MODEL
from tests.services import require_redis

ROOT = Path(__file__).resolve().parents[3]
REDIS_DB = 12


@pytest.fixture
def worker_env(
    postgres_engine: Engine, llm: LLMSandbox, tmp_path: Path
) -> Iterator[dict[str, str]]:
    from tests.conftest import _truncate

    _truncate(postgres_engine)
    # A database of its own: other test runs' workers on this Redis would take its messages.
    url = urlsplit(require_redis())._replace(path=f"/{REDIS_DB}").geturl()
    redis.Redis.from_url(url).flushdb()
    env = {
        **os.environ,
        "CRMSYNC_DATABASE_URL": postgres_engine.url.render_as_string(hide_password=False),
        "CRMSYNC_BROKER_URL": url,
        "CRMSYNC_CATEGORIZER": "llm",
        "CRMSYNC_LLM_BASE_URL": llm.base_url,
        "CRMSYNC_LLM_MODEL": MODEL,
        "CRMSYNC_LLM_API_KEY": API_KEY,
        "CRMSYNC_RETRY_MIN_BACKOFF_S": "0.05",
        "CRMSYNC_RETRY_MAX_BACKOFF_S": "0.2",
        "PYTHONPATH": str(ROOT),
    }
    with (tmp_path / "worker.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "dramatiq", "worker.actors", "--processes", "1", "--threads", "2"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        yield env
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    redis.Redis.from_url(url).flushdb()
    log_text = (tmp_path / "worker.log").read_text()
    assert API_KEY not in log_text  # the key is a secret, even in a worker's log


def test_a_worker_process_retries_and_saves_the_answer(
    worker_env: dict[str, str], postgres_engine: Engine, llm: LLMSandbox
) -> None:
    sessions = db.session_factory(postgres_engine)
    with db.transaction(sessions) as session:
        tenant = service.get_tenant(session, "default")
        customer_id = service.create_customer(
            session,
            tenant.id,
            {
                "name": "Meyer Logistics GmbH",
                "email": "ap@meyer-logistics.de",
                "billing_street": "Hafenstr. 1",
                "billing_city": "Hamburg",
                "billing_country": "DE",
            },
        ).id
    llm.rate_limit()
    llm.fail(500)
    # Sent from another process through Redis, as the webhooks app or the scheduler would.
    script = (
        f"from worker.jobs import enqueue; enqueue.send(enqueue.CATEGORIZE_CUSTOMER, {customer_id})"
    )
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=worker_env, check=True)
    deadline = time.monotonic() + 45
    while True:
        with sessions() as session:
            customer = session.get_one(Customer, customer_id)
        if customer.category or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert (customer.category, customer.subcategory, customer.category_source) == (
        "logistics",
        "supply_chain",
        f"llm:{MODEL}",
    )
    assert llm.calls == 3
