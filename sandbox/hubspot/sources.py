"""Who made a change, in the two vocabularies HubSpot uses for it.

Webhook events carry a ``changeSource`` (``API`` for the public API, ``CRM_UI`` for a person
in HubSpot); the store is handed that string. Property history (``propertiesWithHistory``,
the spec's ``ValueWithTimestamp``) says more: ``sourceType`` ``INTEGRATION`` with the
app's id as ``sourceId`` for a write made with an app's token, and ``CRM_UI`` with
``sourceId`` ``userId:<id>`` and ``updatedByUserId`` for a person's edit.

The app that makes an API request is known only at the HTTP edge, so the endpoint wrapper
sets :data:`acting_app_id` for the duration of the request and :func:`history_source`
reads it; nothing else may set it.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

API = "API"  # changeSource of changes made through the public API
UI = "CRM_UI"  # changeSource of changes made "by a user in HubSpot" (the admin routes)
IMPORT = "IMPORT"  # what seeded data is shown as
# The HubSpot user the admin routes stand for.
SANDBOX_USER_ID = 7_310_524

acting_app_id: ContextVar[int | None] = ContextVar("acting_app_id", default=None)


@dataclass(frozen=True, slots=True)
class HistorySource:
    source_type: str
    source_id: str | None = None
    user_id: int | None = None

    def to_json(self) -> dict[str, str | int]:
        body: dict[str, str | int] = {"sourceType": self.source_type}
        if self.source_id is not None:
            body["sourceId"] = self.source_id
        if self.user_id is not None:
            body["updatedByUserId"] = self.user_id
        return body


SEEDED = HistorySource(IMPORT)


def history_source(change_source: str) -> HistorySource:
    """The history fields of a change made with the given ``changeSource``."""
    if change_source == API:
        app_id = acting_app_id.get()
        return HistorySource("INTEGRATION", None if app_id is None else str(app_id))
    if change_source == UI:
        return HistorySource(UI, f"userId:{SANDBOX_USER_ID}", SANDBOX_USER_ID)
    return HistorySource(change_source)
