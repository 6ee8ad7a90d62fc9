"""``crmsync webhooks``: serve the webhooks app with uvicorn in the foreground.

One process is enough for HubSpot's 10 concurrent requests per account (the handlers do
no CRM calls); run more behind a load balancer for more. Proxy headers are trusted from
the addresses in uvicorn's ``FORWARDED_ALLOW_IPS`` (default 127.0.0.1).

Prometheus metrics are served apart from the webhooks, on a private listener
(``CRMSYNC_METRICS_HOST``:``CRMSYNC_METRICS_PORT``, loopback by default): the webhook port
is public. uvicorn's lines go through crmsync's logging (``worker.logs``).
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer
import uvicorn

from worker import metrics
from worker.settings import get_settings

log = logging.getLogger(__name__)


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
    app = build_app(settings)
    if settings.metrics_port:
        where = f"{settings.metrics_host}:{settings.metrics_port}"
        try:
            metrics.serve(settings.metrics_host, settings.metrics_port)
            log.info("metrics at http://%s/metrics", where)
        except OSError as error:
            # Webhooks matter more than their metrics: they are served all the same.
            log.error("metrics cannot listen on %s: %s (CRMSYNC_METRICS_PORT)", where, error)
    uvicorn.run(
        app,
        host=host or settings.webhooks_host,
        port=port or settings.webhooks_port,
        log_config=None,  # crmsync's logging, not uvicorn's own formats
        log_level=settings.log_level.lower(),
        proxy_headers=True,
        access_log=False,  # request lines would carry Salesforce's per-connection token
        timeout_keep_alive=30,
    )
