"""Settings: one typed object, read from the environment (and an optional ``.env``) once.

Every variable is ``CRMSYNC_`` + the field name in capitals. Defaults run with nothing set:
a SQLite file in ``./data`` and the in-process broker. The README's configuration table
lists the same fields; keep the two in step.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CRMSYNC_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(
        default=Path("data"), description="Folder for the SQLite database and local state."
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db. "
        "Default: a SQLite file crmsync.db in the data folder.",
    )
    tenant: str = Field(
        default="default", description="Tenant that CLI commands act on when --tenant is not given."
    )
    log_level: str = Field(
        default="INFO",
        description="Logging level of every process (DEBUG, INFO, WARNING, ERROR, CRITICAL).",
    )
    log_format: Literal["json", "text"] | None = Field(
        default=None,
        description="Log lines as json (one object a line, with connection, run and message "
        "ids where known) or text. Default: json for the services (worker, webhooks, "
        "scheduler), text for other commands.",
    )
    metrics_host: str = Field(
        default="127.0.0.1",
        description="Address the Prometheus metrics listeners of `crmsync webhooks` and "
        "`crmsync worker` bind to (keep it private: not the public webhook address).",
    )
    metrics_port: int = Field(
        default=9180,
        ge=0,
        le=65535,
        description="Port of the metrics listener of `crmsync webhooks` (webhook counters, "
        "sync outcomes, queue depth). 0: no listener.",
    )
    worker_metrics_port: int = Field(
        default=9191,
        ge=0,
        le=65535,
        description="Port of the metrics listener of `crmsync worker` (job counts and "
        "durations, per-connection lag, open failures and outbox depth). 0: no listener.",
    )
    otel_enabled: bool = Field(
        default=False,
        description="Send OpenTelemetry traces (database, HTTP, Redis, webhook requests, "
        "jobs) to the OTLP endpoint named by the standard OTEL_* variables; needs the "
        "otel extra installed.",
    )
    broker_url: str | None = Field(
        default=None,
        description="Redis URL of the job broker, e.g. redis://127.0.0.1:6379/0. "
        "Default: an in-process broker with worker threads (one machine, no Redis).",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis URL for the state all processes share: pending webhook ids, "
        "locks, API budgets and the scheduler's lease. Default: the broker's Redis; "
        "in-process when there is none.",
    )
    redis_sentinels: str | None = Field(
        default=None,
        description="Redis Sentinels as host:port,host:port: the broker (and locks, pending "
        "ids and budgets, unless redis_url is set) use the master they name for "
        "redis_sentinel_service, and follow a failover. When set, broker_url is not used.",
    )
    redis_sentinel_service: str = Field(
        default="mymaster", description="The Sentinel service (master group) name."
    )
    redis_sentinel_db: int = Field(
        default=0, ge=0, description="Redis database number on the Sentinel-named master."
    )
    redis_password: SecretStr | None = Field(
        default=None,
        description="Password of the Sentinel-named Redis master (a secret; a Redis URL "
        "carries its own).",
    )
    encryption_key: SecretStr | None = Field(
        default=None,
        description="Fernet key(s), comma-separated and newest first, that encrypt stored CRM "
        "credentials. Default in the embedded mode (SQLite, no broker): a key file made in "
        "the data folder on first use; with PostgreSQL or a broker it is required.",
    )
    worker_threads: int = Field(
        default=4, ge=1, le=64, description="Threads per worker process (and in-process worker)."
    )
    worker_shutdown_timeout_s: float = Field(
        default=50.0,
        gt=0,
        description="On SIGTERM, how long a worker waits for its running jobs before it puts "
        "its prefetched messages back and exits; keep it below the container's stop grace "
        "period. Long passes are interrupted at once and requeued where they were.",
    )
    worker_idle_poll_s: float = Field(
        default=0.1,
        gt=0,
        le=10,
        description="Longest pause of an idle worker process between two looks at the queue "
        "(it polls sooner after recent work); webhook jobs wait this long at most to start.",
    )
    max_retries: int = Field(
        default=8,
        ge=0,
        le=50,
        description="Retries of a failing job before it becomes a failure row.",
    )
    retry_min_backoff_s: float = Field(
        default=5.0, gt=0, description="First retry delay; doubles each attempt, with jitter."
    )
    retry_max_backoff_s: float = Field(
        default=3600.0, gt=0, description="Longest delay between two retries of a job."
    )

    webhooks_host: str = Field(
        default="127.0.0.1", description="Address `crmsync webhooks` listens on."
    )
    webhooks_port: int = Field(
        default=8080, ge=1, le=65535, description="Port `crmsync webhooks` listens on."
    )
    webhooks_public_url: str | None = Field(
        default=None,
        description="Public base URL the CRMs post to, e.g. https://sync.example.com "
        "(HubSpot signs the URL it called; behind a proxy the app cannot see it). "
        "Default: the URL the request arrived at.",
    )
    webhooks_max_body_bytes: int = Field(
        default=1_000_000,
        ge=1024,
        description="Largest webhook request body accepted; larger ones get 413.",
    )
    console_host: str = Field(
        default="127.0.0.1",
        description="Address `crmsync console` (the operator console) listens on.",
    )
    console_port: int = Field(
        default=8090, ge=1, le=65535, description="Port `crmsync console` listens on."
    )
    console_secret_key: SecretStr | None = Field(
        default=None,
        description="Key that signs the console's session cookies (at least 32 characters). "
        "Unset: a random key made at start-up, with a warning; sessions then end when the "
        "console restarts, and every console process must be given the same key.",
    )
    console_https_only: bool | None = Field(
        default=None,
        description="Send the console's session cookie over HTTPS only (Secure). Default: "
        "yes, unless the console listens on a loopback address (127.0.0.1, ::1, localhost).",
    )
    console_session_max_age_s: int = Field(
        default=8 * 3600, ge=60, description="How long a console sign-in lasts, in seconds."
    )
    console_max_body_bytes: int = Field(
        default=65_536,
        ge=1024,
        description="Largest console request body accepted; larger ones get 413.",
    )
    hubspot_client_secret: SecretStr | None = Field(
        default=None,
        description="HubSpot app client secret that signs webhooks (v3, or v1 for private "
        "apps). Unset: every HubSpot webhook is refused.",
    )
    hubspot_webhook_require_v3: bool = Field(
        default=True,
        description="Refuse HubSpot webhooks without a v3 signature. HubSpot sends v3 beside "
        "v1 on every request of an app that has v3; v1 has no timestamp, so a captured "
        "request with its v3 headers stripped would be accepted at any age. Set false only "
        "for a legacy private app that signs with v1 alone.",
    )
    hubspot_webhook_max_age_s: float = Field(
        default=300.0,
        gt=0,
        description="Oldest X-HubSpot-Request-Timestamp accepted (HubSpot says 5 minutes).",
    )
    webhook_lease_s: float = Field(
        default=30.0,
        gt=0,
        description="How long record ids taken by a webhook job stay leased to it without "
        "renewal; the ids of a job that died come back to be synced after this long.",
    )
    scheduler_sync_interval_s: float = Field(
        default=300.0,
        gt=0,
        description="Default seconds between incremental syncs of a connection "
        "(a connection's settings may set sync_interval_s).",
    )
    scheduler_push_interval_s: float = Field(
        default=60.0,
        gt=0,
        description="Default seconds between outbox sweeps of a connection "
        "(a connection's settings may set push_interval_s).",
    )
    scheduler_reconcile_at: str = Field(
        default="02:30", description="UTC time of day (HH:MM) of the nightly full reconcile."
    )
    scheduler_reconcile_spread_s: float = Field(
        default=3600.0,
        ge=0,
        le=86_400,
        description="Window after scheduler_reconcile_at over which the nightly reconciles "
        "are spread: each connection gets a fixed offset in it (from its id), so many "
        "connections do not start together. 0: all at reconcile_at.",
    )
    scheduler_refresh_s: float = Field(
        default=15.0,
        gt=0,
        description="Seconds between re-reads of the connections (added, paused, changed).",
    )
    scheduler_lock_ttl_s: float = Field(
        default=30.0,
        gt=0,
        description="Expiry of the scheduler leader lock in Redis; a standby takes over "
        "this long after the leader stops refreshing it.",
    )
    scheduler_run_stale_s: float = Field(
        default=3600.0,
        gt=0,
        description="A running sync run older than this is presumed dead and no longer "
        "holds back the next run of its kind.",
    )

    scheduler_prune_at: str = Field(
        default="03:30",
        description="UTC time of day (HH:MM) of the daily prune of old sync history "
        "(the retention_* settings).",
    )
    retention_webhook_events_days: int | None = Field(
        default=14,
        ge=0,
        description="Days a received webhook event (with its payload) is kept for "
        "deduplication; HubSpot redelivers for 24 hours. 0 or empty: kept forever.",
    )
    retention_outbox_days: int | None = Field(
        default=30,
        ge=0,
        description="Days an outbox row is kept once every connection of its tenant has "
        "pushed past it. 0 or empty: kept forever.",
    )
    retention_runs_days: int | None = Field(
        default=90,
        ge=0,
        description="Days a finished sync run is kept (a running one always is). "
        "0 or empty: kept forever.",
    )
    retention_failures_days: int | None = Field(
        default=90,
        ge=0,
        description="Days a resolved or dismissed failure is kept after it last failed "
        "(an open or replayed one always is). 0 or empty: kept forever.",
    )
    prune_batch_rows: int = Field(
        default=5000,
        ge=1,
        le=100_000,
        description="Rows the prune deletes per transaction; each batch commits on its own.",
    )

    categorizer: Literal["rules", "llm"] = Field(
        default="rules",
        description="How customers are categorized: rules (offline, deterministic) or llm "
        "(an OpenAI-compatible chat endpoint, see the llm_* settings).",
    )
    llm_base_url: str | None = Field(
        default=None,
        description="Base URL of the OpenAI-compatible API, e.g. https://api.openai.com/v1. "
        "Required when categorizer is llm.",
    )
    llm_model: str | None = Field(
        default=None, description="Model name sent to the LLM endpoint. Required for llm."
    )
    llm_api_key: SecretStr | None = Field(
        default=None, description="API key for the LLM endpoint (a secret; never logged)."
    )
    llm_timeout_s: float = Field(
        default=30.0, gt=0, description="How long one categorization request may take."
    )
    categorize_reschedule_after_s: float = Field(
        default=86_400.0,
        gt=0,
        description="auto-categorize schedules a customer again when its earlier request "
        "produced no category after this long (a lost job).",
    )
    crm_overlap_s: float = Field(
        default=300.0,
        ge=0,
        description="How far before its saved cursor an incremental CRM scan starts again: "
        "HubSpot search lags writes and a Salesforce transaction commits rows stamped when "
        "it began. A connection's connector option overlap_s overrides it.",
    )
    pass_slice_s: float = Field(
        default=600.0,
        ge=1,
        le=1800,
        description="Longest a sync_changes job applies pages: a pass with pages left then "
        "stops at its saved cursor (outcome continued) and queues the rest as a new job, so "
        "a large first sync is a chain of short jobs that other connections' jobs can run "
        "between.",
    )
    hubspot_burst_requests: int = Field(
        default=190, ge=1, description="HubSpot requests allowed per rolling 10 seconds."
    )
    hubspot_search_per_s: int = Field(
        default=5, ge=1, description="HubSpot CRM search requests allowed per second."
    )
    hubspot_daily_requests: int = Field(
        default=250_000,
        ge=1,
        description="HubSpot daily request allowance until HubSpot's headers say otherwise.",
    )
    salesforce_daily_requests: int = Field(
        default=100_000,
        ge=1,
        description="Salesforce rolling 24-hour API allowance until Sforce-Limit-Info says "
        "otherwise.",
    )
    salesforce_bulk_threshold: int = Field(
        default=10_000,
        ge=0,
        description="A Salesforce pass from the start (first sync, reconcile) over more "
        "records of an object than this reads them with one Bulk API 2.0 query job instead "
        "of 2,000-record query batches; 0: never. A connection's connector option "
        "bulk_threshold overrides it.",
    )
    crm_daily_reserve: float = Field(
        default=0.05,
        ge=0,
        lt=1,
        description="Share of a CRM's daily allowance kept for webhook reads and pushes: "
        "scans stop cleanly at their cursor once only this much is left.",
    )

    @field_validator(
        "retention_webhook_events_days",
        "retention_outbox_days",
        "retention_runs_days",
        "retention_failures_days",
        mode="before",
    )
    @classmethod
    def _empty_keeps_forever(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _empty_is_default(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("scheduler_reconcile_at", "scheduler_prune_at")
    @classmethod
    def _time_of_day(cls, value: str) -> str:
        hour, sep, minute = value.partition(":")
        digits = (hour + minute).isascii() and hour.isdigit() and minute.isdigit()
        if not (sep and digits) or not (0 <= int(hour) < 24 and 0 <= int(minute) < 60):
            raise ValueError(f"{value!r} is not a time of day HH:MM")
        return f"{int(hour):02d}:{int(minute):02d}"

    @model_validator(mode="after")
    def _llm_is_configured(self) -> Settings:
        if self.categorizer == "llm" and not (self.llm_base_url and self.llm_model):
            raise ValueError("categorizer llm needs llm_base_url and llm_model")
        return self

    @field_validator("console_secret_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("the console secret key needs at least 32 characters")
        return value

    @field_validator("redis_sentinels")
    @classmethod
    def _sentinel_addresses(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        for address in value.split(","):
            host, sep, port = address.strip().rpartition(":")
            if not (sep and host and port.isdigit() and 0 < int(port) < 65536):
                raise ValueError(f"{address.strip()!r} is not a host:port")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError(f"{value!r} is not a logging level")
        return level

    @property
    def shared_redis_url(self) -> str | None:
        """The URL of the Redis for the shared state (pending ids, locks, budgets, the
        scheduler's lease): ``redis_url``, else the broker's URL (none when the broker is
        found through Sentinels: see ``worker.shared_state``)."""
        return self.redis_url or (None if self.redis_sentinels else self.broker_url)

    @property
    def sentinel_addresses(self) -> list[tuple[str, int]]:
        """``redis_sentinels`` as (host, port) pairs; empty when not set."""
        if not self.redis_sentinels:
            return []
        pairs = (address.strip().rpartition(":") for address in self.redis_sentinels.split(","))
        return [(host, int(port)) for host, _, port in pairs]

    @property
    def has_broker(self) -> bool:
        """Jobs go through Redis (a URL or Sentinels) to worker processes."""
        return bool(self.broker_url or self.redis_sentinels)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'crmsync.db').as_posix()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
