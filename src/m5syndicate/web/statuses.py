"""Our error tree -> HTTP statuses, in one table for the pages and the admin API; anything
else is a 500 the server logs."""

from __future__ import annotations

from m5syndicate.errors import InputError, M5Error, NotFound

STATUS_BY_ERROR: tuple[tuple[type[M5Error], int], ...] = (
    (NotFound, 404),
    (InputError, 400),
    (M5Error, 503),
)


def http_status(exc: Exception) -> int:
    return next((code for kind, code in STATUS_BY_ERROR if isinstance(exc, kind)), 500)
