"""Logging: plain lines for a terminal, or one JSON object per line (`--log-json`) with
stable keys: time, level, logger, message, and any `extra={...}` fields."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

STANDARD_ATTRIBUTES = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
REDACTED = "********"
# Paths and query parameters that carry a credential: whoever reads the access log must
# not be able to unsubscribe, confirm or edit someone, or call the webhook.
TOKEN_IN_PATH = re.compile(r"(/(?:unsubscribe|confirm|preferences|resubscribe)/)[^/?#\s]+")
SECRET_IN_QUERY = re.compile(r"([?&](?:secret|token)=)[^&#\s]*", re.IGNORECASE)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(
            {key: value for key, value in vars(record).items() if key not in STANDARD_ATTRIBUTES}
        )
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(json_lines: bool, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    if json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Their INFO lines say nothing an operator acts on (schema checks, job bookkeeping).
    for chatty in ("alembic", "apscheduler"):
        logging.getLogger(chatty).setLevel(logging.WARNING)


def redact(path: str) -> str:
    """A request path with its tokens and secrets replaced."""
    return SECRET_IN_QUERY.sub(rf"\g<1>{REDACTED}", TOKEN_IN_PATH.sub(rf"\g<1>{REDACTED}", path))


class RedactAccessLog(logging.Filter):
    """Rewrites uvicorn's access lines (args: client, method, path, version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact(args[2]), *args[3:])
        return True


def redact_access_log() -> None:
    """Install the filter on uvicorn's access logger, once, whoever configures handlers."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactAccessLog) for f in access.filters):
        access.addFilter(RedactAccessLog())
