"""Plain-text tables for the CLI's output."""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf.timestamp_pb2 import Timestamp


def format_table(rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns, the first row being the header."""
    widths = [max(len(row[col]) for row in rows) for col in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def shorten(text: str, width: int) -> str:
    """`text` on one line, cut to `width` characters with "..." if longer."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: max(width - 3, 0)] + "..."


def enum_label(enum: object, value: int, prefix: str, unset: str = "") -> str:
    """The short name of a protobuf enum value ("QUALIFIED" for LEAD_STATUS_QUALIFIED);
    `unset` for 0, the number for a value this client does not know."""
    if not value:
        return unset
    try:
        return str(enum.Name(value)).removeprefix(prefix)  # type: ignore[attr-defined]
    except ValueError:
        return str(value)


def timestamp_text(value: Timestamp, unset: str = "-") -> str:
    """A protobuf timestamp to the minute in UTC; `unset` when it is not set."""
    if not value.seconds and not value.nanos:
        return unset
    return value.ToDatetime().strftime("%Y-%m-%d %H:%M")
