"""One exception tree for m5syndicate.

Third-party exceptions are translated into these at the boundary (``raise X from exc``);
the CLI maps them to exit codes in one place (``cli.main``) and the web app to HTTP
statuses in one place.

    M5Error                      anything m5syndicate reports to a person (exit 1)
    ├── ConfigError              a configuration file, key or value is wrong
    ├── StoreError               the database is unreachable or refused a statement
    │   ├── NotFound             a named row (subscriber, edition, source) does not exist
    │   ├── DatabaseUnreachable  cannot connect, or the connection dropped
    │   ├── DatabaseBusy         another writer holds the lock (SQLite) or the rows
    │   ├── SchemaBehind         a table or column is missing: run `db upgrade`
    │   └── ConstraintViolation  a write broke a unique or foreign key constraint
    ├── CollectError             a source could not be fetched or parsed
    │   ├── FetchError           the HTTP exchange failed (status, timeout, size cap...)
    │   └── ParseError           the payload was not what its source type promises
    ├── InputError               a person's input (CSV row, form field, address) is invalid
    ├── RenderError              a template is missing or failed to render
    ├── PublishError             feed files could not be written
    └── DeliveryError            mail could not be handed over (``step``: where, in SMTP)
        ├── TemporaryFailure     retry later on a fresh connection (4xx, 421, timeouts)
        ├── PermanentFailure     never retry this message (5xx)
        └── UnknownOutcome       the message was sent but its reply never came

Messages read "<what>: <why>; <what to do>" so a person can act on them.
"""

from __future__ import annotations


class M5Error(Exception):
    """Base of every error m5syndicate reports to a person."""

    exit_code = 1


class ConfigError(M5Error):
    """A configuration file, key or value is wrong."""


class StoreError(M5Error):
    """The database is unreachable or refused a statement."""


class NotFound(StoreError):
    """A named row does not exist."""


class DatabaseUnreachable(StoreError):
    """The database cannot be connected to, or the connection dropped."""


class DatabaseBusy(StoreError):
    """Another writer held the lock longer than we wait; retrying later helps."""


class SchemaBehind(StoreError):
    """The schema lacks a table or column this version uses."""


class ConstraintViolation(StoreError):
    """A write broke a unique or foreign key constraint (raced, or a bug)."""


class CollectError(M5Error):
    """A source could not be collected."""


class FetchError(CollectError):
    """The HTTP exchange with a source failed."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ParseError(CollectError):
    """A payload was not what its source type promises."""


class InputError(M5Error):
    """A person's input is invalid (exit 2 when it came from the command line)."""


class RenderError(M5Error):
    """A template is missing or failed to render."""


class PublishError(M5Error):
    """Feed files could not be written."""


# The SMTP steps a failure can happen at, in order; the failure policy reads them.
SMTP_STEPS = ("connect", "EHLO", "STARTTLS", "AUTH", "MAIL FROM", "RCPT", "DATA", "final dot")


class DeliveryError(M5Error):
    """Mail could not be handed over. ``step`` is the SMTP step that failed (one of
    SMTP_STEPS), or None when the transport does not know (the outbox, a bug)."""

    def __init__(self, message: str, *, code: int | None = None, step: str | None = None) -> None:
        super().__init__(message)
        self.code, self.step = code, step


class TemporaryFailure(DeliveryError):
    """Retry later, on a fresh connection."""


class PermanentFailure(DeliveryError):
    """Never retry this message."""


class UnknownOutcome(DeliveryError):
    """The whole message was sent, then the final reply timed out or the connection
    dropped: the relay may have queued it. ``[delivery] unknown_outcome`` decides."""
