"""Plain-text tables for the CLI's output."""

from __future__ import annotations

from collections.abc import Sequence


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
