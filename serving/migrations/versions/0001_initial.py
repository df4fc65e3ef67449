"""the store: AR book, decision log, worklist, keys

Revision ID: 0001
Revises:
Create Date: 2026-12-04 19:56:02.568750
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_table(
        "customers",
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("segment", sa.String(length=20), nullable=True),
        sa.Column("industry", sa.String(length=100), nullable=True),
        sa.Column("country", sa.String(length=100), nullable=True),
        sa.Column("payment_terms_days", sa.Integer(), nullable=True),
        sa.Column("credit_limit", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("revenue_owner_id", sa.String(length=64), nullable=True),
        sa.Column("collector_id", sa.String(length=64), nullable=True),
        sa.Column("strategic", sa.Boolean(), nullable=True),
        sa.Column("created_date", sa.Date(), nullable=True),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customers")),
    )
    op.create_table(
        "decisions",
        sa.Column("decision_id", sa.String(length=36), nullable=False),
        sa.Column("invoice_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("role", sa.String(length=12), nullable=False),
        sa.Column("champion_decision_id", sa.String(length=36), nullable=True),
        sa.Column("owner", sa.String(length=20), nullable=False),
        sa.Column("assignee", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("tier", sa.String(length=2), nullable=False),
        sa.Column("amount_at_risk", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("model_versions", sa.JSON(), nullable=False),
        sa.Column("policy_version", sa.String(length=80), nullable=False),
        sa.Column("decision", sa.JSON(), nullable=False),
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("decision_id", name=op.f("pk_decisions")),
    )
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_decisions_champion_decision_id"), ["champion_decision_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_decisions_invoice_id"), ["invoice_id"], unique=False)

    op.create_table(
        "invoices",
        sa.Column("invoice_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=True),
        sa.Column("paperless", sa.Boolean(), nullable=True),
        sa.Column("paid_date", sa.Date(), nullable=True),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.customer_id"],
            name=op.f("fk_invoices_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("invoice_id", name=op.f("pk_invoices")),
    )
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invoices_customer_id"), ["customer_id"], unique=False)

    op.create_table(
        "activities",
        sa.Column("activity_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("invoice_id", sa.String(length=64), nullable=True),
        sa.Column("order_id", sa.String(length=64), nullable=True),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("promised_date", sa.Date(), nullable=True),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.customer_id"],
            name=op.f("fk_activities_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.invoice_id"], name=op.f("fk_activities_invoice_id_invoices")
        ),
        sa.PrimaryKeyConstraint("activity_id", name=op.f("pk_activities")),
    )
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_activities_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_activities_invoice_id"), ["invoice_id"], unique=False)

    op.create_table(
        "disputes",
        sa.Column("dispute_id", sa.String(length=64), nullable=False),
        sa.Column("invoice_id", sa.String(length=64), nullable=False),
        sa.Column("opened_date", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("resolved_date", sa.Date(), nullable=True),
        sa.Column("resolution", sa.String(length=20), nullable=True),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.invoice_id"], name=op.f("fk_disputes_invoice_id_invoices")
        ),
        sa.PrimaryKeyConstraint("dispute_id", name=op.f("pk_disputes")),
    )
    with op.batch_alter_table("disputes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_disputes_invoice_id"), ["invoice_id"], unique=False)

    op.create_table(
        "payments",
        sa.Column("payment_id", sa.String(length=64), nullable=False),
        sa.Column("invoice_id", sa.String(length=64), nullable=False),
        sa.Column("payment_date", sa.Date(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.invoice_id"], name=op.f("fk_payments_invoice_id_invoices")
        ),
        sa.PrimaryKeyConstraint("payment_id", name=op.f("pk_payments")),
    )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payments_invoice_id"), ["invoice_id"], unique=False)

    op.create_table(
        "worklist_items",
        sa.Column("invoice_id", sa.String(length=64), nullable=False),
        sa.Column("decision_id", sa.String(length=36), nullable=True),
        sa.Column("owner", sa.String(length=20), nullable=True),
        sa.Column("assignee", sa.String(length=64), nullable=True),
        sa.Column("tier", sa.String(length=2), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=True),
        sa.Column("amount_at_risk", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("last_action", sa.String(length=40), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.invoice_id"],
            name=op.f("fk_worklist_items_invoice_id_invoices"),
        ),
        sa.PrimaryKeyConstraint("invoice_id", name=op.f("pk_worklist_items")),
    )
    with op.batch_alter_table("worklist_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_worklist_items_assignee"), ["assignee"], unique=False)
        batch_op.create_index("ix_worklist_owner_status", ["owner", "status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("worklist_items", schema=None) as batch_op:
        batch_op.drop_index("ix_worklist_owner_status")
        batch_op.drop_index(batch_op.f("ix_worklist_items_assignee"))

    op.drop_table("worklist_items")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payments_invoice_id"))

    op.drop_table("payments")
    with op.batch_alter_table("disputes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_disputes_invoice_id"))

    op.drop_table("disputes")
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activities_invoice_id"))
        batch_op.drop_index(batch_op.f("ix_activities_customer_id"))

    op.drop_table("activities")
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invoices_customer_id"))

    op.drop_table("invoices")
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_decisions_invoice_id"))
        batch_op.drop_index(batch_op.f("ix_decisions_champion_decision_id"))

    op.drop_table("decisions")
    op.drop_table("customers")
    op.drop_table("api_keys")
