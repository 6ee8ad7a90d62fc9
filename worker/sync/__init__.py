"""The two-way sync: CRM pages into the directory (``inbound``), outbox to the CRM
(``outbound``), and the passes that drive them (``passes``), which read a scan's next
page while they apply the current one (``prefetch``).

A page's work is split by concept, each part taking the page's context (``page``):
merging a linked record (``merging``), what differs between customers and contacts
(``sides``), plain creates in bulk (``new_records``). What a link holds is ``links``;
linking by hand is ``linking``; connections, their lifecycle and duplicate reviews have
modules of their own.

Everything here works on plain records from ``connectors.base`` and maps from ``mappings``;
it never sees an SDK type. The directory is changed only through ``customers.service`` and
``customers.contacts``.
"""
