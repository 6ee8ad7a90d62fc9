"""What ``crmsync worker`` hands to Dramatiq, which reads these settings from its
environment only."""

from __future__ import annotations

from worker.cli.sync import dramatiq_environment
from worker.settings import Settings


def test_idle_workers_poll_often_and_prefetch_no_more_than_their_threads() -> None:
    settings = Settings(worker_idle_poll_s=0.05, worker_threads=6)
    assert dramatiq_environment(settings, None) == {
        "dramatiq_worker_timeout": "50",
        "dramatiq_queue_prefetch": "6",
    }
    assert dramatiq_environment(settings, 2)["dramatiq_queue_prefetch"] == "2"
