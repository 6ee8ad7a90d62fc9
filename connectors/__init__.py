"""One package per CRM behind one protocol (``connectors.base.Connector``).

A connector is the only code that talks to a CRM. It knows no database: state it needs
(cursors, tokens) is handed in and handed back. Nothing above the connectors sees an SDK
type or an SDK exception: errors are mapped to ``connectors.errors`` in one function per
connector.

``connectors.hubspot`` and ``connectors.salesforce`` hold everything CRM-specific (calls,
records, scans, writes, setup, webhook parsing); the modules at this level are shared by
both, and ``connectors.registry`` is the table of CRMs. The CRM packages must not import
``worker`` or ``customers``.
"""
