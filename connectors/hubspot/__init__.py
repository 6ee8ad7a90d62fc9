"""The HubSpot connector, one module per concern.

- :mod:`~connectors.hubspot.connector`: :class:`HubSpotConnector` and its options: scans,
  reads and the ``Connector`` protocol.
- :mod:`~connectors.hubspot.api`: every call to the SDK, with budget, token refresh, retries
  and the one mapping of SDK errors to ``connectors.errors``.
- :mod:`~connectors.hubspot.records`: record JSON to ``RemoteRecord`` (pure).
- :mod:`~connectors.hubspot.scan`: incremental search scans by keyset slices.
- :mod:`~connectors.hubspot.writes`: batch upserts, updates and archives.
- :mod:`~connectors.hubspot.properties`: the property group, our id property, the map's
  properties.
"""

from __future__ import annotations

from connectors.hubspot.connector import HubSpotConnector, HubSpotOptions, record_id_problem

__all__ = ["HubSpotConnector", "HubSpotOptions", "record_id_problem"]
