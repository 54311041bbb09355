"""Times and figures as people read them: "3 min ago" (exact time on hover), "1 min 05 s", "1,234".

Registered as Jinja filters by `syncd.ui.pages`; the page's clock is passed in, so a test clock
gives stable text.
"""

from __future__ import annotations

from datetime import UTC, datetime

#: What an unknown time or figure reads as (an en dash).
DASH = "\u2013"

_UNITS = ((86400 * 365, "y"), (86400 * 30, "mo"), (86400, "d"), (3600, "h"), (60, "min"))


def parse(value: str | datetime | None) -> datetime | None:
    """An ISO 8601 string (as the read model gives it) or a datetime, in UTC; None stays None."""
    if value is None or value == "":
        return None
    at = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def absolute(value: str | datetime | None) -> str:
    """`2025-03-14 12:00:05 UTC`, or `DASH` when there is no time."""
    at = parse(value)
    return DASH if at is None else at.strftime("%Y-%m-%d %H:%M:%S UTC")


def ago(value: str | datetime | None, now: datetime) -> str:
    """How long before `now`: "just now", "42 s ago", "3 min ago", "5 h ago", "2 d ago".

    A time after `now` (a clock ahead of the server's) reads "in 3 min".
    """
    at = parse(value)
    if at is None:
        return DASH
    seconds = (now.astimezone(UTC) - at).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 5:
        return "just now"
    text = f"{int(seconds)} s"
    for size, unit in _UNITS:
        if seconds >= size:
            text = f"{int(seconds // size)} {unit}"
            break
    return f"in {text}" if future else f"{text} ago"


def duration(seconds: float | None) -> str:
    """A run's length rounded for reading: "0.4 s", "42 s", "3 min 05 s", "2 h 04 min"."""
    if seconds is None:
        return DASH
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def number(value: float | int | None) -> str:
    """Thousands separated and rounded: 1234567.8 -> "1,234,568"; `DASH` for None."""
    if value is None:
        return DASH
    return f"{round(value):,}"


def percent(share: float | None, digits: int = 0) -> str:
    """A share (0..1) as a percentage: 0.4567 -> "46%"; `DASH` for None."""
    if share is None:
        return DASH
    return f"{share * 100:.{digits}f}%"


def readable(value: object) -> str:
    """A profile value for reading: times as `absolute`, fractions rounded, `DASH` for none.

    Whole numbers get thousands separators; other numbers keep at most three decimals
    (0.123456 -> "0.123"); an ISO 8601 time becomes "2025-03-14 12:00:05 UTC".
    """
    if value is None or value == "":
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() else f"{value:,.3f}".rstrip("0")
    if isinstance(value, datetime):
        return absolute(value)
    text = str(value)
    if len(text) >= 19 and text[4:5] == "-" and text[10:11] == "T":
        try:
            return absolute(text)
        except ValueError:
            return text
    return text
