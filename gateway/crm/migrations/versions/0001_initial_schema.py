"""Initial CRM schema: customers, phone numbers, cases, activities, orders.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Spelled out here rather than imported from models.py: a migration must not change when the
# models move on.
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
Utc = sa.DateTime(timezone=True)
OPEN_ONLY = sa.text("closed_at IS NULL")


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", Id, nullable=False),
        sa.Column("account_number", sa.String(32), nullable=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("language", sa.String(8), nullable=True),
        sa.Column("segment", sa.String(32), nullable=True),
        sa.Column("tier", sa.String(16), server_default="standard", nullable=False),
        sa.Column("lifetime_value", sa.Numeric(14, 2), server_default="0", nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("is_lead", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("created_at", Utc, nullable=False),
        sa.Column("updated_at", Utc, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_customers"),
        sa.UniqueConstraint("account_number", name="uq_customers_account_number"),
    )
    op.create_table(
        "phone_numbers",
        sa.Column("id", Id, nullable=False),
        sa.Column("customer_id", Id, nullable=False),
        sa.Column("e164", sa.String(16), nullable=False),
        sa.Column("label", sa.String(16), nullable=True),
        sa.Column("is_primary", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("created_at", Utc, nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name="fk_phone_numbers_customer_id_customers",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_phone_numbers"),
        sa.UniqueConstraint("e164", name="uq_phone_numbers_e164"),
    )
    op.create_index("ix_phone_numbers_customer_id", "phone_numbers", ["customer_id"])
    op.create_table(
        "cases",
        sa.Column("id", Id, nullable=False),
        sa.Column("customer_id", Id, nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), server_default="open", nullable=False),
        sa.Column("priority", sa.String(16), server_default="normal", nullable=False),
        sa.Column("owner", sa.String(64), nullable=True),
        sa.Column("opened_at", Utc, nullable=False),
        sa.Column("closed_at", Utc, nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name="fk_cases_customer_id_customers",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_cases"),
    )
    op.create_index("ix_cases_customer_id", "cases", ["customer_id"])
    op.create_index("ix_cases_open_by_customer", "cases", ["customer_id", "opened_at"],
                    postgresql_where=OPEN_ONLY, sqlite_where=OPEN_ONLY)
    op.create_table(
        "activities",
        sa.Column("id", Id, nullable=False),
        sa.Column("customer_id", Id, nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("occurred_at", Utc, nullable=False),
        sa.Column("direction", sa.String(8), nullable=True),
        sa.Column("channel", sa.String(16), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("agent_id", sa.String(64), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.Column("case_id", Id, nullable=True),
        sa.Column("linkedid", sa.String(64), nullable=True),
        sa.Column("raw_ani", sa.String(64), nullable=True),
        sa.Column("e164", sa.String(16), nullable=True),
        sa.Column("dnis", sa.String(64), nullable=True),
        sa.Column("started_at", Utc, nullable=True),
        sa.Column("answered_at", Utc, nullable=True),
        sa.Column("ended_at", Utc, nullable=True),
        sa.Column("queue", sa.String(64), nullable=True),
        sa.Column("wait_seconds", sa.Float(), nullable=True),
        sa.Column("talk_seconds", sa.Float(), nullable=True),
        sa.Column("hold_seconds", sa.Float(), nullable=True),
        sa.Column("ivr_path", Json, nullable=True),
        sa.Column("ivr_inputs", Json, nullable=True),
        sa.Column("route", Json, nullable=True),
        sa.Column("disposition", sa.String(64), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_at", Utc, nullable=False),
        sa.Column("updated_at", Utc, nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_activities_case_id_cases", ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name="fk_activities_customer_id_customers",
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_activities"),
        sa.UniqueConstraint("linkedid", name="uq_activities_linkedid"),
    )
    op.create_index("ix_activities_customer_recent", "activities", ["customer_id", "occurred_at", "id"])
    op.create_table(
        "orders",
        sa.Column("id", Id, nullable=False),
        sa.Column("customer_id", Id, nullable=False),
        sa.Column("order_number", sa.String(32), nullable=False),
        sa.Column("placed_at", Utc, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("total", sa.Numeric(12, 2), nullable=False),
        sa.Column("currency", sa.String(3), server_default="TRY", nullable=False),
        sa.Column("description", sa.String(200), nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name="fk_orders_customer_id_customers",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_orders"),
        sa.UniqueConstraint("order_number", name="uq_orders_order_number"),
    )
    op.create_index("ix_orders_customer_recent", "orders", ["customer_id", "placed_at"])


def downgrade() -> None:
    op.drop_table("orders")
    op.drop_table("activities")
    op.drop_table("cases")
    op.drop_table("phone_numbers")
    op.drop_table("customers")
