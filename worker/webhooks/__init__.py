"""The webhooks service: where HubSpot and Salesforce tell crmsync that records changed.

:func:`build_app` makes the ASGI app (``crmsync webhooks`` serves it with uvicorn). Events
are checked and deduplicated; the records they name wait as pending ids for a
``sync_pending`` job (``worker.pending``); nothing here calls a CRM.
"""

from __future__ import annotations

from worker.webhooks.app import build_app

__all__ = ["build_app"]
