"""The local customer directory: the master record that invoices and AR reports point at.

``customers.models`` holds the tables, ``customers.service`` and ``customers.contacts`` are
the only code that changes them (every change also writes an outbox row in the same
transaction), ``customers.fields`` validates and normalizes input. Nothing here talks to a
CRM.
"""
