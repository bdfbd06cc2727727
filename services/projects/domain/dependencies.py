"""The dependency graph of a project's tasks: refusing cycles."""

from collections.abc import Mapping, Sequence

from crm_common.errors import FailedPrecondition
from crm_projects.domain.tasks import task_name


def find_cycle(
    graph: Mapping[str, Sequence[str]], task_id: str, depends_on: Sequence[str]
) -> list[str] | None:
    """The cycle that giving `task_id` these dependencies would close, as the
    path of ids from the task back to itself, or None.

    `graph` maps each task id to the ids it depends on now (the task's own
    entry is ignored: `depends_on` replaces it). Depth-first from the new
    dependencies; a path that comes back to the task is the cycle.
    """
    path = [task_id]
    seen: set[str] = set()

    def reaches_task(current: str) -> bool:
        if current == task_id:
            return True
        if current in seen:
            return False
        seen.add(current)
        path.append(current)
        if any(reaches_task(next_id) for next_id in graph.get(current, ())):
            return True
        path.pop()
        return False

    for first in depends_on:
        if reaches_task(first):
            return [*path, task_id]
    return None


def check_no_cycle(
    project_id: str, graph: Mapping[str, Sequence[str]], task_id: str, depends_on: Sequence[str]
) -> None:
    """FAILED_PRECONDITION naming the tasks of the cycle, if the new dependencies close one."""
    cycle = find_cycle(graph, task_id, depends_on)
    if cycle:
        names = " -> ".join(task_name(project_id, member) for member in cycle)
        raise FailedPrecondition(f"task.depends_on would make a dependency cycle: {names}")
