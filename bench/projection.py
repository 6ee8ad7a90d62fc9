"""A first sync of many HubSpot records, projected from HubSpot's published limits: how long
the API alone makes it take, whatever the worker's speed.

- The list endpoint (``GET /crm/v3/objects/{type}``): 100 records a page, within the app's
  burst limit of 190 requests per 10 s (Professional and Enterprise), then one recycle-bin
  page. A first sync and a reconcile list.
- Search (``POST /crm/v3/objects/{type}/search``): 200 records a call at 5 requests per
  second per account, plus one empty call to learn the slice is done and the recycle-bin
  page. Incremental passes search.

Pure arithmetic: the benchmarks print it beside the calls they counted for the same scan.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

MILLION = 1_000_000
LIST_PAGE = 100
LIST_REQUESTS_PER_S = 190 / 10
SEARCH_PAGE = 200
SEARCH_REQUESTS_PER_S = 5.0
LIMITS_TEXT = "list 190 requests/10 s of 100; search 5 requests/s of 200"


@dataclass(frozen=True)
class Projection:
    api: str  # "list" | "search"
    records: int
    calls: int
    seconds: float

    @property
    def minutes(self) -> float:
        return self.seconds / 60


def first_sync(api: str, records: int = MILLION) -> Projection:
    """The calls and wall time of a scan of ``records`` records with ``api``."""
    if api == "list":
        calls = math.ceil(records / LIST_PAGE) + 1  # + the recycle bin
        return Projection(api, records, calls, calls / LIST_REQUESTS_PER_S)
    if api == "search":
        searches = records // SEARCH_PAGE + 1  # the last, short call ends the slice
        # The recycle-bin page is a list call, in the other window: it waits for nothing.
        return Projection(api, records, searches + 1, searches / SEARCH_REQUESTS_PER_S)
    raise ValueError(f"unknown HubSpot API {api!r}; use list or search")


def api_used(calls: Mapping[str, int]) -> str:
    """Which API a scan read its records with, from its calls by endpoint."""
    return "search" if any(name.endswith(".search") and n for name, n in calls.items()) else "list"
