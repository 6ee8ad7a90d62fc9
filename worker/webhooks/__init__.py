"""The webhooks service: where HubSpot and Salesforce tell crmsync that records changed.

:func:`build_app` makes the ASGI app (``crmsync webhooks`` serves it with uvicorn). Events
are checked, deduplicated and turned into ``sync_records`` jobs; nothing here calls a CRM.
"""

from __future__ import annotations

from worker.webhooks.app import build_app

__all__ = ["build_app"]
