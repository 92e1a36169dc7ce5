"""editions: why an edition is paused (relay, guard_rail, admin) and the reason in words

Revision ID: 0009
Revises: 0008

Before this, a relay pause and a guard-rail pause were both "paused" and the retries job
resumed both; an admin's pause was "held". Existing rows get the cause their state meant.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("editions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("pause_cause", sa.String(length=12), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("pause_reason", sa.Text(), nullable=False, server_default=""))
    op.execute("UPDATE editions SET pause_cause = 'relay' WHERE state = 'paused'")
    op.execute("UPDATE editions SET pause_cause = 'admin' WHERE state = 'held'")


def downgrade() -> None:
    with op.batch_alter_table("editions", schema=None) as batch_op:
        batch_op.drop_column("pause_reason")
        batch_op.drop_column("pause_cause")
