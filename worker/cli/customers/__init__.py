"""``crmsync customers``: the customer directory from the command line.

One sub-app (``options.app``) and the modules that add their commands to it:

==============  ================================================================
``commands``    list, show, search, add, update, archive, aliases, references
``links``       link, unlink and copy
``duplicates``  the duplicate check and merges
``categories``  categories and auto-categorization
``importing``   CSV import
==============  ================================================================
"""

from __future__ import annotations

# The order the modules are imported in is the order ``--help`` lists their commands.
from worker.cli.customers import commands  # isort: split

from worker.cli.customers import categories  # isort: split

from worker.cli.customers import links  # isort: split

from worker.cli.customers import duplicates, importing
from worker.cli.customers.options import app

__all__ = ["app", "categories", "commands", "duplicates", "importing", "links"]
