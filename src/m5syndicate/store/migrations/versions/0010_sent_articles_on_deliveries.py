"""deliveries: what a mail carried, on its own row; the delivered_articles table goes

Before this, every mail sent wrote ten rows (one per article) into delivered_articles,
each with its primary-key entry and two foreign-key checks: on PostgreSQL that was 0.2 ms
of the server's CPU per mail, more than the rest of the ledger's writes together, and
reading it back cost one index probe per subscriber and article (BENCHMARKS.md, "Several
processes"). Now the UPDATE that marks a delivery sent also writes which articles it
carried ("id:hash ...", each hash cut to 16 hex digits), and the read looks only at the
editions that carried those articles (the new index on edition_articles.article_id).

Every mark is kept: it moves onto the sent delivery of the edition that carried that
article to that subscriber. (A mark whose delivery is gone was older than the retention
horizon, whose prune removes both: there is none.) The downgrade rebuilds the table from
the rows, with each article's whole hash where it still starts as recorded (an article
edited since keeps the short hash, which still reads as "edited": it is sent as updated).

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Iterator, Sequence
from itertools import groupby

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

HASH_DIGITS = 16  # store/deliveries.py SENT_HASH_DIGITS when this was written
CHUNK = 5000
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

deliveries = sa.table(
    "deliveries",
    sa.column("id"),
    sa.column("edition_id"),
    sa.column("subscriber_id"),
    sa.column("state"),
    sa.column("sent_at"),
    sa.column("sent_articles"),
)
edition_articles = sa.table(
    "edition_articles", sa.column("edition_id"), sa.column("article_id"), sa.column("position")
)
articles = sa.table("articles", sa.column("id"), sa.column("content_hash"))
delivered_articles = sa.table(
    "delivered_articles",
    sa.column("subscriber_id"),
    sa.column("article_id"),
    sa.column("content_hash"),
    sa.column("sent_at"),
)
DELIVERED = ("sent", "unknown")


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sent_articles", sa.Text(), nullable=False, server_default="")
        )
    with op.batch_alter_table("edition_articles", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_edition_articles_article_id"), ["article_id"], unique=False
        )
    move_marks_onto_deliveries(op.get_bind())
    op.drop_table("delivered_articles")


def move_marks_onto_deliveries(conn: sa.Connection) -> None:
    """Each mark onto the sent delivery of an edition that carried the article."""
    marks = (
        sa.select(
            deliveries.c.id, delivered_articles.c.article_id, delivered_articles.c.content_hash
        )
        .select_from(
            delivered_articles.join(
                edition_articles, edition_articles.c.article_id == delivered_articles.c.article_id
            ).join(
                deliveries,
                (deliveries.c.edition_id == edition_articles.c.edition_id)
                & (deliveries.c.subscriber_id == delivered_articles.c.subscriber_id),
            )
        )
        .where(deliveries.c.state.in_(DELIVERED))
        .order_by(deliveries.c.id, edition_articles.c.position)
    )
    write = (
        sa.update(deliveries)
        .where(deliveries.c.id == sa.bindparam("d_id"))
        .values(sent_articles=sa.bindparam("d_articles"))
    )
    rows = conn.execute(marks.execution_options(stream_results=True))  # millions: streamed
    updates: list[dict[str, object]] = []
    for delivery_id, group in groupby(rows, key=lambda row: row[0]):
        carried = " ".join(f"{a}:{h[:HASH_DIGITS]}" for _, a, h in group)
        updates.append({"d_id": delivery_id, "d_articles": carried})
        if len(updates) == CHUNK:
            conn.execute(write, updates)
            updates = []
    if updates:
        conn.execute(write, updates)


def downgrade() -> None:
    op.create_table(
        "delivered_articles",
        sa.Column("subscriber_id", BIG_ID, nullable=False),
        sa.Column("article_id", BIG_ID, nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_delivered_articles_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_delivered_articles_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subscriber_id", "article_id", name=op.f("pk_delivered_articles")),
    )
    conn = op.get_bind()
    rows = list(marks_from_deliveries(conn))
    for start in range(0, len(rows), CHUNK):
        conn.execute(sa.insert(delivered_articles), rows[start : start + CHUNK])
    with op.batch_alter_table("edition_articles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_edition_articles_article_id"))
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("sent_articles")


def marks_from_deliveries(conn: sa.Connection) -> Iterator[dict[str, object]]:
    """One mark per (subscriber, article): the latest mail's, whole hash where it fits."""
    hashes = {row.id: row.content_hash for row in conn.execute(sa.select(articles))}
    sent = (
        sa.select(deliveries.c.subscriber_id, deliveries.c.sent_at, deliveries.c.sent_articles)
        .where(deliveries.c.state.in_(DELIVERED) & (deliveries.c.sent_articles != ""))
        .order_by(deliveries.c.sent_at, deliveries.c.id)
    )
    latest: dict[tuple[int, int], dict[str, object]] = {}
    for row in conn.execute(sent):
        for item in row.sent_articles.split():
            article_id, _, short = item.partition(":")
            whole = hashes.get(int(article_id), "")
            if not whole:
                continue  # the article was deleted since: so was its mark
            kept = whole if whole.startswith(short) else short
            latest[(row.subscriber_id, int(article_id))] = {
                "subscriber_id": row.subscriber_id,
                "article_id": int(article_id),
                "content_hash": kept,
                "sent_at": row.sent_at,
            }
    yield from latest.values()
