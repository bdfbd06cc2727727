"""Relative values in saved ticket filters: `@now`, `@now-4d`, `@me`.

Views, triggers and automations are saved once and evaluated many times, so
their filters speak of "now" and "the agent looking" rather than of fixed
values. Each placeholder becomes a quoted literal before the AIP-160 parser
sees the text; placeholders inside quoted strings are left alone.
"""

import re
from collections.abc import Iterator
from datetime import datetime, timedelta

from crm_common.errors import InvalidArgument

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_PLACEHOLDER = re.compile(r"@(now)(?:([+-])(\d{1,6})([smhdw]))?|@(me)\b|@\w*")


def expand(text: str, now: datetime, me: str = "", field: str = "filter") -> str:
    """`text` with every placeholder replaced; INVALID_ARGUMENT for an unknown one,
    for `@me` when nobody is looking (`me` is an `agents/{id}` name), or for a
    time outside the years 1 to 9999."""
    return "".join(
        piece if isinstance(piece, str) else _value(piece, now, me, field)
        for piece in _pieces(text)
    )


def has_me(text: str) -> bool:
    """Whether the filter depends on who is looking."""
    return any(isinstance(piece, re.Match) and piece.group(5) for piece in _pieces(text))


def _pieces(text: str) -> Iterator[str | re.Match[str]]:
    """The text as it stands and each placeholder outside quoted strings."""
    quote = ""
    index = 0
    while index < len(text):
        char = text[index]
        if quote:
            yield char
            if char == "\\" and index + 1 < len(text):
                yield text[index + 1]
                index += 1
            elif char == quote:
                quote = ""
            index += 1
            continue
        if char in "\"'":
            quote = char
        if char == "@":
            match = _PLACEHOLDER.match(text, index)
            assert match is not None  # `@\w*` matches any "@"
            yield match
            index = match.end()
            continue
        yield char
        index += 1


def _value(match: re.Match[str], now: datetime, me: str, field: str) -> str:
    if match.group(1):
        moment = now
        if match.group(2):
            delta = timedelta(**{_UNITS[match.group(4)]: int(match.group(3))})
            try:
                moment = now + delta if match.group(2) == "+" else now - delta
            except OverflowError:
                raise InvalidArgument.single(
                    field, f"{match.group(0)} falls outside the years 1 to 9999"
                ) from None
        return f'"{moment.isoformat()}"'
    if match.group(5):
        if not me:
            raise InvalidArgument.single(field, "uses @me, but no agent was given")
        return f'"{me}"'
    raise InvalidArgument.single(
        field,
        f"unknown placeholder {match.group(0)!r}; use @now, @now-4d, @now+1h or @me",
    )
