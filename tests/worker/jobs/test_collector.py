"""A ``crmsync worker`` process freezes its loaded code out of the garbage collector and
spaces young collections out; other processes keep the interpreter's defaults. Each case
runs in a fresh interpreter: a frozen test session would keep its garbage."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

WORKER = """
import gc, json
import dramatiq
from dramatiq.brokers.stub import StubBroker
from worker.jobs.collector import YOUNG_OBJECTS, TunedCollector

broker = StubBroker()
if {tuned}:
    broker.add_middleware(TunedCollector())
before = gc.get_threshold()
worker = dramatiq.Worker(broker, worker_threads=1)
worker.start()
after = gc.get_threshold()
frozen = gc.get_freeze_count()
worker.stop()
print(json.dumps({{"before": before, "after": after, "frozen": frozen, "young": YOUNG_OBJECTS}}))
"""


def run(code: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
        check=True,
    )  # fmt: skip
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_a_worker_with_the_tuned_collector_freezes_its_code_and_collects_young_less_often() -> None:
    seen = run(WORKER.format(tuned=True))
    before, after = seen["before"], seen["after"]
    assert isinstance(before, list) and isinstance(after, list)
    assert after[0] == max(before[0], seen["young"])
    assert after[0] > before[0]  # the interpreter's default is far below it
    assert after[1:] == before[1:]  # older generations keep their ratios
    assert isinstance(seen["frozen"], int) and seen["frozen"] > 10_000  # the loaded modules


def test_a_worker_without_it_keeps_the_interpreter_defaults() -> None:
    seen = run(WORKER.format(tuned=False))
    assert seen["after"] == seen["before"]
    assert seen["frozen"] == 0


def test_the_worker_processes_broker_has_it() -> None:
    seen = run(
        "import json\n"
        "from worker import dramatiq_main\n"
        "from worker.jobs.broker import broker\n"
        "from worker.jobs.collector import TunedCollector\n"
        "dramatiq_main.boot()\n"
        "print(json.dumps({'tuned': any(isinstance(m, TunedCollector) for m in broker.middleware)}))\n"
    )
    assert seen == {"tuned": True}
