"""Numbers from URLs and query strings, parsed so that no input can reach the database as an
error: ASCII digits only (``"²".isdigit()`` is true, yet ``int("²")`` fails) and within the range
of a 64-bit integer column (a larger id overflows SQLite and PostgreSQL alike)."""

from __future__ import annotations

from django.urls import register_converter

MAX_DIGITS = 18  # every 18-digit number is below 2**63


def parse_id(raw) -> int | None:
    """``raw`` as a database id, or None when it is not one (never an exception)."""
    text = str(raw or "")
    if 0 < len(text) <= MAX_DIGITS and text.isascii() and text.isdigit():
        return int(text)
    return None


class IdConverter:
    """URL converter ``<id:pk>``: like ``<int:pk>``, within a 64-bit column's range, so a longer
    number is a 404 like any other missing object."""

    regex = f"[0-9]{{1,{MAX_DIGITS}}}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value) -> str:
        return str(int(value))


register_converter(IdConverter, "id")
