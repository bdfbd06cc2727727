"""Task reminders: which of `task.due_soon` and `task.overdue` a task is owed.

Each is announced once per due time: what was announced is remembered with
the due time it was about, so a task whose due time moves is reminded again
for the new one. A task first seen already past due gets only the overdue
reminder, since "due soon" would come too late to help.
"""

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum

from crm_projects.domain.tasks import OPEN, TaskStatus

# How long before its due time a task counts as due soon.
DUE_SOON_WINDOW = timedelta(hours=24)


class Reminder(Enum):
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"


@dataclass(frozen=True)
class Announced:
    """The due times each reminder was last announced for (None: never)."""

    due_soon: datetime | None = None
    overdue: datetime | None = None

    def of(self, reminder: Reminder) -> datetime | None:
        return self.due_soon if reminder is Reminder.DUE_SOON else self.overdue

    def adding(self, reminder: Reminder, due_time: datetime) -> "Announced":
        """This, and `reminder` announced for `due_time`."""
        return replace(self, **{reminder.value: due_time})


def reminder_due(
    due_time: datetime, now: datetime, announced: Announced, window: timedelta = DUE_SOON_WINDOW
) -> Reminder | None:
    """The reminder an open task with this due time is owed now, if any."""
    if due_time <= now:
        reminder = Reminder.OVERDUE
    elif due_time <= now + window:
        reminder = Reminder.DUE_SOON
    else:
        return None
    return None if announced.of(reminder) == due_time else reminder


def next_reminder_time(
    due_time: datetime | None,
    status: TaskStatus,
    announced: Announced,
    window: timedelta = DUE_SOON_WINDOW,
) -> datetime | None:
    """When the task is next owed a reminder, so the scheduler need look at no
    task before then: due_soon's time until it is announced for this due time,
    then the due time itself; None once overdue is announced, for a task that is
    not open, and for one with no due time."""
    if due_time is None or status not in OPEN or announced.overdue == due_time:
        return None
    if announced.due_soon == due_time:
        return due_time
    return due_time - window
