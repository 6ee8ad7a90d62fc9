"""Local, faithful emulators of the HubSpot and Salesforce APIs.

The sandbox is where realism lives: it serves the real paths, shapes, paging, limits and
errors over real sockets, so the official SDKs can be used unchanged against it. It is
imported by tests, benchmarks, the demo and ``crmsync sandbox serve`` only (the two
commands load it when they run), never by the sync, webhook or console code paths.
"""
