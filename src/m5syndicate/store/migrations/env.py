"""Alembic environment: the engine comes from m5syndicate (never from alembic.ini)."""

from alembic import context

from m5syndicate.store.schema import metadata

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,  # SQLite can only ALTER by copying tables
        compare_type=True,
    )
    context.run_migrations()
