"""What a tenant decides about its customers' input, read once per unit of work.

Validation that needs the tenant's own data — typed custom property definitions, the
codes of its legal entities, whether a billing address is required — takes a
:class:`TenantRules`, so a bulk path (a CSV import) reads them once instead of per row
and the per-row checks stay free of I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from customers.legal_entities import entity_ids
from customers.models import Tenant
from customers.property_definitions import Definition, definitions_of


@dataclass(frozen=True)
class TenantRules:
    definitions: dict[str, Definition] = field(default_factory=dict)
    legal_entities: dict[str, int] = field(default_factory=dict)  # code -> id
    require_billing_address: bool = False

    @classmethod
    def load(
        cls,
        session: Session,
        tenant_id: int,
        *,
        definitions: bool = True,
        legal_entities: bool = True,
        billing_address: bool = True,
    ) -> TenantRules:
        """The rules; a part a change cannot touch may be skipped (a sync applies many
        changes, each with a few fields): it is then empty, or not required."""
        required = billing_address and session.scalar(
            select(Tenant.require_billing_address).where(Tenant.id == tenant_id)
        )
        return cls(
            definitions=definitions_of(session, tenant_id) if definitions else {},
            legal_entities=entity_ids(session, tenant_id) if legal_entities else {},
            require_billing_address=bool(required),
        )
