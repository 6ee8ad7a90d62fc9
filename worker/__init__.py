"""crmsync's running parts: the processes, the job runtime, the sync engine, the CLI.

The processes (each a ``crmsync`` command):

- ``crmsync worker``: Dramatiq worker processes running every job's actor
  (``worker.actors``, loaded by ``worker.dramatiq_main``), one pool per queue;
- ``crmsync webhooks``: the HTTP app CRMs post to (``worker.webhooks``);
- ``crmsync scheduler``: sends the periodic jobs (``worker.scheduler``);
- ``crmsync console``: the operator's web app (``worker.console``).

The layers, each importing only those below it:

- ``worker.cli``, ``worker.console``: what people use; ``worker.webhooks``,
  ``worker.scheduler``: what triggers work;
- ``worker.actors``: one actor per job of the job table, thin: they call the sync engine
  or a service function;
- ``worker.sync``: the sync engine (passes, inbound pages, outbound pushes, links); a
  page's modules (``inbound``, ``merging``, ``sides``, ``new_records``) share its
  context (``page``) rather than reach into one another;
- ``worker.jobs``: the job runtime, which imports nothing of the sync engine:
  ``enqueue`` (the job table, ``send``, ``replay``), ``payload`` (``JobCall``, a job as a
  failure row keeps it), ``broker`` and ``queues``, ``actor`` (the ``job`` decorator),
  ``retry`` (the error taxonomy as retries and failure rows), ``kinds`` (what each job is
  about), ``shutdown`` and ``context`` (middleware);
- ``worker.shared_state``: where the state every process shares lives (one Redis, or this
  process's memory), for ``worker.pending`` (webhook ids), ``worker.locks``, the request
  budgets and the scheduler's lease; ``worker.shared_redis`` builds the Redis clients;
- ``worker.logs``, ``worker.metrics``, ``worker.tracing``: what every process reports;
  ``worker.settings``, ``worker.database``: configuration and sessions;
- ``connectors`` (a package per CRM: ``connectors.hubspot``, ``connectors.salesforce``;
  ``connectors.registry`` is the table of them), ``mappings`` (field maps and the
  three-way merge), ``customers`` (the directory: models, validation, the service layer).

Where a HubSpot webhook becomes a customer update::

    webhooks/app.py -> connectors.hubspot.webhooks (signature, events)
      -> webhooks/intake.accept
      -> pending.add + jobs/enqueue.send("sync_pending") -> actors.sync_pending
      -> sync/passes.Sync.records -> connectors.hubspot.connector fetch
      -> sync/inbound.apply_page -> sync/merging.merge_record
      -> sync/sides.CustomerSide.write -> customers/service.update_customer

Where a scheduled pass goes: ``scheduler`` -> ``jobs/enqueue.send("sync_changes")`` ->
``actors.sync_changes`` -> ``Sync.incremental`` -> ``connector.scan`` pages ->
``inbound.apply_page``. Local edits go the other way: the service layer writes an outbox
row, and ``actors.push_changes`` (``Sync.push``) drains it to the CRM
(``sync/outbound.Pusher``).

A job that fails for good leaves a failure row (``worker.failures``) whose payload is its
``JobCall``; ``crmsync failures replay`` sends it again through ``jobs/enqueue.replay``.
"""
