"""bounces: what came back after a mail left (bounces, complaints, unsubscribe mails)

Revision ID: 0005
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0003"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "bounces",
        sa.Column("id", BigId, nullable=False),
        sa.Column("event_key", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("delivery_id", sa.BigInteger(), nullable=True),
        sa.Column("edition_id", sa.Integer(), nullable=True),
        sa.Column("subscriber_id", BigId, nullable=True),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_bounces_subscriber_id_subscribers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bounces")),
        sa.UniqueConstraint("event_key", name=op.f("uq_bounces_event_key")),
    )
    op.create_index(
        op.f("ix_bounces_edition_id_kind"), "bounces", ["edition_id", "kind"], unique=False
    )
    op.create_index(
        op.f("ix_bounces_subscriber_id_kind_received_at"),
        "bounces",
        ["subscriber_id", "kind", "received_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("bounces")
