"""The admin API's request and response bodies (pydantic); FastAPI writes the OpenAPI
document from them, so the document and the validation cannot drift apart.

Enums and limits come from the constants the use cases check. Choices (language,
cadence, format) are declared here and checked by the use case, whose message names the
allowed values; types, lengths and patterns are checked here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from m5syndicate.config import CADENCES, LANGUAGES
from m5syndicate.models import EDITION_STATES, PAUSE_CAUSES, SUBSCRIBER_STATES, Edition, Subscriber
from m5syndicate.subscribers.subscriptions import (
    FORMATS,
    MAX_CATEGORIES,
    MAX_EMAIL,
    MAX_NAME,
    MAX_SLUG,
)

SLUG_PATTERN = "^[a-z0-9][a-z0-9-]*$"
OUTCOMES = ("added", "exists", "suppressed")  # of subscriptions.add_subscriber


def one_of(choices: tuple[str, ...], default: str | None = None) -> Any:
    """A string field documented with its allowed values (the use case enforces them)."""
    if default is None:
        return Field(json_schema_extra={"enum": list(choices)})
    return Field(default, json_schema_extra={"enum": list(choices)})


class Error(BaseModel):
    """Every error answer: what was wrong and, where it helps, what to do."""

    error: str


class SubscriberOut(BaseModel):
    model_config = ConfigDict(title="Subscriber")

    id: int
    email: str
    name: str
    language: str = one_of(LANGUAGES)
    cadence: str = one_of(CADENCES)
    format: str = one_of(FORMATS)
    status: str = one_of(SUBSCRIBER_STATES)
    categories: list[str]
    created_at: datetime | None
    confirmed_at: datetime | None
    unsubscribed_at: datetime | None

    @classmethod
    def of(cls, subscriber: Subscriber) -> SubscriberOut:
        assert subscriber.id is not None  # a stored subscriber always has one
        return cls(
            id=subscriber.id,
            email=subscriber.email,
            name=subscriber.name,
            language=subscriber.language,
            cadence=subscriber.cadence,
            format=subscriber.format,
            status=subscriber.status,
            categories=subscriber.categories,
            created_at=subscriber.created_at,
            confirmed_at=subscriber.confirmed_at,
            unsubscribed_at=subscriber.unsubscribed_at,
        )


class ConsentEvent(BaseModel):
    kind: str
    at: datetime
    via: str
    consent_version: str
    ip: str
    user_agent: str
    detail: str


class SubscriberRecord(SubscriberOut):
    model_config = ConfigDict(title="SubscriberRecord")

    consent_events: list[ConsentEvent]


class NewSubscriber(BaseModel):
    """One subscriber to add. Unknown fields are refused so a typo is not lost silently;
    strict: "yes" is not a boolean, 1 is not a name."""

    model_config = ConfigDict(extra="forbid", strict=True)

    email: Annotated[str, Field(max_length=MAX_EMAIL, json_schema_extra={"format": "email"})]
    name: Annotated[str, Field(max_length=MAX_NAME)] = ""
    language: str = one_of(LANGUAGES, "tr")
    cadence: str = one_of(CADENCES, "daily")
    format: str = one_of(FORMATS, "html")
    categories: Annotated[
        list[Annotated[str, Field(max_length=MAX_SLUG, pattern=SLUG_PATTERN)]],
        Field(max_length=MAX_CATEGORIES),
    ] = []
    confirmed: bool = Field(
        False,
        description="true: consent was confirmed elsewhere; false (default): "
        "a confirmation mail is sent",
    )


class Added(BaseModel):
    id: int | None
    outcome: str = one_of(OUTCOMES)


class Removed(BaseModel):
    id: int
    removed: bool = Field(description="false when the subscriber was unsubscribed already")


class Unsuppressed(BaseModel):
    email: str
    unsuppressed: bool = True
    was: str = Field(description="why the address had been suppressed")


class Page(BaseModel):
    items: list[SubscriberOut]
    limit: int
    offset: int


class Stats(BaseModel):
    """Subscribers by status (models.SUBSCRIBER_STATES), and suppressed addresses."""

    # Extra keys fail loudly: a new state must be added here, not dropped silently.
    model_config = ConfigDict(extra="forbid")

    pending: int
    confirmed: int
    unsubscribed: int
    suppressed: int


class EditionOut(BaseModel):
    """An edition and, while paused or held, why (models.EDITION_STATES)."""

    id: int
    slug: str
    cadence: str
    period_key: str
    state: str = one_of(EDITION_STATES)
    pause_cause: str = Field(
        description="relay (the senders resume it), guard_rail or admin (a person resumes "
        "it: the console or `m5syndicate send --resume`); empty while not paused",
        json_schema_extra={"enum": ["", *PAUSE_CAUSES]},
    )
    pause_reason: str
    created_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, edition: Edition) -> EditionOut:
        return cls(
            id=edition.id or 0,
            slug=edition.slug,
            cadence=edition.cadence,
            period_key=edition.period_key,
            state=edition.state,
            pause_cause=edition.pause_cause,
            pause_reason=edition.pause_reason,
            created_at=edition.created_at,
            finished_at=edition.finished_at,
        )


class ArticleClicksOut(BaseModel):
    model_config = ConfigDict(title="ArticleClicks")

    article_id: int
    title: str
    url: str  # the article's own URL, as stored now
    clicks: int


class EditionClicks(BaseModel):
    """Clicks on an edition's article links: counts only, nobody's identity."""

    edition_id: int
    slug: str
    state: str
    total: int
    articles: list[ArticleClicksOut]  # most clicked first
