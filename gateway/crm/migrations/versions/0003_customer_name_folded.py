"""Customers' folded names for search: `customers.name_folded`, indexed, filled from `name`.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

The folding is Python's (gateway/crm/folding.py, the same function the search uses), so the
existing rows are folded here in batches rather than by SQL, which could not agree with it
on both engines.
"""
import sqlalchemy as sa
from alembic import op

from gateway.crm.folding import fold_name

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_BATCH = 5000


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("name_folded", sa.String(200), server_default="", nullable=False))
    op.create_index("ix_customers_name_folded", "customers", ["name_folded"])
    conn = op.get_bind()
    customers = sa.table("customers", sa.column("id"), sa.column("name"), sa.column("name_folded"))
    last_id = 0
    while True:
        rows = conn.execute(sa.select(customers.c.id, customers.c.name).where(customers.c.id > last_id)
                            .order_by(customers.c.id).limit(_BATCH)).all()
        if not rows:
            break
        conn.execute(customers.update().where(customers.c.id == sa.bindparam("b_id"))
                     .values(name_folded=sa.bindparam("b_folded")),
                     [{"b_id": row.id, "b_folded": fold_name(row.name)} for row in rows])
        last_id = rows[-1].id


def downgrade() -> None:
    op.drop_index("ix_customers_name_folded", table_name="customers")
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("name_folded")
