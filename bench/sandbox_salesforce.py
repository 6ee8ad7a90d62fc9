"""How fast the Salesforce sandbox serves query batches.

Seeds 25,000 accounts, then pages through them with 2,000-record batches (the Salesforce
maximum) over HTTPS with one keep-alive requests session, and prints batches and records
served per second. The sandbox must never be what a sync benchmark measures; this shows
how much headroom it leaves.

    python bench/sandbox_salesforce.py [--accounts 25000] [--seconds 5]
"""

from __future__ import annotations

import argparse
import re
import time

import requests

from sandbox.salesforce import SalesforceSandbox
from sandbox.seed import generate_companies

_NEXT_URL = re.compile(rb'"nextRecordsUrl":"([^"]+)"')
SOQL = (
    "SELECT Id, Name, Website, Phone, Industry, BillingCity, BillingCountry, "
    "CrmsyncId__c, SystemModstamp FROM Account"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=25_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()

    with SalesforceSandbox(daily_api_limit=10_000_000) as sandbox:
        started = time.perf_counter()
        sandbox.seed(generate_companies(args.accounts, seed=1))
        print(f"seeded {args.accounts:,} accounts in {time.perf_counter() - started:.2f} s")

        session = sandbox.http_session()
        session.headers["Authorization"] = f"Bearer {sandbox.access_token()}"
        base = f"{sandbox.url}/services/data/v59.0"
        for decode in (False, True):
            _scan(session, base, sandbox.url, args.seconds, decode=decode)
        session.close()


def _scan(
    session: requests.Session, base: str, instance_url: str, seconds: float, *, decode: bool
) -> None:
    """Full scans for ``seconds``. Without ``decode`` only the page head is read for the
    next URL, which measures what the sandbox serves rather than the client's JSON
    decoding (about 8 ms per 2,000-record batch in CPython, twice the serving time)."""
    batches = records = queries = 0
    first_batch_s = 0.0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        query_started = time.perf_counter()
        response = session.get(f"{base}/query/", params={"q": SOQL}, timeout=30)
        first_batch_s += time.perf_counter() - query_started
        queries += 1
        while True:
            response.raise_for_status()
            batches += 1
            if decode:
                page = response.json()
                records += len(page["records"])
                next_url = page.get("nextRecordsUrl")
            else:
                match = _NEXT_URL.search(response.content[:300])
                records += response.content.count(b'{"attributes":')
                next_url = match.group(1).decode() if match else None
            if not next_url:
                break
            response = session.get(f"{instance_url}{next_url}", timeout=30)
    elapsed = time.perf_counter() - started
    label = "end to end, with JSON decoding" if decode else "served (HTTPS, body not decoded)"
    print(f"{label}:")
    print(f"  {queries} full scans, {batches} batches, {records:,} records in {elapsed:.2f} s")
    print(f"  first batch of a query (runs the query): {first_batch_s / queries * 1000:.0f} ms")
    print(f"  {batches / elapsed:.1f} batches/s, {records / elapsed:,.0f} records/s")


if __name__ == "__main__":
    main()
