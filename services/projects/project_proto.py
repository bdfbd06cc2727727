"""Translation between the contract's Project and Milestone and the domain."""

from crm.projects.v1 import project_pb2
from crm_common.errors import InvalidArgument
from crm_common.etags import etag_for
from crm_common.resources import require_id
from crm_projects.domain.milestones import Milestone, MilestoneDraft
from crm_projects.domain.names import PROJECTS
from crm_projects.domain.projects import PROJECT_FIELDS, Project, ProjectDraft, ProjectStatus
from crm_projects.proto_values import (
    date_from_proto,
    date_to_proto,
    enum_from_proto,
    enum_to_proto,
    timestamp,
)

_STATUS = "PROJECT_STATUS_"


def project_id_from_name(name: str, field: str = "name") -> str:
    return require_id(name, PROJECTS, field, "like projects/123")


def milestone_ids_from_name(name: str, field: str = "name") -> tuple[str, str]:
    """(project id, milestone id) of `projects/{project}/milestones/{milestone}`."""
    return child_ids(name, "milestones", field)


def child_ids(name: str, collection: str, field: str) -> tuple[str, str]:
    """(project id, child id) of `projects/{project}/{collection}/{child}`."""
    parts = name.split("/")
    if (
        len(parts) != 4
        or parts[0] != "projects"
        or parts[2] != collection
        or not all(parts[1::2])
        or any(any(c.isspace() for c in part) for part in parts)
    ):
        raise InvalidArgument.single(field, f"{name!r} is not like projects/123/{collection}/456")
    return parts[1], parts[3]


def project_field(message: project_pb2.Project, field: str, *, creating: bool = False) -> object:
    """One writable field of `message` in its domain form."""
    match field:
        case "status":
            if not creating and message.status == project_pb2.PROJECT_STATUS_UNSPECIFIED:
                raise InvalidArgument.single("project.status", "is required when it is updated")
            return enum_from_proto(
                message.status,
                project_pb2.ProjectStatus,
                _STATUS,
                ProjectStatus,
                "project.status",
                ProjectStatus.NOT_STARTED,
            )
        case "start_date" | "due_date":
            return date_from_proto(getattr(message, field), f"project.{field}")
        case "people" | "tags":
            return tuple(getattr(message, field))
        case "custom_fields":
            return dict(message.custom_fields)
    return getattr(message, field)


def project_draft_from_proto(message: project_pb2.Project) -> ProjectDraft:
    return ProjectDraft(
        **{name: project_field(message, name, creating=True) for name in PROJECT_FIELDS}
    )


def project_to_proto(project: Project) -> project_pb2.Project:
    draft = project.draft
    return project_pb2.Project(
        name=project.name,
        display_name=draft.display_name,
        description=draft.description,
        status=enum_to_proto(draft.status, project_pb2.ProjectStatus, _STATUS),
        owner=draft.owner,
        start_date=date_to_proto(draft.start_date),
        due_date=date_to_proto(draft.due_date),
        organization=draft.organization,
        people=draft.people,
        opportunity=draft.opportunity,
        tags=draft.tags,
        custom_fields=draft.custom_fields,
        completion_percent=project.completion.percent,
        create_time=timestamp(project.create_time),
        update_time=timestamp(project.update_time),
        etag=etag_for(project.version),
    )


def milestone_field(message: project_pb2.Milestone, field: str) -> object:
    if field == "due_date":
        return date_from_proto(message.due_date, "milestone.due_date")
    return getattr(message, field)


def milestone_draft_from_proto(project_id: str, message: project_pb2.Milestone) -> MilestoneDraft:
    return MilestoneDraft(
        project=project_id,
        display_name=message.display_name,
        description=message.description,
        due_date=milestone_field(message, "due_date"),  # type: ignore[arg-type]
    )


def milestone_to_proto(milestone: Milestone) -> project_pb2.Milestone:
    draft = milestone.draft
    return project_pb2.Milestone(
        name=milestone.name,
        display_name=draft.display_name,
        description=draft.description,
        due_date=date_to_proto(draft.due_date),
        completion_percent=milestone.completion.percent,
        completed=milestone.completed,
        create_time=timestamp(milestone.create_time),
        update_time=timestamp(milestone.update_time),
        etag=etag_for(milestone.version),
    )
