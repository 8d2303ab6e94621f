"""Activities record a call's blind transfers: who passed the caller on, to where, with what note.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    # [{"from_agent", "to_queue", "to_agent", "note", "at"}, ...] in order; NULL: never transferred.
    with op.batch_alter_table("activities") as batch:
        batch.add_column(sa.Column("transfers", Json, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("activities") as batch:
        batch.drop_column("transfers")
