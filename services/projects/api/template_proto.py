"""Translation between the contract's project templates and the domain."""

from collections.abc import Iterable
from enum import IntEnum
from typing import Any, TypeVar

from crm.projects.v1 import template_pb2
from crm_common.etags import etag_for
from crm_common.resources import require_id
from crm_projects.domain.tasks import Priority
from crm_projects.domain.templates import (
    TEMPLATES,
    DealRole,
    DefaultAssignee,
    ProjectTemplate,
    TemplateMilestone,
    TemplateSpec,
    TemplateTask,
)

E = TypeVar("E", bound=IntEnum)
D = TypeVar("D")


def template_id_from_name(name: str, field: str = "name") -> str:
    return require_id(name, TEMPLATES, field, "like projectTemplates/onboarding")


def template_changes(
    message: template_pb2.ProjectTemplate, fields: Iterable[str]
) -> dict[str, Any]:
    """The named writable fields of `message` in domain form; the domain checks them."""
    return {name: _field(message, name) for name in fields}


def template_spec_from_proto(message: template_pb2.ProjectTemplate) -> TemplateSpec:
    return TemplateSpec(**template_changes(message, TemplateSpec.__dataclass_fields__))


def _field(message: template_pb2.ProjectTemplate, field: str) -> object:
    match field:
        case "pipelines":
            return tuple(message.pipelines)
        case "milestones":
            return tuple(
                TemplateMilestone(m.key, m.display_name, m.due_offset_days)
                for m in message.milestones
            )
        case "tasks":
            return tuple(_task(task) for task in message.tasks)
    return getattr(message, field)


def _task(message: template_pb2.TemplateTask) -> TemplateTask:
    # Enum numbers this version does not know pass through as plain ints, for
    # the domain to report along with everything else wrong.
    return TemplateTask(
        key=message.key,
        title=message.title,
        description=message.description,
        milestone=message.milestone,
        due_offset_days=message.due_offset_days,
        assignee=_assignee(message.default_assignee),
        priority=_enum(Priority, message.priority, default=Priority.NORMAL),
        checklist=tuple(message.checklist),
        depends_on=tuple(message.depends_on),
    )


def _assignee(message: template_pb2.DefaultAssignee) -> DefaultAssignee:
    match message.WhichOneof("assignee"):
        case "user":
            return DefaultAssignee(user=message.user)
        case "role":
            return DefaultAssignee(role=_enum(DealRole, message.role, default=None))
    return DefaultAssignee()


def _enum(kind: type[E], value: int, default: D) -> E | D | int:
    if value == 0:
        return default
    return kind(value) if value in kind.__members__.values() else value


def template_to_proto(template: ProjectTemplate) -> template_pb2.ProjectTemplate:
    spec = template.spec
    message = template_pb2.ProjectTemplate(
        name=template.name,
        display_name=spec.display_name,
        description=spec.description,
        pipelines=spec.pipelines,
        fallback=spec.fallback,
        milestones=[
            template_pb2.TemplateMilestone(
                key=m.key, display_name=m.display_name, due_offset_days=m.due_offset_days
            )
            for m in spec.milestones
        ],
        tasks=[_task_to_proto(task) for task in spec.tasks],
        etag=etag_for(template.version),
    )
    message.create_time.FromDatetime(template.create_time)
    message.update_time.FromDatetime(template.update_time)
    return message


def _task_to_proto(task: TemplateTask) -> template_pb2.TemplateTask:
    message = template_pb2.TemplateTask(
        key=task.key,
        title=task.title,
        description=task.description,
        milestone=task.milestone,
        due_offset_days=task.due_offset_days,
        checklist=task.checklist,
        depends_on=task.depends_on,
        priority=int(task.priority),  # type: ignore[arg-type]
    )
    if task.assignee.role is not None:
        message.default_assignee.role = int(task.assignee.role)  # type: ignore[assignment]
    elif task.assignee.user:
        message.default_assignee.user = task.assignee.user
    return message
