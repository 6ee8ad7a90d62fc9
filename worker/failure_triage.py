"""What an operator does with failure rows: find them (filtered, one tenant's only), show
them with credentials masked, replay them and dismiss them.

The ``crmsync failures`` commands and the console both call these; neither holds logic of
its own. Replaying marks the rows and hands back the jobs to send: in the embedded mode
(no broker) the caller runs them after its transaction commits, because the jobs write to
the same database. Nothing here calls a CRM.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from customers.errors import DirectoryError, InvalidInput, NotFound
from customers.plain import plain
from customers.sync_state import SyncFailure
from customers.types import utcnow
from worker.failures import DISMISSED, OPEN, REPLAYED, RESOLVED, UNRESOLVED
from worker.jobs import enqueue
from worker.jobs.payload import JobCall
from worker.logs import REDACTED, SECRET_KEY  # one notion of a secret, as in logs

STATUSES = (OPEN, REPLAYED, RESOLVED, DISMISSED)
DURATION = re.compile(r"(\d+)\s*([smhdw])")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class NotSent(DirectoryError):
    """The broker refused a replayed job; the caller's transaction must roll back so no
    row stays marked replayed."""

    def __init__(self, failure_id: int, error: BaseException) -> None:
        self.failure_id = failure_id
        super().__init__(
            f"could not send failure {failure_id}'s job ({type(error).__name__}); "
            "no failure was marked replayed"
        )


def parse_since(value: str, *, now: datetime | None = None) -> datetime:
    """``30m`` / ``12h`` / ``7d`` ago, or an ISO date or date-time (UTC unless it says)."""
    text = value.strip().lower()
    match = DURATION.fullmatch(text)
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        try:
            return (now or utcnow()) - timedelta(**{UNITS[unit]: amount})
        except OverflowError:
            raise InvalidInput.single("--since", f"{value!r} reaches too far back") from None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput.single(
            "--since", f"{value!r} is not a duration (12h, 7d) or a date"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def redact(value: Any) -> Any:
    """The value with every credential-like key's value replaced by ``***``."""
    if isinstance(value, dict):
        return {
            key: REDACTED if isinstance(key, str) and SECRET_KEY.search(key) else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


def failure_dict(row: SyncFailure, *, full: bool = False) -> dict[str, Any]:
    """A failure as it is shown: ``full`` with its (masked) payload, else a short message."""
    data = {column.key: plain(getattr(row, column.key)) for column in SyncFailure.__table__.columns}
    data["payload"] = redact(row.payload)
    if not full:
        data.pop("payload")
        data["message"] = (row.message or "")[:200]
    return data


def scoped(tenant_id: int) -> Select[SyncFailure]:
    """This tenant's failures only: of its connections, and of its customers' categorization.
    Another tenant's id is answered as an id that does not exist."""
    return select(SyncFailure).where(SyncFailure.tenant_id == tenant_id)


def statuses(status: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    """``open,replayed`` / ``unresolved`` / ``all`` -> the statuses; None -> ``default``."""
    if status is None:
        return default
    if status == "all":
        return STATUSES
    if status == "unresolved":
        return UNRESOLVED
    chosen = tuple(part.strip() for part in status.split(","))
    unknown = [part for part in chosen if part not in STATUSES]
    if unknown:
        raise InvalidInput.single(
            "--status", f"{', '.join(unknown)}: use {', '.join(STATUSES)}, unresolved or all"
        )
    return chosen


@dataclass(frozen=True)
class FailureFilter:
    """Which failures: of one connection, direction, error class or CRM code, since when."""

    statuses: tuple[str, ...] = UNRESOLVED
    connection: int | None = None
    direction: str | None = None
    since: str | None = None
    error: str | None = None


def filtered(tenant_id: int, chosen: FailureFilter) -> Select[SyncFailure]:
    """The tenant's failures the filter selects, newest first."""
    query = scoped(tenant_id).where(SyncFailure.status.in_(chosen.statuses))
    if chosen.connection is not None:
        query = query.where(SyncFailure.connection_id == chosen.connection)
    if chosen.direction:
        query = query.where(SyncFailure.direction == chosen.direction)
    if chosen.since:
        query = query.where(SyncFailure.last_failed_at >= parse_since(chosen.since))
    if chosen.error:
        query = query.where(
            or_(SyncFailure.error_class == chosen.error, SyncFailure.crm_code == chosen.error)
        )
    return query.order_by(SyncFailure.last_failed_at.desc(), SyncFailure.id.desc())


def one(session: Session, tenant_id: int, failure_id: int) -> SyncFailure:
    row = session.scalar(scoped(tenant_id).where(SyncFailure.id == failure_id))
    if row is None:
        raise NotFound("failure", failure_id)
    return row


def not_replayable(row: SyncFailure) -> str | None:
    """Why the row cannot be replayed, or None."""
    if row.status == RESOLVED:
        return "already resolved"
    try:
        call = JobCall.from_payload(row.payload or {})
    except ValueError:
        return "its payload names no crmsync job"
    if call.actor not in enqueue.JOB_NAMES:
        return "its payload names no crmsync job"
    return None


@dataclass
class Replay:
    """What a replay did: the rows replayed (with their masked jobs), those skipped and
    why, and the jobs the caller runs itself after committing (embedded mode)."""

    replayed: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    to_run: list[JobCall] = field(default_factory=list)


def replay(
    session: Session, rows: list[SyncFailure], *, run_here: bool, dry_run: bool = False
) -> Replay:
    """Mark the rows replayed and send their jobs (with a broker) or hand them back to run
    after the commit (``run_here``). Raises :class:`NotSent` when the broker refuses one."""
    done = Replay()
    for row in rows:
        reason = not_replayable(row)
        if reason:
            done.skipped.append({"id": row.id, "reason": reason})
            continue
        job = JobCall.from_payload(row.payload)
        if not dry_run:
            # Marked first: if sending fails, the caller's transaction rolls the mark back.
            row.status = REPLAYED
            row.resolution = f"replayed {utcnow().isoformat(timespec='seconds')}"
            session.flush()
            if run_here:
                done.to_run.append(job)
            else:
                try:
                    enqueue.replay(job)
                except Exception as error:  # the broker is down or refused the message
                    raise NotSent(row.id, error) from None
        done.replayed.append({"id": row.id, "job": redact(job.payload())})
    return done


def run_replayed(jobs: list[JobCall]) -> None:
    """Run replayed jobs in this process (the embedded mode), after their marks committed."""
    if not jobs:
        return
    from worker.embedded import jobs_run_here

    with jobs_run_here():
        for job in jobs:
            enqueue.replay(job)


def dismiss(session: Session, tenant_id: int, failure_id: int, reason: str) -> SyncFailure:
    """Leave a failure alone on purpose; it stays on record with the reason."""
    if not reason.strip():
        raise InvalidInput.single("--reason", "say why the failure is dismissed")
    row = one(session, tenant_id, failure_id)
    if row.status == RESOLVED:
        raise InvalidInput.single("id", f"failure {failure_id} is already resolved")
    row.status, row.resolution = DISMISSED, reason.strip()[:2000]
    return row
