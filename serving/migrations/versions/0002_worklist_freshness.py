"""worklist freshness: when an item was last touched, the event watermark, ingest-time indexes

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 22:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

EVENT_TABLES = ("invoices", "payments", "disputes", "activities")


def upgrade() -> None:
    with op.batch_alter_table("worklist_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("touched_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "worklist_sync",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("seen_until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_worklist_sync")),
    )
    for table in EVENT_TABLES:
        op.create_index(f"ix_{table}_ingested_at", table, ["ingested_at"], unique=False)


def downgrade() -> None:
    for table in EVENT_TABLES:
        op.drop_index(f"ix_{table}_ingested_at", table_name=table)
    op.drop_table("worklist_sync")
    with op.batch_alter_table("worklist_items", schema=None) as batch_op:
        batch_op.drop_column("touched_at")
