"""Local, faithful emulators of the HubSpot and Salesforce APIs.

The sandbox is where realism lives: it serves the real paths, shapes, paging, limits and
errors over real sockets, so the official SDKs can be used unchanged against it. It is
imported by tests, benchmarks and the demo only, never by production code paths.
"""
