"""Which project tasks a helpdesk ticket names in its links."""

import re
from collections.abc import Iterable
from dataclasses import dataclass

_TASK = re.compile(r"projects/([^/\s]{1,63})/tasks/([^/\s]{1,63})")


@dataclass(frozen=True)
class TaskLink:
    project_id: str
    task_id: str


def task_links(links: Iterable[str]) -> list[TaskLink]:
    """The task links among a ticket's links, once each; other links (such as
    opportunities) are not the projects service's business."""
    found = (_TASK.fullmatch(link) for link in links)
    return list(dict.fromkeys(TaskLink(m[1], m[2]) for m in found if m))
