"""The SLA state a ticket carries: its targets and when they fall due.

The rules that compute this state (policies, business hours, pauses) live in
domain/sla.py; this module is only the shape the ticket stores and shows.
"""

from dataclasses import asdict, dataclass, fields
from datetime import datetime
from enum import IntEnum
from typing import Any


class SlaMetric(IntEnum):
    FIRST_RESPONSE = 1
    NEXT_RESPONSE = 2
    RESOLUTION = 3


@dataclass(frozen=True)
class SlaTarget:
    metric: SlaMetric
    # Business seconds allowed on the policy's calendar.
    target_seconds: int
    # Unset while the clock is paused.
    due_time: datetime | None = None
    fulfill_time: datetime | None = None
    breached: bool = False
    paused: bool = False
    # Business seconds left when the clock last started (see resume_time) or
    # stopped (paused, or met: what a reopened ticket's resolution resumes with).
    remaining_seconds: int = 0
    # Announcements already made, so each is made once.
    warning_sent: bool = False
    breach_sent: bool = False
    # While running: when the clock last started, with remaining_seconds left
    # at that moment (due_time follows from both and the calendar).
    resume_time: datetime | None = None
    # While running: when `ticket.sla_warning` falls due; unset without a
    # warning lead.
    warning_time: datetime | None = None

    @property
    def running(self) -> bool:
        return self.fulfill_time is None and not self.paused and self.due_time is not None

    @property
    def fulfilled(self) -> bool:
        return self.fulfill_time is not None


def nearest_due_time(targets: tuple[SlaTarget, ...]) -> datetime | None:
    """What the agent queue sorts by: the earliest due time still running."""
    due = [t.due_time for t in targets if t.running and t.due_time is not None]
    return min(due) if due else None


# The instants, stored as ISO 8601 text.
_INSTANTS = tuple(f.name for f in fields(SlaTarget) if f.type == datetime | None)


def targets_to_json(targets: tuple[SlaTarget, ...]) -> list[dict[str, Any]]:
    return [
        {
            **asdict(t),
            "metric": int(t.metric),
            **{name: _iso(getattr(t, name)) for name in _INSTANTS},
        }
        for t in targets
    ]


def targets_from_json(rows: list[dict[str, Any]]) -> tuple[SlaTarget, ...]:
    """Rows stored before a field existed take its default."""
    return tuple(
        SlaTarget(
            **{
                **row,
                "metric": SlaMetric(row["metric"]),
                **{name: _parse(row.get(name)) for name in _INSTANTS},
            }
        )
        for row in rows
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None
