"""crmsync's running parts: the processes, the sync engine, the CLI.

The processes (each a ``crmsync`` command):

- ``crmsync worker``: Dramatiq workers running the jobs of ``worker.jobs.enqueue``'s table
  (sync actors in ``worker.sync.jobs``, categorization and pruning in ``worker.actors``);
- ``crmsync webhooks``: the HTTP app CRMs post to (``worker.webhooks``);
- ``crmsync scheduler``: sends the periodic jobs (``worker.scheduler``).

The layers, each importing only those below it:

- ``worker.cli``: the commands; ``worker.webhooks``, ``worker.scheduler``: the triggers;
- ``worker.sync``: the sync engine (passes, inbound pages, outbound pushes, links);
- ``worker.jobs.enqueue``, ``worker.jobs.retry``, ``worker.jobs.broker``: jobs by name, the retry policy,
  the broker; ``worker.pending``, ``worker.locks``: shared state;
- ``worker.logs``, ``worker.metrics``, ``worker.tracing``: what every process reports
  (``worker.dramatiq_main`` runs Dramatiq's CLI for ``crmsync worker`` with them);
- ``connectors`` (one CRM API each), ``mappings`` (field maps and the three-way merge),
  ``customers`` (the directory: models, validation, the service layer).

Where a HubSpot webhook becomes a customer update::

    webhooks/app.py -> webhooks/hubspot.py (signature, events) -> webhooks/intake.accept
      -> pending.add + enqueue.send("sync_pending") -> sync/jobs.sync_pending
      -> sync/passes.Sync.records -> connectors.hubspot fetch
      -> sync/inbound.apply_page -> customers/service.update_customer

Where a scheduled pass goes: ``scheduler`` -> ``enqueue.send("sync_changes")`` ->
``sync/jobs.sync_changes`` -> ``Sync.incremental`` -> ``connector.scan`` pages ->
``inbound.apply_page``. Local edits go the other way: the service layer writes an outbox
row, and ``push_changes`` (``Sync.push``) drains it to the CRM (``sync/outbound.Pusher``).
"""
