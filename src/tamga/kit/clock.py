"""The platform's clock: timezone-aware UTC everywhere inside."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Give the current time, aware, in UTC."""
    return datetime.now(UTC)


def ensure_utc(value: datetime) -> datetime:
    """Give the same instant in UTC; a naive value is refused, never guessed."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("datetime must be timezone-aware")
    return value.astimezone(UTC)
