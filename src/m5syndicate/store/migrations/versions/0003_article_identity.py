"""article identity: one article per story across sources; status, tags, fingerprint

Revision ID: 0003
Revises: 0002

Existing rows get their identity (store/identity.py) and fingerprint. Rows that turn out
to be one story (a `wordpress` and a `feed` source of the same site both stored it) are
merged into the oldest row (lowest id): its editions, deliveries and categories gain the
others', and the others are deleted. Columns are only added (no table is rebuilt, which
on SQLite would cascade-delete the rows that refer to articles).
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from m5syndicate.models import Article, Category
from m5syndicate.store.identity import fingerprint, identity_key

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

ARTICLE_COLUMNS = (
    ("identity", sa.Text(), ""),  # filled below, then made unique
    ("fingerprint", sa.String(length=64), ""),
    ("revision", sa.Integer(), "1"),
    ("status", sa.String(length=10), "published"),
    ("withdrawn_reason", sa.String(length=10), ""),
    ("language_source", sa.String(length=20), ""),
)

articles = sa.table(
    "articles",
    sa.column("id"),
    sa.column("source_id"),
    sa.column("guid"),
    sa.column("identity"),
    sa.column("fingerprint"),
    sa.column("url"),
    sa.column("title"),
    sa.column("summary"),
    sa.column("content_html"),
    sa.column("author"),
    sa.column("image_url"),
    sa.column("image_alt"),
    sa.column("language"),
)
article_categories = sa.table(
    "article_categories", sa.column("article_id"), sa.column("category_id")
)
categories = sa.table("categories", sa.column("id"), sa.column("slug"), sa.column("name"))
edition_articles = sa.table("edition_articles", sa.column("edition_id"), sa.column("article_id"))
delivered_articles = sa.table(
    "delivered_articles", sa.column("subscriber_id"), sa.column("article_id")
)
ARTICLE_FIELDS = (
    "guid",
    "url",
    "title",
    "summary",
    "content_html",
    "author",
    "image_url",
    "image_alt",
    "language",
)
MIGRATED = datetime(2000, 1, 1, tzinfo=UTC)  # dates are not part of the fingerprint
# (table, the column that, with article_id, is its primary key)
REFERRERS = ((edition_articles, "edition_id"), (delivered_articles, "subscriber_id"))


def upgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.add_column(sa.Column("item_errors", sa.Text(), nullable=False, server_default=""))
    # NOT NULL with a constant default: SQLite adds such columns in place.
    with op.batch_alter_table("articles", schema=None) as batch_op:
        for name, kind, default in ARTICLE_COLUMNS:
            batch_op.add_column(sa.Column(name, kind, nullable=False, server_default=default))
        batch_op.add_column(sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True))
    fill_identities(op.get_bind())
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_articles_identity"), ["identity"], unique=True)
    op.create_table(
        "tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=200), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tags")),
        sa.UniqueConstraint("slug", name=op.f("uq_tags_slug")),
    )
    op.create_table(
        "article_tags",
        sa.Column(
            "article_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_article_tags_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["tag_id"], ["tags.id"], name=op.f("fk_article_tags_tag_id_tags")),
        sa.PrimaryKeyConstraint("article_id", "tag_id", name=op.f("pk_article_tags")),
    )
    with op.batch_alter_table("article_tags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_article_tags_tag_id"), ["tag_id"], unique=False)


def fill_identities(conn: sa.Connection) -> None:
    """Identity and fingerprint for every row; rows of one story merged into the oldest."""
    names = {row.id: Category(row.slug, row.name) for row in conn.execute(sa.select(categories))}
    linked: dict[int, list[Category]] = defaultdict(list)
    for row in conn.execute(sa.select(article_categories)):
        linked[row.article_id].append(names[row.category_id])
    keepers: dict[str, int] = {}
    stored = conn.execute(sa.select(articles).order_by(articles.c.id)).mappings().all()
    for found in stored:
        key = identity_key(found["guid"], found["source_id"])
        if key in keepers:
            merge(conn, found["id"], keepers[key])
            continue
        keepers[key] = found["id"]
        values = {
            "identity": key,
            "fingerprint": fingerprint(as_article(found, linked[found["id"]])),
        }
        conn.execute(sa.update(articles).where(articles.c.id == found["id"]).values(**values))


def as_article(row: sa.RowMapping, cats: list[Category]) -> Article:
    from_row = {key: row[key] for key in ARTICLE_FIELDS}
    return Article(published_at=MIGRATED, updated_at=MIGRATED, categories=cats, **from_row)


def merge(conn: sa.Connection, duplicate: int, keeper: int) -> None:
    """Point what refers to ``duplicate`` at ``keeper`` (where it has no row of its own
    already), then delete the duplicate (its categories and leftovers cascade)."""
    for table, other in REFERRERS:
        taken = sa.select(table.c[other]).where(table.c.article_id == keeper)
        conn.execute(
            sa.update(table)
            .where(table.c.article_id == duplicate, table.c[other].not_in(taken))
            .values(article_id=keeper)
        )
        conn.execute(sa.delete(table).where(table.c.article_id == duplicate))
    have = sa.select(article_categories.c.category_id).where(
        article_categories.c.article_id == keeper
    )
    conn.execute(
        sa.update(article_categories)
        .where(
            article_categories.c.article_id == duplicate,
            article_categories.c.category_id.not_in(have),
        )
        .values(article_id=keeper)
    )
    conn.execute(sa.delete(article_categories).where(article_categories.c.article_id == duplicate))
    conn.execute(sa.delete(articles).where(articles.c.id == duplicate))


def downgrade() -> None:
    """Drops what upgrade added (merged duplicates stay merged). On SQLite dropping
    columns rebuilds `articles`, which with foreign keys on deletes the rows referring to
    it: downgrade a copy, or PostgreSQL."""
    with op.batch_alter_table("article_tags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_article_tags_tag_id"))
    op.drop_table("article_tags")
    op.drop_table("tags")
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_articles_identity"))
        for name, _kind, _default in ARTICLE_COLUMNS:
            batch_op.drop_column(name)
        batch_op.drop_column("withdrawn_at")
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.drop_column("item_errors")
