"""What a database error means to a person: every DBAPI error raised through an engine of
`make_engine` becomes a StoreError that says what failed and what to do.

One engine event (`handle_error`, installed by `make_engine`) does it for every statement,
commit and connection attempt, so no store function can forget to. The original error
stays the cause (``raise ... from``): `--debug` shows it with the traceback.
"""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, ExceptionContext
from sqlalchemy.exc import DBAPIError, IntegrityError

from m5syndicate.config import redact_url
from m5syndicate.errors import (
    ConstraintViolation,
    DatabaseBusy,
    DatabaseUnreachable,
    SchemaBehind,
    StoreError,
)

CHECK_URL = "check [database] url / M5_DATABASE__URL"
# PostgreSQL SQLSTATEs: https://www.postgresql.org/docs/current/errcodes-appendix.html
UNDEFINED = {"42P01", "42703", "3F000"}  # table, column, schema
CONTENDED = {"55P03", "40P01", "40001"}  # lock not available, deadlock, serialization
SQLITE_SCHEMA_BEHIND = ("no such table", "no such column", "has no column named")
SQLITE_LOCKED = ("database is locked", "database table is locked")


def install(engine: Engine) -> None:
    event.listen(engine, "handle_error", translate)


def translate(context: ExceptionContext) -> None:
    """The `handle_error` listener: raise the StoreError that replaces this error."""
    if context.is_pre_ping:
        return  # the pool replaces a dead pooled connection on its own
    error = context.sqlalchemy_exception
    if not isinstance(error, DBAPIError) or context.engine is None:
        return
    connecting = context.connection is None  # failed while opening a connection
    raise store_error(error, context.engine.url, connecting, context.is_disconnect) from error


def store_error(error: DBAPIError, url: URL, connecting: bool, lost: bool) -> StoreError:
    """The StoreError for one DBAPI error; first match wins."""
    reason = first_line(error)
    postgres = url.get_backend_name() == "postgresql"
    where = f"{url.host or 'localhost'}:{url.port or 5432}" if postgres else sqlite_file(url)
    code, lowered = sqlstate(error), reason.lower()
    if connecting:
        return unreachable(reason, where, postgres, redact_url(url.render_as_string(False)))
    if lost:
        return dropped(reason, where)
    if code in CONTENDED or any(words in lowered for words in SQLITE_LOCKED):
        return busy(reason, where, postgres)
    if code in UNDEFINED or any(words in lowered for words in SQLITE_SCHEMA_BEHIND):
        return behind(reason, where)
    if isinstance(error, IntegrityError):
        return conflict(reason)
    return StoreError(
        f"database: a statement failed on {where} ({reason}); "
        "run with --debug to see it, and check the database server's log"
    )


def sqlite_file(url: URL) -> str:
    return f"the SQLite file {url.database or ':memory:'}"


def sqlstate(error: DBAPIError) -> str:
    return str(getattr(error.orig, "sqlstate", "") or "")


def first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# -- the messages -------------------------------------------------------------------------


def unreachable(reason: str, where: str, postgres: bool, url: str) -> StoreError:
    if postgres:
        return DatabaseUnreachable(
            f"database: cannot connect to {where} ({reason}); is PostgreSQL running? "
            f"{CHECK_URL} (now {url})"
        )
    return DatabaseUnreachable(
        f"database: cannot open {where} ({reason}); check that its folder exists and is "
        f"writable; {CHECK_URL}"
    )


def dropped(reason: str, where: str) -> StoreError:
    return DatabaseUnreachable(
        f"database: lost the connection to {where} ({reason}); is the server running? "
        "Committed work is kept: run the command again"
    )


def busy(reason: str, where: str, postgres: bool) -> StoreError:
    if postgres:
        return DatabaseBusy(
            f"database: {where}: {reason}; another writer held the same rows: run the command again"
        )
    return DatabaseBusy(
        f"database: {where} is locked ({reason}): another process held its write lock "
        "for over 30 s. Is another m5syndicate (run, send, import) writing? Run the command "
        "again when it has finished; for many concurrent writers use PostgreSQL"
    )


def behind(reason: str, where: str) -> StoreError:
    return SchemaBehind(
        f"database: {reason}; the schema of {where} is missing or older than this "
        "version: run `m5syndicate db upgrade`"
    )


def conflict(reason: str) -> StoreError:
    return ConstraintViolation(
        f"database: a write broke a constraint ({reason}); another process may have "
        "written the same row at the same time: run the command again, and report it "
        "if it repeats"
    )
