"""What goes wrong during a soak, on purpose and at once with the workload:

- both CRMs answer a share of API calls with 5xx, HubSpot also with 429, and stall a few
  past the connectors' timeout (the soak's connections use a short ``timeout_s``, so a
  stall costs seconds, not the sandbox's 30 s);
- HubSpot webhooks are dropped, duplicated and reordered; Salesforce outbound messages too;
- a random ``crmsync worker`` is killed with SIGKILL every ``kill_every_s`` and a new one
  started;
- the soak's own Redis is killed and restarted mid-run (queued jobs are lost with it).
"""

from __future__ import annotations

import dataclasses
import random
import threading
from dataclasses import dataclass

from bench.soak.history import History
from bench.soak.services import Processes, RedisServer
from sandbox.faults import FaultRule
from sandbox.hubspot import HubSpotSandbox, WebhookFaults
from sandbox.salesforce import SalesforceSandbox

SALESFORCE_API = ("query*", "sobject.*", "collections.*", "updated", "deleted")


@dataclass(frozen=True)
class ChaosPlan:
    error_rate: float = 0.05  # 5xx per API call
    rate_limit_rate: float = 0.03  # HubSpot 429 per API call
    timeout_rate: float = 0.01  # stalls past the client's timeout per API call
    webhook_drop: float = 0.10
    webhook_duplicate: float = 0.10
    webhook_reorder: float = 0.20
    kill_every_s: float = 20.0
    redis_restarts: int = 2


class Chaos:
    def __init__(self, *, seed: int, plan: ChaosPlan, seconds: float, history: History,
                 hubspot: HubSpotSandbox, salesforce: SalesforceSandbox, processes: Processes,
                 redis_server: RedisServer, workers: int) -> None:  # fmt: skip
        self.random = random.Random(seed * 1000 + 99)
        self.plan = plan
        self.seconds = seconds
        self.history = history
        self.hubspot = hubspot
        self.salesforce = salesforce
        self.processes = processes
        self.redis = redis_server
        self.workers = workers
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="soak-chaos", daemon=True)
        self.errors: list[str] = []

    def start(self) -> None:
        self._faults_on()
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=60)
        self.calm()

    def calm(self) -> None:
        """No more faults: what is still wrong after this must heal by itself."""
        self.hubspot.faults.clear()
        self.salesforce.faults.clear()
        options = self.hubspot.webhooks.options
        self.hubspot.webhooks.options = dataclasses.replace(options, faults=WebhookFaults())
        self.history.log("chaos", "calm", [], note="fault rules cleared")

    def _faults_on(self) -> None:
        plan = self.plan
        hubspot_rules = [
            FaultRule(endpoint="*", rate=plan.error_rate, status=500),
            FaultRule(endpoint="*", rate=plan.rate_limit_rate, status=429),
            FaultRule(endpoint="*", rate=plan.timeout_rate, kind="timeout"),
        ]
        for rule in hubspot_rules:
            self.hubspot.faults.add(rule)
        for pattern in SALESFORCE_API:
            self.salesforce.faults.add(
                FaultRule(endpoint=pattern, rate=plan.error_rate, status=503)
            )
            self.salesforce.faults.add(FaultRule(endpoint=pattern, rate=plan.timeout_rate, kind="timeout"))  # fmt: skip
        self.salesforce.faults.add(FaultRule(endpoint="outbound.drop", rate=plan.webhook_drop))
        self.salesforce.faults.add(FaultRule(endpoint="outbound.duplicate", rate=plan.webhook_duplicate))  # fmt: skip
        self.salesforce.faults.add(
            FaultRule(endpoint="outbound.reorder", rate=plan.webhook_reorder)
        )
        options = self.hubspot.webhooks.options
        self.hubspot.webhooks.options = dataclasses.replace(options, faults=WebhookFaults(
            drop=plan.webhook_drop, duplicate=plan.webhook_duplicate, reorder=plan.webhook_reorder,
            reorder_delay_s=1.0))  # fmt: skip
        self.history.log("chaos", "faults", [], note=(
            f"API 5xx {plan.error_rate:.0%}, HubSpot 429 {plan.rate_limit_rate:.0%}, stalls "
            f"{plan.timeout_rate:.0%}; webhooks drop {plan.webhook_drop:.0%}, duplicate "
            f"{plan.webhook_duplicate:.0%}, reorder {plan.webhook_reorder:.0%}"))  # fmt: skip

    def _run(self) -> None:
        # Restarts in the first half, so the second shows whether everything recovered.
        restarts = [self.seconds * (i + 1) / (2 * self.plan.redis_restarts + 2)
                    for i in range(self.plan.redis_restarts)]  # fmt: skip
        elapsed = 0.0
        next_kill = self.plan.kill_every_s * self.random.uniform(0.5, 1.0)
        while not self.stopping.is_set():
            due = min([next_kill, *restarts]) if restarts else next_kill
            if self.stopping.wait(max(0.0, due - elapsed)):
                return
            elapsed = due
            try:
                if restarts and due == restarts[0]:
                    restarts.pop(0)
                    self.redis.restart(down_s=self.random.uniform(0.5, 2.0))
                    self.history.log("chaos", "redis", [], note=f"redis-server killed and restarted on port {self.redis.port}")  # fmt: skip
                else:
                    next_kill += self.plan.kill_every_s * self.random.uniform(0.5, 1.5)
                    self._kill_a_worker()
            except Exception as error:
                self.errors.append(f"chaos: {type(error).__name__}: {error}")

    def _kill_a_worker(self) -> None:
        if not self.processes.workers:
            return
        index = self.random.randrange(len(self.processes.workers))
        pid = self.processes.workers[index].pid
        self.processes.kill_worker(index)
        self.processes.replace_dead_workers(self.workers)
        self.history.log("chaos", "kill", [], note=f"worker pid {pid} SIGKILLed; a new one started")
