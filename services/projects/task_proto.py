"""Translation between the contract's Task and TaskComment and the domain."""

from crm.projects.v1 import task_pb2
from crm_common.errors import InvalidArgument, Violations
from crm_common.etags import etag_for
from crm_projects.domain.comments import TaskComment
from crm_projects.domain.milestones import milestone_name
from crm_projects.domain.names import TICKETS
from crm_projects.domain.tasks import (
    TASK_FIELDS,
    ChecklistItem,
    Priority,
    Task,
    TaskDraft,
    TaskStatus,
    task_name,
)
from crm_projects.project_proto import child_ids
from crm_projects.proto_values import (
    enum_from_proto,
    enum_to_proto,
    optional_timestamp,
    time_from_proto,
    timestamp,
)

_STATUS = "TASK_STATUS_"
_PRIORITY = "TASK_PRIORITY_"


def task_ids_from_name(name: str, field: str = "name") -> tuple[str, str]:
    """(project id, task id) of `projects/{project}/tasks/{task}`."""
    return child_ids(name, "tasks", field)


def task_field(
    message: task_pb2.Task, field: str, project_id: str, *, creating: bool = False
) -> object:
    """One writable field of `message` in its domain form; references to the
    project's milestones and tasks become their ids."""
    match field:
        case "status":
            return _enum(
                message.status,
                task_pb2.TaskStatus,
                _STATUS,
                TaskStatus,
                "status",
                TaskStatus.TODO,
                creating,
            )
        case "priority":
            return _enum(
                message.priority,
                task_pb2.TaskPriority,
                _PRIORITY,
                Priority,
                "priority",
                Priority.NORMAL,
                creating,
            )
        case "due_time":
            return (
                time_from_proto(message.due_time, "task.due_time")
                if message.HasField("due_time")
                else None
            )
        case "checklist":
            return tuple(ChecklistItem(item.text, item.done) for item in message.checklist)
        case "milestone":
            return _same_project_id(message.milestone, "milestones", project_id, "task.milestone")
        case "depends_on":
            return tuple(
                _same_project_id(name, "tasks", project_id, f"task.depends_on[{index}]")
                for index, name in enumerate(message.depends_on)
            )
    return getattr(message, field)


def _enum(
    value: int,
    proto_enum: object,
    prefix: str,
    domain: type[TaskStatus] | type[Priority],
    field: str,
    default: TaskStatus | Priority,
    creating: bool,
) -> object:
    if not creating and value == 0:
        raise InvalidArgument.single(f"task.{field}", "is required when it is updated")
    return enum_from_proto(value, proto_enum, prefix, domain, f"task.{field}", default)  # type: ignore[arg-type]


def _same_project_id(name: str, collection: str, project_id: str, path: str) -> str:
    if not name:
        return ""
    owner, child = child_ids(name, collection, path)
    if owner != project_id:
        raise InvalidArgument.single(path, f"{name!r} is not in projects/{project_id}")
    return child


def task_draft_from_proto(project_id: str, message: task_pb2.Task) -> TaskDraft:
    violations = Violations()
    fields: dict[str, object] = {}
    for name in TASK_FIELDS:
        try:
            fields[name] = task_field(message, name, project_id, creating=True)
        except InvalidArgument as error:
            violations.extend(error.violations)
    violations.raise_if_any()
    return TaskDraft(project=project_id, **fields)  # type: ignore[arg-type]


def task_to_proto(task: Task) -> task_pb2.Task:
    draft = task.draft
    return task_pb2.Task(
        name=task.name,
        title=draft.title,
        description=draft.description,
        milestone=milestone_name(draft.project, draft.milestone) if draft.milestone else "",
        assignee=draft.assignee,
        due_time=optional_timestamp(draft.due_time),
        priority=enum_to_proto(draft.priority, task_pb2.TaskPriority, _PRIORITY),
        status=enum_to_proto(draft.status, task_pb2.TaskStatus, _STATUS),
        checklist=[task_pb2.ChecklistItem(text=i.text, done=i.done) for i in draft.checklist],
        depends_on=[task_name(draft.project, task_id) for task_id in draft.depends_on],
        contact=draft.contact,
        opportunity=draft.opportunity,
        ticket=draft.ticket,
        linked_tickets=[TICKETS + ticket_id for ticket_id in task.linked_tickets],
        completion_percent=task.completion_percent,
        create_time=timestamp(task.create_time),
        update_time=timestamp(task.update_time),
        etag=etag_for(task.version),
    )


def comment_to_proto(comment: TaskComment) -> task_pb2.TaskComment:
    return task_pb2.TaskComment(
        name=comment.name,
        author=comment.author,
        body=comment.body,
        create_time=timestamp(comment.create_time),
    )
