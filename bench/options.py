"""The benchmark harness's options, checked: section names and sizes."""

from __future__ import annotations

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


def build_options(
    *,
    records: int | None = None,
    companies: int | None = None,
    contacts: int | None = None,
    accounts: int | None = None,
    large: bool = False,
    only: list[str] | None = None,
    workers: int = 2,
    out: Path | None = None,
    edits: int = 10_000,
    naive_seconds: float = 30.0,
    webhook_rate: float = 1_000.0,
    webhook_seconds: float | None = None,
    prune_rows: int = 1_000_000,
    round_connections: int = 1_000,
    round_changes: int = 10,
    redis_url: str = DEFAULT_REDIS,
    webhook_redis_url: str = DEFAULT_WEBHOOK_REDIS,
) -> Options:
    """The harness's options from the command line's."""
    main, small = sizes_for(records, companies, contacts, accounts, large)
    explicit = any(size is not None for size in (records, companies, contacts, accounts))
    return Options(
        sizes=main,
        memory_sizes=small,
        workers=workers,
        only=sections(only),
        out=out,
        redis_url=redis_url,
        webhook_redis_url=webhook_redis_url,
        edits=edits,
        naive_seconds=naive_seconds,
        webhook_rate=webhook_rate,
        webhook_seconds=webhook_seconds
        if webhook_seconds is not None
        else (30.0 if large else 10.0),
        prune_rows=prune_rows,
        round_connections=round_connections,
        round_changes=round_changes,
        profile="large" if large else "custom" if explicit else "default",
    )
