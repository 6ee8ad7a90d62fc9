"""The job runtime: how work is named, sent, queued, retried and stopped.

It imports nothing of the sync engine (``worker.sync``); the actors, which do, live in
``worker.actors``.
"""
