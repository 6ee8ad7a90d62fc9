"""retention indexes

The prune (``worker.retention``) deletes, across every connection and tenant, webhook
events with ``received_at`` before its horizon, finished sync runs with ``started_at``
before it, and resolved or dismissed failures with ``last_failed_at`` before it. Without
these indexes each batch of a prune read the whole table to find its rows.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 03:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.create_index("ix_webhook_events_received_at", ["received_at"], unique=False)
    with op.batch_alter_table("sync_failures", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sync_failures_status_last_failed", ["status", "last_failed_at"], unique=False
        )
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.create_index("ix_sync_runs_started_at", ["started_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_runs_started_at")
    with op.batch_alter_table("sync_failures", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_failures_status_last_failed")
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_events_received_at")
