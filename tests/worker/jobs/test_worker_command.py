"""What ``crmsync worker`` hands to Dramatiq, which reads some settings from its
environment only; and the queues it may be told to consume."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from worker.cli import app
from worker.cli.sync import dramatiq_arguments, dramatiq_environment
from worker.embedded import load_actors
from worker.jobs import enqueue
from worker.jobs.broker import broker
from worker.jobs.queues import LEGACY_QUEUE, QUEUES, parse_queues
from worker.settings import Settings


def test_idle_workers_poll_often_and_prefetch_no_more_than_their_threads() -> None:
    settings = Settings(worker_idle_poll_s=0.05, worker_threads=6)
    assert dramatiq_environment(settings, None) == {
        "dramatiq_worker_timeout": "50",
        "dramatiq_queue_prefetch": "6",
    }
    assert dramatiq_environment(settings, 2)["dramatiq_queue_prefetch"] == "2"


def _after(arguments: list[str], flag: str) -> list[str]:
    """The values of ``flag``: the words after it up to the next option."""
    values = arguments[arguments.index(flag) + 1 :]
    end = next((i for i, word in enumerate(values) if word.startswith("--")), len(values))
    return values[:end]


def test_a_worker_consumes_its_queues_and_stops_within_the_grace_period() -> None:
    settings = Settings(worker_threads=3, worker_shutdown_timeout_s=45)
    realtime = dramatiq_arguments(settings, 2, None, ("realtime", "categorize"))
    assert _after(realtime, "--queues") == ["realtime", "categorize"]
    assert _after(realtime, "--worker-shutdown-timeout") == ["45000"]
    assert (_after(realtime, "--processes"), _after(realtime, "--threads")) == (["2"], ["3"])
    # The queue of older releases is drained by the bulk workers (and so by a default one).
    assert _after(dramatiq_arguments(settings, 1, 8, ("bulk",)), "--queues") == [
        "bulk",
        LEGACY_QUEUE,
    ]
    assert _after(dramatiq_arguments(settings, 1, 8, QUEUES), "--queues") == [
        *QUEUES,
        LEGACY_QUEUE,
    ]


def test_queue_names_are_checked_and_named_in_the_error() -> None:
    assert parse_queues(None) == parse_queues("") == QUEUES == ("realtime", "bulk", "categorize")
    assert parse_queues("categorize, realtime,realtime") == ("realtime", "categorize")
    assert parse_queues(["bulk", "realtime"]) == ("realtime", "bulk")
    with pytest.raises(
        ValueError, match=re.escape("unknown queue(s) default, fast; the queues are")
    ):
        parse_queues("realtime,fast,default")
    result = CliRunner().invoke(app, ["worker", "--queues", "realtime,fast"])
    assert result.exit_code == 2
    shown = " ".join(result.output.replace("│", " ").split())  # the error's frame undone
    assert "unknown queue(s) fast; the queues are realtime, bulk, categorize" in shown
    assert "Traceback" not in result.output


def test_every_actor_is_declared_on_the_queue_its_job_is_sent_to() -> None:
    load_actors()
    declared = {name: broker.get_actor(name) for name in enqueue.JOB_NAMES}
    assert {name: actor.queue_name for name, actor in declared.items()} == enqueue.JOB_QUEUES
    assert {
        enqueue.SYNC_PENDING: "realtime", enqueue.PUSH_CHANGES: "realtime",
        enqueue.RECONCILE: "bulk", enqueue.SYNC_CHANGES: "bulk",
        enqueue.CATEGORIZE_CUSTOMERS: "categorize",
    }.items() <= enqueue.JOB_QUEUES.items()  # fmt: skip
    # The long passes are interrupted by a worker's shutdown and requeued; the rest finish.
    interrupted = {name for name, actor in declared.items() if actor.options.get("notify_shutdown")}
    assert interrupted == {
        enqueue.SYNC_CHANGES, enqueue.RECONCILE, enqueue.PUSH_CHANGES, enqueue.PRUNE
    }  # fmt: skip
