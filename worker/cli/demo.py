"""``crmsync demo``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from worker.cli.common import console


def demo(
    companies: Annotated[int, typer.Option(min=10, help="HubSpot companies to seed.")] = 1000,
    accounts: Annotated[int, typer.Option(min=10, help="Salesforce accounts to seed.")] = 800,
    folder: Annotated[
        Path, typer.Option(help="Where the demo keeps its database (made anew).")
    ] = Path("data/demo"),
) -> None:
    """Run the whole product on this machine: sandbox CRMs, a full two-way sync, live edits."""
    from worker.demo import DemoSize, run_demo

    overlap = min(500, companies // 4, accounts // 4)
    size = DemoSize(
        hubspot_companies=companies,
        salesforce_accounts=accounts,
        overlap=overlap,
        local_customers=min(300, max(10, companies // 6)),
    )
    run_demo(console, size, folder)
