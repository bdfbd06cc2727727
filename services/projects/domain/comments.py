"""Comments people leave on a task."""

from dataclasses import dataclass
from datetime import datetime

from crm_common.errors import Violations
from crm_common.validation import check_length
from crm_projects.domain.names import USERS, check_name
from crm_projects.domain.tasks import task_name

BODY_MAX = 50_000


@dataclass(frozen=True)
class TaskComment:
    id: str
    project: str
    task: str
    # `users/{id}`; empty when the system wrote it.
    author: str
    body: str
    create_time: datetime

    @property
    def name(self) -> str:
        return f"{task_name(self.project, self.task)}/comments/{self.id}"


def check_comment(author: str, body: str) -> str:
    """The body trimmed; INVALID_ARGUMENT when empty, too long or the author is malformed."""
    violations = Violations()
    clean = body.strip()
    if not clean:
        violations.add("comment.body", "is required")
    check_length(violations, "comment.body", clean, BODY_MAX)
    check_name(violations, "comment.author", author, USERS)
    violations.raise_if_any()
    return clean
