"""The database schema (SQLAlchemy Core). Alembic migrations create it; a test checks
that the migrations and these tables agree, on SQLite and on PostgreSQL.

Times are stored as UTC; ``UTCDateTime`` gives back aware datetimes on both databases
(SQLite keeps no zone, so it is stripped on the way in and restored on the way out).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect

# Deterministic constraint names, so migrations can refer to them on both databases.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# BIGINT on PostgreSQL; SQLite only auto-increments an INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use datetime.now(UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def when(name: str, nullable: bool = True) -> Column[datetime]:
    return Column(name, UTCDateTime(), nullable=nullable)


sources = Table(
    "sources",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("type", String(20), nullable=False),
    # Where it is fetched now: a permanent redirect moves it. `configured_url` is what the
    # config says, so syncing the config does not undo a move (a config change resets).
    Column("url", Text, nullable=False),
    Column("configured_url", Text, nullable=False, default=""),
    Column("etag", Text, nullable=False, default=""),
    Column("last_modified", Text, nullable=False, default=""),
    Column("cursor", Text, nullable=False, default=""),
    when("last_checked_at"),
    when("last_success_at"),
    when("first_success_at"),  # null until the first good run: backfill decisions use it
    Column("last_error", Text, nullable=False, default=""),
    when("last_error_at"),
    Column("error_count", Integer, nullable=False, default=0),
    when("next_check_at"),
    when("created_at", nullable=False),
    # The items the last run skipped (one "item <id>: <reason>" a line); the rest were
    # stored and the source is not failed for them.
    Column("item_errors", Text, nullable=False, default=""),
)

articles = Table(
    "articles",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("source_id", ForeignKey("sources.id"), nullable=False),
    Column("guid", Text, nullable=False),
    # One story across the sources of the site (store/identity.py): every write is an
    # INSERT ... ON CONFLICT on it, so two sources storing at once give one row.
    Column("identity", Text, nullable=False),
    Column("url", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("title", Text, nullable=False),
    Column("summary", Text, nullable=False, default=""),
    Column("content_html", Text, nullable=False, default=""),
    Column("author", Text, nullable=False, default=""),
    Column("image_url", Text, nullable=False, default=""),
    Column("image_alt", Text, nullable=False, default=""),
    Column("language", String(8), nullable=False),
    when("published_at", nullable=False),
    when("updated_at", nullable=False),
    when("collected_at", nullable=False),
    # False for articles stored by a first collection's backfill: in feeds, never mailed.
    Column("offered", Boolean, nullable=False, default=True),
    # Everything visible, hashed: any difference is an update (store/identity.py).
    Column("fingerprint", String(64), nullable=False, default=""),
    Column("revision", Integer, nullable=False, default=1),  # 1 until first updated
    # "published" or "withdrawn" (out of feeds and new editions, marked in the archive).
    Column("status", String(10), nullable=False, default="published"),
    when("withdrawn_at"),
    # Why: "upstream" (the source said so) or "missing" (gone from the upstream's list;
    # only these come back when the list has them again).
    Column("withdrawn_reason", String(10), nullable=False, default=""),
    Column("language_source", String(20), nullable=False, default=""),
    UniqueConstraint("source_id", "guid"),
    Index(None, "identity", unique=True),
    Index(None, "url"),
    Index(None, "content_hash"),
    Index(None, "published_at"),
    Index(None, "language", "published_at"),
)

categories = Table(
    "categories",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("slug", String(200), nullable=False, unique=True),
    Column("name", Text, nullable=False),
)

article_categories = Table(
    "article_categories",
    metadata,
    Column("article_id", ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True),
    Column("category_id", ForeignKey("categories.id"), primary_key=True),
    Index(None, "category_id"),
)

# Tags are kept apart from categories (a tag and a category may share a slug); only
# categories are offered for subscription and get feeds.
tags = Table(
    "tags",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("slug", String(200), nullable=False, unique=True),
    Column("name", Text, nullable=False),
)

article_tags = Table(
    "article_tags",
    metadata,
    Column("article_id", ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id"), primary_key=True),
    Index(None, "tag_id"),
)

subscribers = Table(
    "subscribers",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("email", String(320), nullable=False),
    # The address lowercased: one subscriber per mailbox, whatever the case typed.
    Column("email_key", String(320), nullable=False, unique=True),
    Column("name", Text, nullable=False, default=""),
    Column("language", String(8), nullable=False),
    Column("cadence", String(10), nullable=False),
    Column("format", String(10), nullable=False, default="html"),
    Column("status", String(20), nullable=False),
    # Bumping it revokes every preferences/unsubscribe link sent so far.
    Column("token_version", Integer, nullable=False, default=1),
    Column("confirm_token_hash", String(64), nullable=True),
    when("confirm_sent_at"),
    when("created_at", nullable=False),
    when("confirmed_at"),
    when("unsubscribed_at"),
    when("updated_at", nullable=False),
    Index(None, "status", "cadence"),
)

subscriber_categories = Table(
    "subscriber_categories",
    metadata,
    Column("subscriber_id", ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True),
    Column("slug", String(200), primary_key=True),
)

consent_events = Table(
    "consent_events",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("subscriber_id", ForeignKey("subscribers.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(20), nullable=False),  # subscribe, confirm, change, unsubscribe...
    when("at", nullable=False),
    Column("ip", String(64), nullable=False, default=""),
    Column("user_agent", Text, nullable=False, default=""),
    Column("via", String(20), nullable=False),  # web, cli, import, api, mail
    Column("consent_version", String(40), nullable=False, default=""),
    Column("detail", Text, nullable=False, default=""),
    Index(None, "subscriber_id"),
)

# Addresses never to be mailed, kept only as a SHA-256 of the lowercased address so that
# `subscribers forget` can erase the address itself.
suppressions = Table(
    "suppressions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email_hash", String(64), nullable=False, unique=True),
    Column("reason", Text, nullable=False),
    Column("via", String(20), nullable=False),
    when("created_at", nullable=False),
)

editions = Table(
    "editions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("cadence", String(10), nullable=False),
    Column("period_key", String(40), nullable=False),  # 2026-11-28, 2026-W48, instant ids
    Column("state", String(10), nullable=False),
    when("since", nullable=False),
    when("until", nullable=False),
    when("created_at", nullable=False),
    when("finished_at"),
    # Why it is paused or held: relay (the senders resume it), guard_rail or admin (a
    # person resumes it); pause_reason says it in words. Both empty while it may be sent.
    Column("pause_cause", String(12), nullable=False, server_default=""),
    Column("pause_reason", Text, nullable=False, server_default=""),
    UniqueConstraint("cadence", "period_key"),
)

edition_articles = Table(
    "edition_articles",
    metadata,
    Column("edition_id", ForeignKey("editions.id", ondelete="CASCADE"), primary_key=True),
    Column("article_id", ForeignKey("articles.id"), primary_key=True),
    Column("position", Integer, nullable=False),
    # Which editions carried an article: where delivered_hashes looks (migration 0010).
    Index(None, "article_id"),
)

# The ledger: one row per (edition, subscriber). See DESIGN.md "Deliveries are a ledger".
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("edition_id", ForeignKey("editions.id"), nullable=False),
    Column("subscriber_id", ForeignKey("subscribers.id", ondelete="CASCADE"), nullable=False),
    Column("state", String(10), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    when("lease_until"),
    Column("claimed_by", String(100), nullable=False, default=""),
    when("next_attempt_at"),
    Column("last_error", Text, nullable=False, default=""),
    Column("smtp_code", Integer, nullable=True),
    Column("message_id", Text, nullable=False, default=""),
    # What reached whom, so nobody gets an article twice (across editions and cadences)
    # and an edited one is marked "updated": "article_id:hash ..." of the mail sent
    # (store/deliveries.py, encode_sent_articles; migration 0010).
    Column("sent_articles", Text, nullable=False, server_default=""),
    when("created_at", nullable=False),
    when("sent_at"),
    UniqueConstraint("edition_id", "subscriber_id"),
    Index(None, "edition_id", "state", "next_attempt_at"),
    Index(None, "subscriber_id"),
    # What claim_batch walks, in id order: only unfinished rows, so a claim late in a
    # million-row edition does not step over every finished one (migration 0008).
    Index(
        "ix_deliveries_unfinished",
        "id",
        postgresql_where=text("state IN ('pending', 'sending')"),
        sqlite_where=text("state IN ('pending', 'sending')"),
    ),
)

# One row per scheduled job: its last run (for `status`, catch-up after downtime and
# /metrics). Catch-up compares `last_scheduled_for` with the job's latest due time.
job_runs = Table(
    "job_runs",
    metadata,
    Column("name", String(40), primary_key=True),
    when("last_scheduled_for"),
    when("last_started_at"),
    when("last_finished_at"),
    Column("last_status", String(10), nullable=False, default=""),  # ok, failed, missed
    Column("last_error", Text, nullable=False, default=""),
    Column("runs", Integer, nullable=False, default=0),
    Column("failures", Integer, nullable=False, default=0),
    Column("misses", Integer, nullable=False, default=0),
)

# What came back after a mail left (bounces/): one row per bounce, complaint or unsubscribe
# mail, tied to its delivery when the mail named it. Plain ids, not foreign keys, for the
# delivery and the edition: pruning the ledger keeps the edition's rates; a forgotten
# subscriber's rows lose their subscriber (SET NULL), never the count.
bounces = Table(
    "bounces",
    metadata,
    Column("id", BigId, primary_key=True),
    # The report's Message-ID (or provider event id) and what it said: read twice, stored once.
    Column("event_key", String(255), nullable=False, unique=True),
    Column("kind", String(12), nullable=False),  # hard, soft, complaint, unsubscribe
    Column("source", String(20), nullable=False),  # mailbox, ses, mailgun, postmark, sendgrid
    Column("delivery_id", BigInteger, nullable=True),
    Column("edition_id", Integer, nullable=True),
    Column("subscriber_id", ForeignKey("subscribers.id", ondelete="SET NULL"), nullable=True),
    Column("status", String(40), nullable=False, default=""),
    Column("detail", Text, nullable=False, default=""),
    when("received_at", nullable=False),
    Index(None, "edition_id", "kind"),
    Index(None, "subscriber_id", "kind", "received_at"),
)

# People who may use the web console; only an Argon2id hash of the password is kept.
admin_users = Table(
    "admin_users",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    when("created_at", nullable=False),
    when("last_login_at"),
)

# Every admin action in the console: who, what, on what, when.
admin_audit = Table(
    "admin_audit",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    when("at", nullable=False),
    Column("admin_email", String(254), nullable=False),
    Column("action", String(40), nullable=False),
    Column("target", Text, nullable=False, default=""),
    Column("detail", Text, nullable=False, default=""),
    Index(None, "at"),
)

# Clicks on an edition's article links (the /r/ redirect), counted per edition and
# article: an aggregate only, with no subscriber, address or client in it.
article_clicks = Table(
    "article_clicks",
    metadata,
    Column("edition_id", ForeignKey("editions.id", ondelete="CASCADE"), primary_key=True),
    Column("article_id", ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True),
    Column("clicks", BigInteger, nullable=False, default=0),
    when("first_clicked_at", nullable=False),
    when("last_clicked_at", nullable=False),
)
