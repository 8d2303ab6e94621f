"""Agent state history: one row per period an agent spent in a state (the ACD's changes, kept
durably so the board and the reports derive from the same facts).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Utc = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "agent_state_periods",
        sa.Column("id", Id, nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(64), nullable=True),
        sa.Column("queue", sa.String(64), nullable=True),
        sa.Column("call_id", sa.String(64), nullable=True),
        sa.Column("started_at", Utc, nullable=False),
        sa.Column("ended_at", Utc, nullable=True),  # NULL: the agent's current state
        sa.Column("source_id", sa.String(32), nullable=False),  # the Redis stream entry, sortable
        sa.Column("instance", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_agent_state_periods"),
        sa.UniqueConstraint("source_id", name="uq_agent_state_periods_source_id"),
    )
    op.create_index("ix_agent_state_periods_agent_order", "agent_state_periods", ["agent_id", "source_id"])
    op.create_index("ix_agent_state_periods_started_at", "agent_state_periods", ["started_at"])
    op.create_index("ix_agent_state_periods_ended_at", "agent_state_periods", ["ended_at"])


def downgrade() -> None:
    op.drop_table("agent_state_periods")
