"""``crmsync webhooks``: serve the webhooks app with uvicorn in the foreground.

One process is enough for HubSpot's 10 concurrent requests per account (the handlers do
no CRM calls); run more behind a load balancer for more. Proxy headers are trusted from
the addresses in uvicorn's ``FORWARDED_ALLOW_IPS`` (default 127.0.0.1).
"""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn

from worker.settings import get_settings


def webhooks(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default: CRMSYNC_WEBHOOKS_HOST).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (default: CRMSYNC_WEBHOOKS_PORT).")
    ] = None,
) -> None:
    """Receive HubSpot webhooks and Salesforce Outbound Messages and enqueue their records."""
    from worker.webhooks.app import build_app

    settings = get_settings()
    uvicorn.run(
        build_app(settings),
        host=host or settings.webhooks_host,
        port=port or settings.webhooks_port,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
        access_log=False,  # request lines would carry Salesforce's per-connection token
        timeout_keep_alive=30,
    )
