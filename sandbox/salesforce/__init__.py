"""A faithful, local emulator of the Salesforce REST API (Account and Contact).

Use :class:`SalesforceSandbox`; the modules behind it are split by concept: ``store``
(records and the rules on change), ``soql_parser``/``soql_eval``/``query`` (SOQL and
paging), ``rest``/``sobjects``/``composite``/``replication`` (the REST resources),
``bulk`` (Bulk API 2.0 query jobs),
``auth`` (OAuth, sessions, the daily API allocation), ``outbound``/``soap`` (Outbound
Messages), ``admin`` (the sandbox's own HTTP controls), ``tls`` and ``shapes`` (JSON
Schemas of the documented response bodies).
"""

from __future__ import annotations

from .outbound import Registration
from .sandbox import SalesforceSandbox
from .schema import EXTERNAL_ID_FIELD, CustomField

__all__ = ["EXTERNAL_ID_FIELD", "CustomField", "Registration", "SalesforceSandbox"]
