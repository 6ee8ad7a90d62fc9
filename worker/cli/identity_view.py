"""How ``customers show`` prints where invoices go, a customer's CRM links and aliases."""

from __future__ import annotations

from typing import Any

from worker.cli.common import console

# Keys of ``customers show --json`` printed in lines of their own, not in the field table.
SHOWN_APART = frozenset(
    {"contacts", "custom_properties", "links", "aliases", "invoice_to", "invoice_to_source"}
)


def show_apart(data: dict[str, Any]) -> None:
    console.print(
        f"  invoice to: {', '.join(data['invoice_to']) or '(nowhere)'} "
        f"(from {data['invoice_to_source']})",
        highlight=False,
        markup=False,
    )
    for link in data.get("links", []):
        synced = link["last_synced_at"] or "never"
        console.print(
            f"  link: connection {link['connection_id']} ({link['crm']}, "
            f"{link['connection']}) {link['object_type']} {link['external_id']}, "
            f"last synced {synced}",
            highlight=False,
            markup=False,
        )
    if not data.get("links"):
        console.print("  links: none", highlight=False)
    for alias in data.get("aliases", []):
        console.print(
            f"  alias: {alias['system']}:{alias['reference']}", highlight=False, markup=False
        )
