"""Every benchmark on this machine, with real PostgreSQL, Redis, worker processes and the
sandboxes: one table, and the same figures as JSON with two PNGs.

    uv run python -m bench [--large] [--only full] [--records N] [--workers 2] [--out DIR]

Sections: full (inbound sync, with its references: the sandbox alone, PostgreSQL alone and
the naive peer), incremental, outbound, webhooks, memory, embedded, prune (1,000,000 old
webhook events deleted by the retention prune, ``--prune-rows``). incremental, outbound
and memory run the full sync first. Writes bench-results/<timestamp>/results.json (or
--out DIR), webhook_latency.png and inbound_throughput.png. Needs PostgreSQL
(CRMSYNC_TEST_POSTGRES_URL, a scratch database is made and dropped) and Redis (the two
databases given are flushed). Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.harness import SECTIONS, Options, sizes_for

DEFAULT_REDIS = "redis://127.0.0.1:6379/9"
DEFAULT_WEBHOOK_REDIS = "redis://127.0.0.1:6379/12"


def sections(names: list[str] | None) -> tuple[str, ...]:
    """``--only`` values (repeated or comma-separated) as known section names."""
    if not names:
        return SECTIONS
    chosen = {name.strip() for value in names for name in value.split(",") if name.strip()}
    unknown = chosen - set(SECTIONS)
    if unknown:
        raise ValueError(
            f"unknown section(s) {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}"
        )
    return tuple(name for name in SECTIONS if name in chosen)


def build_options(*, records: int | None = None, companies: int | None = None, contacts: int | None = None,
                  accounts: int | None = None, large: bool = False, only: list[str] | None = None,
                  workers: int = 2, out: Path | None = None, edits: int = 10_000, naive_seconds: float = 30.0,
                  webhook_rate: float = 200.0, webhook_seconds: float | None = None, prune_rows: int = 1_000_000,
                  redis_url: str = DEFAULT_REDIS, webhook_redis_url: str = DEFAULT_WEBHOOK_REDIS) -> Options:  # fmt: skip
    """The harness's options from the command line's (shared by ``crmsync bench``)."""
    main, small = sizes_for(records, companies, contacts, accounts, large)
    return Options(
        sizes=main, memory_sizes=small, workers=workers, only=sections(only), out=out, redis_url=redis_url,
        webhook_redis_url=webhook_redis_url, edits=edits, naive_seconds=naive_seconds, webhook_rate=webhook_rate,
        webhook_seconds=webhook_seconds if webhook_seconds is not None else (30.0 if large else 10.0), prune_rows=prune_rows,
        profile="large" if large else "default" if records is None and companies is None and contacts is None
        and accounts is None else "custom",
    )  # fmt: skip


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    size = parse.add_argument_group("sizes (default 10,000 of each; --large 100,000)")
    size.add_argument("--records", type=int, help="companies, contacts and accounts alike")
    size.add_argument("--companies", type=int, help="HubSpot companies")
    size.add_argument("--contacts", type=int, help="HubSpot contacts")
    size.add_argument("--accounts", type=int, help="Salesforce accounts")
    size.add_argument(
        "--large",
        action="store_true",
        help="100,000 companies + 100,000 contacts (HubSpot), 100,000 accounts (Salesforce)",
    )
    parse.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help=f"run these sections only (repeat or comma-separate): {', '.join(SECTIONS)}",
    )
    parse.add_argument(
        "--workers", type=int, default=2, help="crmsync worker processes (default 2)"
    )
    parse.add_argument("--out", type=Path, help="folder for results.json and the PNGs "
                       "(default bench-results/<timestamp>)")  # fmt: skip
    parse.add_argument(
        "--edits",
        type=int,
        default=10_000,
        help="local edits the outbound push carries (default 10,000)",
    )
    parse.add_argument(
        "--naive-seconds",
        type=float,
        default=30.0,
        help="longest the naive peer merges before its figure is extrapolated (default 30)",
    )
    parse.add_argument(
        "--webhook-rate",
        type=float,
        default=200.0,
        help="HubSpot edits per second for the latency figure (default 200)",
    )
    parse.add_argument(
        "--webhook-seconds", type=float, help="how long to edit (default 10, --large 30)"
    )
    parse.add_argument(
        "--prune-rows",
        type=int,
        default=1_000_000,
        help="old webhook events the prune section deletes (default 1,000,000)",
    )
    parse.add_argument(
        "--redis-url",
        default=DEFAULT_REDIS,
        help=f"Redis database for the workers, flushed (default {DEFAULT_REDIS})",
    )
    parse.add_argument(
        "--webhook-redis-url",
        default=DEFAULT_WEBHOOK_REDIS,
        help=f"Redis database for the webhook benchmarks, flushed (default {DEFAULT_WEBHOOK_REDIS})",
    )
    return parse


def main(argv: list[str] | None = None) -> int:
    from bench.harness import run
    from bench.stack import BenchError

    args = parser().parse_args(argv)
    try:
        options = build_options(**{key: value for key, value in vars(args).items()})
    except ValueError as error:
        parser().error(str(error))
    try:
        run(options)
    except BenchError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
