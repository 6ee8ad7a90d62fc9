"""``crmsync sandbox serve``: the local HubSpot and Salesforce emulators, in the foreground.

For trying crmsync by hand (connect to it, sync, edit in the sandbox, sync again). Tests,
benchmarks and the demo start the same emulators in-process instead.
"""

from __future__ import annotations

import shutil
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from worker.cli.common import console

app = typer.Typer(help="Local emulators of the HubSpot and Salesforce APIs.", no_args_is_help=True)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    public_host: Annotated[
        str | None,
        typer.Option(
            help="Name clients reach the sandbox by, when not --host (in Docker Compose, its "
            "service name): used in its URLs and covered by the Salesforce certificate."
        ),
    ] = None,
    ca_file: Annotated[
        Path | None,
        typer.Option(
            help="Also write the Salesforce certificate here, for clients elsewhere to trust "
            "(e.g. a volume other containers mount)."
        ),
    ] = None,
    hubspot_port: Annotated[
        int, typer.Option(min=0, max=65535, help="HubSpot API port (0: any free).")
    ] = 8081,
    salesforce_port: Annotated[
        int, typer.Option(min=0, max=65535, help="Salesforce API port, TLS (0: any free).")
    ] = 8443,
    companies: Annotated[int, typer.Option(min=0, help="HubSpot companies to seed.")] = 1000,
    accounts: Annotated[int, typer.Option(min=0, help="Salesforce accounts to seed.")] = 800,
    contacts_per_company: Annotated[int, typer.Option(min=0, max=50)] = 2,
    seed: Annotated[int, typer.Option(help="Seed: the same seed makes the same data.")] = 1,
    no_limits: Annotated[
        bool, typer.Option("--no-limits", help="Turn off HubSpot's rate limits.")
    ] = False,
    error_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of API calls answered with a 503.")
    ] = 0.0,
    latency_ms: Annotated[
        float, typer.Option(min=0.0, help="Latency added to every API call.")
    ] = 0.0,
) -> None:
    """Serve both emulators until interrupted; print their URLs and credentials."""
    from sandbox.faults import FaultRule, Faults
    from sandbox.hubspot import HubSpotSandbox
    from sandbox.salesforce import SalesforceSandbox
    from sandbox.seed import generate_companies

    def faults() -> Faults:
        made = Faults(seed=seed)
        if error_rate:
            made.add(FaultRule(endpoint="*", rate=error_rate, kind="error", status=503))
        if latency_ms:
            made.add(FaultRule(endpoint="*", kind="latency", latency_s=latency_ms / 1000))
        return made

    hubspot = HubSpotSandbox(faults=faults(), seed=seed)
    if no_limits:
        hubspot = HubSpotSandbox(faults=faults(), seed=seed, limits=None)
    salesforce = SalesforceSandbox(faults=faults())
    businesses = list(
        generate_companies(
            companies + accounts, contacts_per_company=contacts_per_company, seed=seed
        )
    )
    hubspot.seed(businesses[:companies])
    salesforce.seed(businesses[companies - min(companies, accounts) // 4 :][:accounts])
    hubspot.start(host, hubspot_port, public_host=public_host)
    salesforce.start(host, salesforce_port, public_host=public_host)
    cert_path = salesforce.cert_path
    if ca_file is not None:
        cert_path = str(_publish(Path(salesforce.cert_path), ca_file))
    hs, sf = hubspot.credentials, salesforce.credentials
    console.print(
        f"[bold]HubSpot[/]    {hubspot.url}  portal {hubspot.portal_id}, {companies:,} companies",
        markup=True,
    )
    console.print(f"  private app token: {hubspot.access_token}")
    console.print(
        f"  OAuth client id {hs.client_id}, client secret {hs.client_secret}, refresh token {hs.refresh_token}"
    )
    console.print(
        f"[bold]Salesforce[/] {salesforce.instance_url}  org {salesforce.org_id}, {accounts:,} accounts",
        markup=True,
    )
    console.print(f"  certificate: {cert_path}")
    console.print(
        f"  OAuth consumer key {sf.consumer_key}, secret {sf.consumer_secret}, refresh token {sf.refresh_token}"
    )
    console.print(
        "[bold]connect crmsync to them[/] (sandbox credentials, safe to show):",
        markup=True,
        highlight=False,
    )
    console.print(
        f"  CRMSYNC_HUBSPOT_ACCESS_TOKEN={hubspot.access_token} crmsync connect hubspot "
        f"--portal-id {hubspot.portal_id} --base-url {hubspot.url}",
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        f"  CRMSYNC_SALESFORCE_REFRESH_TOKEN={sf.refresh_token} CRMSYNC_SALESFORCE_CLIENT_ID={sf.consumer_key} "
        f"CRMSYNC_SALESFORCE_CLIENT_SECRET={sf.consumer_secret} crmsync connect salesforce --org-id {salesforce.org_id} "
        f"--instance-url {salesforce.instance_url} --ca-bundle {cert_path}",
        highlight=False,
        soft_wrap=True,
    )
    console.print("press Ctrl-C to stop", style="dim")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        hubspot.stop()
        salesforce.stop()


def _publish(certificate: Path, target: Path) -> Path:
    """Copy the certificate to ``target`` by rename, so a reader never sees half a file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    shutil.copyfile(certificate, partial)
    partial.replace(target)
    return target
