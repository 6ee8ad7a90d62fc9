"""One package per CRM behind one protocol (``connectors.base.Connector``).

A connector is the only code that talks to a CRM. It knows no database: state it needs
(cursors, tokens) is handed in and handed back. Nothing above the connectors sees an SDK
type or an SDK exception: errors are mapped to ``connectors.errors`` in one function per
connector.
"""
