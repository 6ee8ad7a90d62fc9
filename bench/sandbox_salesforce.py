"""How fast the Salesforce sandbox serves query batches.

Seeds 25,000 accounts, then pages through them with 2,000-record batches (the Salesforce
maximum) over HTTPS with one keep-alive requests session, and prints batches and records
served per second. The sandbox must never be what a sync benchmark measures; this shows
how much headroom it leaves.

    python bench/sandbox_salesforce.py [--accounts 25000] [--seconds 5]
"""

from __future__ import annotations

import argparse
import time

from sandbox.salesforce import SalesforceSandbox
from sandbox.seed import generate_companies

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
        batches = records = queries = 0
        first_batch_s = 0.0
        started = time.perf_counter()
        while time.perf_counter() - started < args.seconds:
            query_started = time.perf_counter()
            page = session.get(f"{base}/query/", params={"q": SOQL}, timeout=30).json()
            first_batch_s += time.perf_counter() - query_started
            queries += 1
            while True:
                batches += 1
                records += len(page["records"])
                if page["done"]:
                    break
                page = session.get(f"{sandbox.url}{page['nextRecordsUrl']}", timeout=30).json()
        elapsed = time.perf_counter() - started
        session.close()

    print(f"{queries} full scans, {batches} batches, {records:,} records in {elapsed:.2f} s")
    print(f"first batch of a query (runs the query): {first_batch_s / queries * 1000:.0f} ms")
    print(f"{batches / elapsed:.1f} batches/s, {records / elapsed:,.0f} records/s")


if __name__ == "__main__":
    main()
