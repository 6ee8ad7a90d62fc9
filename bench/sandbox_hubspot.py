"""How fast the HubSpot sandbox serves list pages, so it is never what a benchmark measures.

Seeds 25,000 companies, then pages through all of them with 100-record pages over one
keep-alive HTTP connection (rate limits off) and prints pages/s and records/s.

    python -m bench.sandbox_hubspot [--companies 25000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import httpx

if __package__ in (None, ""):  # run as a script: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandbox.hubspot import HubSpotSandbox
from sandbox.seed import generate_companies

PAGE_SIZE = 100


def walk(client: httpx.Client) -> tuple[int, int]:
    """Page through every company; returns (pages, records)."""
    pages = records = 0
    params: dict[str, str | int] = {"limit": PAGE_SIZE}
    while True:
        response = client.get("/crm/v3/objects/companies", params=params)
        response.raise_for_status()
        body = response.json()
        pages += 1
        records += len(body["results"])
        next_page = body.get("paging", {}).get("next")
        if next_page is None:
            return pages, records
        params = {"limit": PAGE_SIZE, "after": next_page["after"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=25_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    sandbox = HubSpotSandbox(limits=None)
    started = time.perf_counter()
    sandbox.seed(generate_companies(args.companies, seed=1))
    print(f"seeded {args.companies:,} companies in {time.perf_counter() - started:.2f} s")
    with sandbox:
        headers = {"Authorization": f"Bearer {sandbox.access_token}"}
        with httpx.Client(base_url=sandbox.url, headers=headers) as client:
            walk(client)  # warm-up: first pages fill the per-record JSON cache
            best_pages_s = 0.0
            for round_number in range(1, args.rounds + 1):
                started = time.perf_counter()
                pages, records = walk(client)
                elapsed = time.perf_counter() - started
                assert records == args.companies, records
                pages_s, records_s = pages / elapsed, records / elapsed
                best_pages_s = max(best_pages_s, pages_s)
                print(
                    f"round {round_number}: {pages} pages of {PAGE_SIZE} in {elapsed:.2f} s = "
                    f"{pages_s:,.0f} pages/s, {records_s:,.0f} records/s"
                )
    print(f"best: {best_pages_s:,.0f} pages/s ({best_pages_s * PAGE_SIZE:,.0f} records/s)")


if __name__ == "__main__":
    main()
