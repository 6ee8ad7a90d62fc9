"""The two-way sync: CRM pages into the directory (``inbound``), outbox to the CRM
(``outbound``), and the passes that drive them (``passes``).

Everything here works on plain records from ``connectors.base`` and maps from ``mappings``;
it never sees an SDK type. The directory is changed only through ``customers.service`` and
``customers.contacts``.
"""
