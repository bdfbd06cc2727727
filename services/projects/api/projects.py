"""The ProjectsService servicer: projects and milestones, proto in, use case, proto out."""

from google.protobuf.empty_pb2 import Empty
from grpc.aio import ServicerContext

from crm.projects.v1 import project_pb2
from crm.projects.v1 import projects_service_pb2 as pb
from crm.projects.v1 import projects_service_pb2_grpc as pb_grpc
from crm_common.errors import InvalidArgument
from crm_common.fieldmask import resolve_update_mask
from crm_common.listing import list_request
from crm_common.messaging.uow import UnitOfWorkFactory
from crm_common.pagination import SortKey
from crm_projects.domain.milestones import (
    MILESTONE_FIELDS,
    MILESTONE_FILTER_SCHEMA,
    MILESTONE_SORTABLE,
)
from crm_projects.domain.projects import PROJECT_FIELDS, PROJECT_FILTER_SCHEMA, PROJECT_SORTABLE
from crm_projects.handlers import milestones, projects
from crm_projects.handlers.units import in_transaction, read
from crm_projects.project_proto import (
    milestone_draft_from_proto,
    milestone_field,
    milestone_ids_from_name,
    milestone_to_proto,
    project_draft_from_proto,
    project_field,
    project_id_from_name,
    project_to_proto,
)

BY_DISPLAY_NAME = (SortKey("display_name"),)
BY_CREATE_TIME = (SortKey("create_time"),)


class ProjectsServicer(pb_grpc.ProjectsServiceServicer):
    def __init__(self, units: UnitOfWorkFactory) -> None:
        self._units = units

    async def CreateProject(
        self, request: pb.CreateProjectRequest, context: ServicerContext
    ) -> project_pb2.Project:
        if not request.HasField("project"):
            raise InvalidArgument.single("project", "is required")
        draft = project_draft_from_proto(request.project)
        project = await in_transaction(
            self._units, projects.create_project, draft, request.project_id
        )
        return project_to_proto(project)

    async def GetProject(
        self, request: pb.GetProjectRequest, context: ServicerContext
    ) -> project_pb2.Project:
        project_id = project_id_from_name(request.name)
        return project_to_proto(await read(self._units, projects.get_project, project_id))

    async def ListProjects(
        self, request: pb.ListProjectsRequest, context: ServicerContext
    ) -> pb.ListProjectsResponse:
        query = list_request(request, PROJECT_FILTER_SCHEMA, PROJECT_SORTABLE, BY_DISPLAY_NAME)
        page = await read(
            self._units, projects.list_projects, query.expr, query.keys, query.after, query.size
        )
        return pb.ListProjectsResponse(
            projects=[project_to_proto(project) for project in page.items],
            next_page_token=query.next_page_token(page.next_key),
        )

    async def UpdateProject(
        self, request: pb.UpdateProjectRequest, context: ServicerContext
    ) -> project_pb2.Project:
        if not request.HasField("project"):
            raise InvalidArgument.single("project", "is required")
        project_id = project_id_from_name(request.project.name, "project.name")
        fields = resolve_update_mask(request.update_mask, request.project, PROJECT_FIELDS)
        changes = {name: project_field(request.project, name) for name in sorted(fields)}
        project = await in_transaction(
            self._units, projects.update_project, project_id, changes, request.project.etag
        )
        return project_to_proto(project)

    async def DeleteProject(
        self, request: pb.DeleteProjectRequest, context: ServicerContext
    ) -> Empty:
        project_id = project_id_from_name(request.name)
        await in_transaction(self._units, projects.delete_project, project_id, request.etag)
        return Empty()

    async def CreateMilestone(
        self, request: pb.CreateMilestoneRequest, context: ServicerContext
    ) -> project_pb2.Milestone:
        project_id = project_id_from_name(request.parent, "parent")
        if not request.HasField("milestone"):
            raise InvalidArgument.single("milestone", "is required")
        draft = milestone_draft_from_proto(project_id, request.milestone)
        milestone = await in_transaction(
            self._units, milestones.create_milestone, draft, request.milestone_id
        )
        return milestone_to_proto(milestone)

    async def GetMilestone(
        self, request: pb.GetMilestoneRequest, context: ServicerContext
    ) -> project_pb2.Milestone:
        project_id, milestone_id = milestone_ids_from_name(request.name)
        milestone = await read(self._units, milestones.get_milestone, project_id, milestone_id)
        return milestone_to_proto(milestone)

    async def ListMilestones(
        self, request: pb.ListMilestonesRequest, context: ServicerContext
    ) -> pb.ListMilestonesResponse:
        project_id = project_id_from_name(request.parent, "parent")
        query = list_request(request, MILESTONE_FILTER_SCHEMA, MILESTONE_SORTABLE, BY_CREATE_TIME)
        page = await read(
            self._units,
            milestones.list_milestones,
            project_id,
            query.expr,
            query.keys,
            query.after,
            query.size,
        )
        return pb.ListMilestonesResponse(
            milestones=[milestone_to_proto(milestone) for milestone in page.items],
            next_page_token=query.next_page_token(page.next_key),
        )

    async def UpdateMilestone(
        self, request: pb.UpdateMilestoneRequest, context: ServicerContext
    ) -> project_pb2.Milestone:
        if not request.HasField("milestone"):
            raise InvalidArgument.single("milestone", "is required")
        project_id, milestone_id = milestone_ids_from_name(request.milestone.name, "milestone.name")
        fields = resolve_update_mask(request.update_mask, request.milestone, MILESTONE_FIELDS)
        changes = {name: milestone_field(request.milestone, name) for name in sorted(fields)}
        milestone = await in_transaction(
            self._units,
            milestones.update_milestone,
            project_id,
            milestone_id,
            changes,
            request.milestone.etag,
        )
        return milestone_to_proto(milestone)

    async def DeleteMilestone(
        self, request: pb.DeleteMilestoneRequest, context: ServicerContext
    ) -> Empty:
        project_id, milestone_id = milestone_ids_from_name(request.name)
        await in_transaction(
            self._units, milestones.delete_milestone, project_id, milestone_id, request.etag
        )
        return Empty()
