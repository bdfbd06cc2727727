"""Rolling task progress up to milestones and projects."""

from collections.abc import Iterable
from dataclasses import dataclass

from crm_projects.domain.projects import Completion
from crm_projects.domain.tasks import TaskStatus


@dataclass(frozen=True)
class TaskProgress:
    """What a task contributes: its milestone, status and ticked checklist share."""

    milestone: str
    status: TaskStatus
    checklist_done: int
    checklist_total: int

    @property
    def fraction(self) -> float:
        if self.status is TaskStatus.DONE:
            return 1.0
        if self.checklist_total:
            return self.checklist_done / self.checklist_total
        return 0.0


def roll_up(tasks: Iterable[TaskProgress]) -> Completion:
    """Each task counts one, partly done by its ticked checklist share; cancelled
    tasks do not count at all (they will never be done, nor need to be)."""
    counted = [task for task in tasks if task.status is not TaskStatus.CANCELLED]
    return Completion(done=sum(task.fraction for task in counted), total=len(counted))


def by_milestone(tasks: Iterable[TaskProgress]) -> dict[str, Completion]:
    """The completion of each milestone that has tasks, by milestone id."""
    grouped: dict[str, list[TaskProgress]] = {}
    for task in tasks:
        if task.milestone:
            grouped.setdefault(task.milestone, []).append(task)
    return {milestone: roll_up(members) for milestone, members in grouped.items()}
