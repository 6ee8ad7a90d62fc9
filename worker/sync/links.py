"""A link's state as the sync writes it: the mark of our id in the CRM record, the columns
of a new link, the columns a merge leaves on it, and when a CRM record is stale for it.

Both ways a page writes links use these: one at a time as ``ExternalLink`` objects
(``worker.sync.merging``) and many at once as rows of one INSERT
(``worker.sync.new_records``), so the two cannot drift apart. Nothing here reads or
writes the database. Linking and unlinking by hand is ``worker.sync.linking``; what a
customer is linked to is read in ``customers.links``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from connectors.base import RemoteRecord
from customers.sync_state import ExternalLink
from customers.types import utcnow

# A link's base carries this marker once the CRM record holds our id, so the push knows
# whether it still has to write it (creates by upsert on our id depend on it).
ID_WRITTEN = "_id_written"


def is_stale(link: ExternalLink, record: RemoteRecord) -> bool:
    """Nothing of the record is applied: it is no newer than the state last merged through
    the link (stale, or the overlap of an incremental window read twice), or it was read
    before our last write to it landed. Such a read waited for the connection's lock while
    the push wrote (a webhook's fetch): merged now, the values our write replaced would read
    as CRM edits and undo it (an archive undone, the business created again elsewhere).
    Whatever else it carried is not lost: our write made the record newer than it, so the
    next read of it (at the latest the next incremental pass) brings it."""
    if link.remote_modified_at is not None and record.modified_at <= link.remote_modified_at:
        return True
    return link.remote_written_at is not None and record.modified_at < link.remote_written_at


def link_columns(
    *, connection_id: int, object_type: str, external_id: str, local_type: str, local_id: int
) -> dict[str, Any]:
    """The columns that say which CRM record is which local record, for a new link."""
    return {
        "connection_id": connection_id,
        "object_type": object_type,
        "external_id": external_id,
        "local_type": local_type,
        "local_id": local_id,
    }


def merged_columns(
    record: RemoteRecord,
    local_id: int,
    base: dict[str, Any],
    fingerprint: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The columns a merge of ``record`` leaves on its link: the merge base, marked with
    whether the CRM record carries our id (``ID_WRITTEN``), its fingerprint, and the CRM's
    time of the state merged."""
    return {
        "base": {**base, ID_WRITTEN: record.local_id == str(local_id)},
        "fingerprint": fingerprint,
        "remote_modified_at": record.modified_at,
        "last_synced_at": now or utcnow(),
    }
