"""A link's state as both ways of writing links compute it (``worker.sync.links``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connectors.base import RemoteRecord
from customers.sync_state import ExternalLink
from worker.sync.links import ID_WRITTEN, is_stale, link_columns, merged_columns

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def record(modified_at: datetime, local_id: str | None = None) -> RemoteRecord:
    return RemoteRecord("company", "c1", {"name": "Acme"}, modified_at, local_id=local_id)


def test_a_record_no_newer_than_the_state_merged_is_stale() -> None:
    link = ExternalLink(remote_modified_at=T0)
    assert is_stale(link, record(T0))
    assert is_stale(link, record(T0 - timedelta(seconds=1)))
    assert not is_stale(link, record(T0 + timedelta(seconds=1)))


def test_a_link_that_merged_nothing_yet_is_never_stale() -> None:
    assert not is_stale(ExternalLink(remote_modified_at=None), record(T0))


def test_merged_columns_mark_whether_the_record_carries_our_id() -> None:
    now = T0 + timedelta(minutes=5)
    state = merged_columns(record(T0, local_id="42"), 42, {"name": "Acme"}, "f" * 64, now)
    assert state == {
        "base": {"name": "Acme", ID_WRITTEN: True},
        "fingerprint": "f" * 64,
        "remote_modified_at": T0,
        "last_synced_at": now,
    }
    assert merged_columns(record(T0, local_id="7"), 42, {}, "f", now)["base"] == {ID_WRITTEN: False}
    assert merged_columns(record(T0), 42, {}, "f", now)["base"] == {ID_WRITTEN: False}


def test_merged_columns_leave_the_base_given_unchanged() -> None:
    base = {"name": "Acme"}
    merged_columns(record(T0, local_id="42"), 42, base, "f")
    assert base == {"name": "Acme"}


def test_link_columns_are_the_identity_of_a_new_link() -> None:
    columns = link_columns(
        connection_id=3, object_type="company", external_id="c1", local_type="customer", local_id=9
    )
    link = ExternalLink(**columns, base={})
    assert (link.connection_id, link.object_type, link.external_id) == (3, "company", "c1")
    assert (link.local_type, link.local_id) == ("customer", 9)


def test_a_record_read_before_our_last_write_landed_is_stale() -> None:
    link = ExternalLink(remote_modified_at=T0, remote_written_at=T0 + timedelta(seconds=10))
    assert is_stale(link, record(T0 + timedelta(seconds=9)))
    # Our write's own state, or anything later, carries what it replaced: it is applied.
    assert not is_stale(link, record(T0 + timedelta(seconds=10)))
    assert not is_stale(link, record(T0 + timedelta(seconds=11)))
    assert is_stale(ExternalLink(remote_written_at=T0), record(T0 - timedelta(seconds=1)))
