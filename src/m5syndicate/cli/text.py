"""Wording shared by the commands' output."""

from __future__ import annotations


def plural(count: int, singular: str, many: str | None = None) -> str:
    """The count with its noun in agreement: '1 row', '0 rows', '2 deliveries'.

    ``many`` is for nouns that do not just take an -s ('delivery', 'deliveries').
    """
    word = singular if count == 1 else (many or singular + "s")
    return f"{count} {word}"
