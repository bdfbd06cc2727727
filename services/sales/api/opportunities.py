"""Opportunity RPCs: proto in, handler call, proto out."""

from google.protobuf.empty_pb2 import Empty
from grpc.aio import ServicerContext

from crm.sales.v1 import opportunity_pb2
from crm.sales.v1 import sales_service_pb2 as pb
from crm_common.auth.principal import caller
from crm_common.errors import InvalidArgument
from crm_common.fieldmask import resolve_update_mask
from crm_common.listing import list_request
from crm_common.messaging.uow import UnitOfWorkFactory
from crm_common.pagination import SortKey
from crm_sales.domain.opportunities import FILTER_SCHEMA, OpportunityDraft, State
from crm_sales.handlers import opportunities as handlers
from crm_sales.opportunity_proto import (
    WRITABLE_FIELDS,
    close_reason_id_from_name,
    details_from_proto,
    opportunity_id_from_name,
    opportunity_to_proto,
    pipeline_id_from_name,
    stage_from_name,
)

SORTABLE = ("display_name", "owner", "state", "value", "create_time", "update_time")
NEWEST_FIRST = (SortKey("create_time", descending=True),)


class OpportunitiesApi:
    _units: UnitOfWorkFactory

    async def CreateOpportunity(
        self, request: pb.CreateOpportunityRequest, context: ServicerContext
    ) -> opportunity_pb2.Opportunity:
        if not request.HasField("opportunity"):
            raise InvalidArgument.single("opportunity", "is required")
        message = request.opportunity
        pipeline_id = pipeline_id_from_name(message.pipeline, "opportunity.pipeline")
        stage_id = ""
        if message.stage:
            stage_pipeline, stage_id = stage_from_name(message.stage, "opportunity.stage")
            if stage_pipeline != pipeline_id:
                raise InvalidArgument.single(
                    "opportunity.stage", f"is not a stage of {message.pipeline}"
                )
        details, _ = details_from_proto(message)
        draft = OpportunityDraft(details, message.pipeline, stage_id)
        deal = await handlers.create_opportunity(
            self._units(), caller(), draft, request.opportunity_id
        )
        return opportunity_to_proto(deal)

    async def GetOpportunity(
        self, request: pb.GetOpportunityRequest, context: ServicerContext
    ) -> opportunity_pb2.Opportunity:
        opportunity_id = opportunity_id_from_name(request.name)
        return opportunity_to_proto(await handlers.get_opportunity(self._units(), opportunity_id))

    async def ListOpportunities(
        self, request: pb.ListOpportunitiesRequest, context: ServicerContext
    ) -> pb.ListOpportunitiesResponse:
        query = list_request(request, FILTER_SCHEMA, SORTABLE, NEWEST_FIRST)
        page = await handlers.list_opportunities(
            self._units(), query.expr, query.keys, query.after, query.size
        )
        return pb.ListOpportunitiesResponse(
            opportunities=[opportunity_to_proto(deal) for deal in page.items],
            next_page_token=query.next_page_token(page.next_key),
        )

    async def UpdateOpportunity(
        self, request: pb.UpdateOpportunityRequest, context: ServicerContext
    ) -> opportunity_pb2.Opportunity:
        if not request.HasField("opportunity"):
            raise InvalidArgument.single("opportunity", "is required")
        message = request.opportunity
        opportunity_id = opportunity_id_from_name(message.name, "opportunity.name")
        fields = resolve_update_mask(request.update_mask, message, WRITABLE_FIELDS)
        _, changes = details_from_proto(message, set(fields))
        deal = await handlers.update_opportunity(
            self._units(), caller(), opportunity_id, changes, message.etag
        )
        return opportunity_to_proto(deal)

    async def DeleteOpportunity(
        self, request: pb.DeleteOpportunityRequest, context: ServicerContext
    ) -> Empty:
        opportunity_id = opportunity_id_from_name(request.name)
        await handlers.delete_opportunity(self._units(), caller(), opportunity_id, request.etag)
        return Empty()

    async def MoveOpportunity(
        self, request: pb.MoveOpportunityRequest, context: ServicerContext
    ) -> opportunity_pb2.Opportunity:
        opportunity_id = opportunity_id_from_name(request.name)
        pipeline_id, stage_id = stage_from_name(request.stage, "stage")
        deal = await handlers.move_opportunity(
            self._units(), caller(), opportunity_id, pipeline_id, stage_id, request.etag
        )
        return opportunity_to_proto(deal)

    async def WinOpportunity(
        self, request: pb.WinOpportunityRequest, context: ServicerContext
    ) -> opportunity_pb2.Opportunity:
        return await self._close(request, State.WON)

    async def LoseOpportunity(
        self, request: pb.LoseOpportunityRequest, context: ServicerContext
    ) -> opportunity_pb2.Opportunity:
        return await self._close(request, State.LOST)

    async def ReopenOpportunity(
        self, request: pb.ReopenOpportunityRequest, context: ServicerContext
    ) -> opportunity_pb2.Opportunity:
        opportunity_id = opportunity_id_from_name(request.name)
        deal = await handlers.reopen_opportunity(
            self._units(), caller(), opportunity_id, request.etag
        )
        return opportunity_to_proto(deal)

    async def _close(
        self, request: pb.WinOpportunityRequest | pb.LoseOpportunityRequest, state: State
    ) -> opportunity_pb2.Opportunity:
        opportunity_id = opportunity_id_from_name(request.name)
        if not request.close_reason:
            raise InvalidArgument.single("close_reason", "is required")
        reason_id = close_reason_id_from_name(request.close_reason, "close_reason")
        deal = await handlers.close_opportunity(
            self._units(), caller(), opportunity_id, state, reason_id, request.etag
        )
        return opportunity_to_proto(deal)
