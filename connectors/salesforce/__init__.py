"""The Salesforce connector, one module per concern.

- :mod:`~connectors.salesforce.connector`: :class:`SalesforceConnector` and its options:
  SOQL scans, reads and the ``Connector`` protocol.
- :mod:`~connectors.salesforce.api`: every call to simple-salesforce, with budget, session
  refresh, retries and the one mapping of SDK errors to ``connectors.errors``.
- :mod:`~connectors.salesforce.writes`: sObject Collections upserts, updates and deletes.
- :mod:`~connectors.salesforce.fields`: which of the map's fields the org has (``describe``).
"""

from __future__ import annotations

from connectors.salesforce.connector import (
    SalesforceConnector,
    SalesforceOptions,
    record_id_problem,
)

__all__ = ["SalesforceConnector", "SalesforceOptions", "record_id_problem"]
