"""Pipeline and close reason RPCs: proto in, handler call, proto out."""

from google.protobuf.empty_pb2 import Empty
from grpc.aio import ServicerContext

from crm.sales.v1 import close_reason_pb2, pipeline_pb2
from crm.sales.v1 import sales_service_pb2 as pb
from crm_common.errors import InvalidArgument
from crm_common.fieldmask import resolve_update_mask
from crm_common.filtering import FilterField, FilterSchema
from crm_common.listing import list_request
from crm_common.messaging.uow import UnitOfWorkFactory
from crm_common.pagination import SortKey
from crm_sales.domain.close_reasons import ReasonKind
from crm_sales.handlers import pipelines as handlers
from crm_sales.opportunity_proto import (
    close_reason_details_from_proto,
    close_reason_id_from_name,
    close_reason_to_proto,
    pipeline_id_from_name,
    pipeline_to_proto,
    reason_kind_from_proto,
    stages_from_proto,
)

PIPELINE_FIELDS = ("display_name", "stages")
PIPELINE_FILTER_SCHEMA = FilterSchema(
    {
        "display_name": FilterField.string(),
        "create_time": FilterField.timestamp(),
        "update_time": FilterField.timestamp(),
    }
)
PIPELINE_SORTABLE = ("display_name", "create_time", "update_time")
BY_DISPLAY_NAME = (SortKey("display_name"),)

REASON_FIELDS = ("display_name", "archived")
REASON_FILTER_SCHEMA = FilterSchema(
    {
        "display_name": FilterField.string(),
        "kind": FilterField.enum({kind.name: int(kind) for kind in ReasonKind}),
        "archived": FilterField.boolean(),
        "create_time": FilterField.timestamp(),
        "update_time": FilterField.timestamp(),
    }
)
REASON_SORTABLE = ("display_name", "kind", "create_time", "update_time")
BY_KIND_AND_NAME = (SortKey("kind"), SortKey("display_name"))


class PipelinesApi:
    _units: UnitOfWorkFactory

    async def CreatePipeline(
        self, request: pb.CreatePipelineRequest, context: ServicerContext
    ) -> pipeline_pb2.Pipeline:
        if not request.HasField("pipeline"):
            raise InvalidArgument.single("pipeline", "is required")
        pipeline = await handlers.create_pipeline(
            self._units(),
            request.pipeline.display_name,
            stages_from_proto(request.pipeline),
            request.pipeline_id,
        )
        return pipeline_to_proto(pipeline)

    async def GetPipeline(
        self, request: pb.GetPipelineRequest, context: ServicerContext
    ) -> pipeline_pb2.Pipeline:
        pipeline_id = pipeline_id_from_name(request.name)
        return pipeline_to_proto(await handlers.get_pipeline(self._units(), pipeline_id))

    async def ListPipelines(
        self, request: pb.ListPipelinesRequest, context: ServicerContext
    ) -> pb.ListPipelinesResponse:
        query = list_request(request, PIPELINE_FILTER_SCHEMA, PIPELINE_SORTABLE, BY_DISPLAY_NAME)
        page = await handlers.list_pipelines(
            self._units(), query.expr, query.keys, query.after, query.size
        )
        return pb.ListPipelinesResponse(
            pipelines=[pipeline_to_proto(p) for p in page.items],
            next_page_token=query.next_page_token(page.next_key),
        )

    async def UpdatePipeline(
        self, request: pb.UpdatePipelineRequest, context: ServicerContext
    ) -> pipeline_pb2.Pipeline:
        if not request.HasField("pipeline"):
            raise InvalidArgument.single("pipeline", "is required")
        pipeline_id = pipeline_id_from_name(request.pipeline.name, "pipeline.name")
        fields = resolve_update_mask(request.update_mask, request.pipeline, PIPELINE_FIELDS)
        pipeline = await handlers.update_pipeline(
            self._units(),
            pipeline_id,
            request.pipeline.display_name if "display_name" in fields else None,
            stages_from_proto(request.pipeline) if "stages" in fields else None,
            request.pipeline.etag,
        )
        return pipeline_to_proto(pipeline)

    async def DeletePipeline(
        self, request: pb.DeletePipelineRequest, context: ServicerContext
    ) -> Empty:
        pipeline_id = pipeline_id_from_name(request.name)
        await handlers.delete_pipeline(self._units(), pipeline_id, request.etag)
        return Empty()


class CloseReasonsApi:
    _units: UnitOfWorkFactory

    async def CreateCloseReason(
        self, request: pb.CreateCloseReasonRequest, context: ServicerContext
    ) -> close_reason_pb2.CloseReason:
        if not request.HasField("close_reason"):
            raise InvalidArgument.single("close_reason", "is required")
        reason = await handlers.create_close_reason(
            self._units(),
            reason_kind_from_proto(request.close_reason.kind),
            close_reason_details_from_proto(request.close_reason),
            request.close_reason_id,
        )
        return close_reason_to_proto(reason)

    async def GetCloseReason(
        self, request: pb.GetCloseReasonRequest, context: ServicerContext
    ) -> close_reason_pb2.CloseReason:
        reason_id = close_reason_id_from_name(request.name)
        return close_reason_to_proto(await handlers.get_close_reason(self._units(), reason_id))

    async def ListCloseReasons(
        self, request: pb.ListCloseReasonsRequest, context: ServicerContext
    ) -> pb.ListCloseReasonsResponse:
        query = list_request(request, REASON_FILTER_SCHEMA, REASON_SORTABLE, BY_KIND_AND_NAME)
        page = await handlers.list_close_reasons(
            self._units(), query.expr, query.keys, query.after, query.size
        )
        return pb.ListCloseReasonsResponse(
            close_reasons=[close_reason_to_proto(r) for r in page.items],
            next_page_token=query.next_page_token(page.next_key),
        )

    async def UpdateCloseReason(
        self, request: pb.UpdateCloseReasonRequest, context: ServicerContext
    ) -> close_reason_pb2.CloseReason:
        if not request.HasField("close_reason"):
            raise InvalidArgument.single("close_reason", "is required")
        message = request.close_reason
        reason_id = close_reason_id_from_name(message.name, "close_reason.name")
        fields = resolve_update_mask(request.update_mask, message, REASON_FIELDS)
        details = close_reason_details_from_proto(message)
        changes = {name: getattr(details, name) for name in sorted(fields)}
        reason = await handlers.update_close_reason(self._units(), reason_id, changes, message.etag)
        return close_reason_to_proto(reason)
