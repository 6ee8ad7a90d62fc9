"""The job runtime: how work is named, sent, queued, retried and stopped.

- ``enqueue``: the job table (every job's name, arguments and queue), ``send`` and
  ``replay``; what triggers work imports this, never the actors;
- ``payload``: ``JobCall``, a job as a failure row keeps it, built and read only there;
- ``queues``: the queue names; ``broker``: the broker and its middleware;
- ``actor``: the ``job`` decorator every actor is declared with;
- ``retry``: the connector error taxonomy as retries and failure rows; ``kinds``: what
  each job is about (its direction, its connection, its records);
- ``shutdown``: a worker's SIGTERM; ``context``: each job's ids on its log lines.

Imports go one way: from ``actor`` (which needs the broker built first) through
``enqueue`` and ``broker`` down to ``retry``, ``context``, ``shutdown``, ``kinds``,
``payload`` and ``queues``, which import no broker. The package imports nothing of the
sync engine (``worker.sync``): the actors, which do, live in
``worker.actors``. The failure rows it writes go through ``worker.failures`` and
``customers.db``.
"""
