"""TemplateService RPCs: project templates; proto in, handler call, proto out."""

from google.protobuf.empty_pb2 import Empty
from grpc.aio import ServicerContext

from crm.projects.v1 import template_pb2
from crm.projects.v1 import template_service_pb2 as pb
from crm.projects.v1 import template_service_pb2_grpc as pb_grpc
from crm_common.errors import InvalidArgument
from crm_common.fieldmask import resolve_update_mask
from crm_common.messaging.uow import UnitOfWorkFactory
from crm_common.pagination import decode_page_token, encode_page_token, page_size, query_digest
from crm_projects.api.template_proto import (
    template_changes,
    template_id_from_name,
    template_spec_from_proto,
    template_to_proto,
)
from crm_projects.domain.templates import UPDATABLE_FIELDS
from crm_projects.handlers import templates as handlers
from crm_projects.storage.templates import TEMPLATE_ORDER

_DIGEST = query_digest(order_by=[(k.field, k.descending) for k in TEMPLATE_ORDER])


class TemplateServicer(pb_grpc.TemplateServiceServicer):
    def __init__(self, units: UnitOfWorkFactory) -> None:
        self._units = units

    async def CreateProjectTemplate(
        self, request: pb.CreateProjectTemplateRequest, context: ServicerContext
    ) -> template_pb2.ProjectTemplate:
        if not request.HasField("project_template"):
            raise InvalidArgument.single("project_template", "is required")
        spec = template_spec_from_proto(request.project_template)
        template = await handlers.create_template(self._units(), request.project_template_id, spec)
        return template_to_proto(template)

    async def GetProjectTemplate(
        self, request: pb.GetProjectTemplateRequest, context: ServicerContext
    ) -> template_pb2.ProjectTemplate:
        template_id = template_id_from_name(request.name)
        return template_to_proto(await handlers.get_template(self._units(), template_id))

    async def ListProjectTemplates(
        self, request: pb.ListProjectTemplatesRequest, context: ServicerContext
    ) -> pb.ListProjectTemplatesResponse:
        size = page_size(request.page_size)
        after = decode_page_token(request.page_token, _DIGEST)
        page = await handlers.list_templates(self._units(), after, size)
        return pb.ListProjectTemplatesResponse(
            project_templates=[template_to_proto(t) for t in page.items],
            next_page_token=""
            if page.next_key is None
            else encode_page_token(page.next_key, _DIGEST),
        )

    async def UpdateProjectTemplate(
        self, request: pb.UpdateProjectTemplateRequest, context: ServicerContext
    ) -> template_pb2.ProjectTemplate:
        if not request.HasField("project_template"):
            raise InvalidArgument.single("project_template", "is required")
        message = request.project_template
        template_id = template_id_from_name(message.name, "project_template.name")
        fields = resolve_update_mask(request.update_mask, message, UPDATABLE_FIELDS)
        template = await handlers.update_template(
            self._units(), template_id, template_changes(message, sorted(fields)), message.etag
        )
        return template_to_proto(template)

    async def DeleteProjectTemplate(
        self, request: pb.DeleteProjectTemplateRequest, context: ServicerContext
    ) -> Empty:
        template_id = template_id_from_name(request.name)
        await handlers.delete_template(self._units(), template_id, request.etag)
        return Empty()
