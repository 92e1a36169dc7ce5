"""deliveries: a partial index of the unfinished rows, for claim_batch at a million rows

Without it a claim walks the primary key past every finished row (500,000 of them and
213 ms per claim at half of a million sent; BENCHMARKS.md, "Several processes"): the
planner cannot know that the finished rows are the low ids. With it the claim reads only
pending and sending rows, in id order. One column: on (edition_id, id) the planner still
chose the primary key (2% to 50% sent).

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None
UNFINISHED = sa.text("state IN ('pending', 'sending')")


def upgrade() -> None:
    op.create_index(
        "ix_deliveries_unfinished",
        "deliveries",
        ["id"],
        postgresql_where=UNFINISHED,
        sqlite_where=UNFINISHED,
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_unfinished", table_name="deliveries")
