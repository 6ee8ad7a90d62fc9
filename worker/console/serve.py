"""``crmsync console``: serve the operator console with uvicorn in the foreground."""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn

from worker.settings import get_settings


def console(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default: CRMSYNC_CONSOLE_HOST).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (default: CRMSYNC_CONSOLE_PORT).")
    ] = None,
) -> None:
    """Serve the operator console (sign in with a user from `crmsync users add`)."""
    from worker.cli.common import require_schema
    from worker.console.app import build_app
    from worker.database import sessions

    settings = get_settings()
    require_schema()
    address = host or settings.console_host
    uvicorn.run(
        build_app(settings, sessions(), host=address),
        host=address,
        port=port or settings.console_port,
        log_config=None,  # crmsync's logging (JSON lines), not uvicorn's own formats
        log_level=settings.log_level.lower(),
        proxy_headers=True,
        timeout_keep_alive=30,
    )
