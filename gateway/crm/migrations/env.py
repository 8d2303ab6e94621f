"""Alembic environment for the CRM schema. Run through gateway.crm.migrate, which hands over
an open connection (so a PostgreSQL advisory lock can cover the whole upgrade)."""
from alembic import context

from gateway.crm.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
