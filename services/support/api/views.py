"""ViewService: saved views, their tickets and counts, and the agent queue."""

from google.protobuf.empty_pb2 import Empty
from grpc.aio import ServicerContext

from crm.support.v1 import view_service_pb2 as pb
from crm.support.v1 import view_service_pb2_grpc as pb_grpc
from crm_common.auth.principal import caller
from crm_common.errors import InvalidArgument
from crm_common.etags import etag_for
from crm_common.fieldmask import resolve_update_mask
from crm_common.messaging.uow import UnitOfWorkFactory
from crm_common.pagination import decode_page_token, encode_page_token, page_size, query_digest
from crm_common.resources import require_id
from crm_support.domain.views import (
    UPDATABLE_FIELDS,
    VIEWS,
    View,
    ViewDetails,
    check_agent,
    check_batch,
)
from crm_support.handlers import views as handlers
from crm_support.ticket_proto import ticket_to_proto


class ViewServicer(pb_grpc.ViewServiceServicer):
    def __init__(self, units: UnitOfWorkFactory) -> None:
        self._units = units

    async def CreateView(self, request: pb.CreateViewRequest, context: ServicerContext) -> pb.View:
        if not request.HasField("view"):
            raise InvalidArgument.single("view", "is required")
        view = request.view
        position = view.position if view.HasField("position") else None
        created = await handlers.create_view(
            self._units(), _details(view), position, request.view_id
        )
        return _to_proto(created)

    async def GetView(self, request: pb.GetViewRequest, context: ServicerContext) -> pb.View:
        return _to_proto(await handlers.get_view(self._units(), _view_id(request.name)))

    async def ListViews(
        self, request: pb.ListViewsRequest, context: ServicerContext
    ) -> pb.ListViewsResponse:
        check_agent(request.agent)
        size = page_size(request.page_size)
        digest = query_digest(resource="views", agent=request.agent)
        after = decode_page_token(request.page_token, digest)
        page = await handlers.list_views(self._units(), request.agent, after, size)
        return pb.ListViewsResponse(
            views=[_to_proto(v) for v in page.items],
            next_page_token=""
            if page.next_key is None
            else encode_page_token(page.next_key, digest),
        )

    async def UpdateView(self, request: pb.UpdateViewRequest, context: ServicerContext) -> pb.View:
        if not request.HasField("view"):
            raise InvalidArgument.single("view", "is required")
        view_id = _view_id(request.view.name, "view.name")
        fields = resolve_update_mask(request.update_mask, request.view, UPDATABLE_FIELDS)
        details = _details(request.view)
        changes = {name: getattr(details, name) for name in sorted(fields)}
        updated = await handlers.update_view(self._units(), view_id, changes, request.view.etag)
        return _to_proto(updated)

    async def DeleteView(self, request: pb.DeleteViewRequest, context: ServicerContext) -> Empty:
        await handlers.delete_view(self._units(), _view_id(request.name), request.etag)
        return Empty()

    async def ListViewTickets(
        self, request: pb.ListViewTicketsRequest, context: ServicerContext
    ) -> pb.ListViewTicketsResponse:
        view_id = _view_id(request.view, "view")
        check_agent(request.agent)
        size = page_size(request.page_size)
        tickets, next_token = await handlers.list_view_tickets(
            self._units(), caller(), view_id, request.agent, request.page_token, size
        )
        return pb.ListViewTicketsResponse(
            tickets=[ticket_to_proto(t) for t in tickets], next_page_token=next_token
        )

    async def BatchCountViewTickets(
        self, request: pb.BatchCountViewTicketsRequest, context: ServicerContext
    ) -> pb.BatchCountViewTicketsResponse:
        view_ids = check_batch(request.names)
        check_agent(request.agent)
        counts = await handlers.count_view_tickets(self._units(), caller(), view_ids, request.agent)
        return pb.BatchCountViewTicketsResponse(
            counts=[
                pb.ViewTicketCount(view=c.view, ticket_count=c.count, capped=c.capped)
                for c in counts
            ]
        )

    async def ListQueueTickets(
        self, request: pb.ListQueueTicketsRequest, context: ServicerContext
    ) -> pb.ListQueueTicketsResponse:
        check_agent(request.agent, required=True)
        size = page_size(request.page_size)
        # A token continues one agent's queue; used for another, it is refused.
        digest = query_digest(queue=request.agent)
        after = decode_page_token(request.page_token, digest)
        page = await handlers.list_queue_tickets(
            self._units(), caller(), request.agent, after, size
        )
        return pb.ListQueueTicketsResponse(
            tickets=[ticket_to_proto(t) for t in page.items],
            next_page_token=""
            if page.next_key is None
            else encode_page_token(page.next_key, digest),
        )


def _view_id(name: str, field: str = "name") -> str:
    return require_id(name, VIEWS, field, "like views/my-open")


def _details(view: pb.View) -> ViewDetails:
    return ViewDetails(
        display_name=view.display_name,
        filter=view.filter,
        order_by=view.order_by,
        owner=view.owner,
        position=view.position,
    )


def _to_proto(view: View) -> pb.View:
    details = view.details
    message = pb.View(
        name=view.name,
        display_name=details.display_name,
        filter=details.filter,
        order_by=details.order_by,
        owner=details.owner,
        position=details.position,
        etag=etag_for(view.version),
    )
    message.create_time.FromDatetime(view.create_time)
    message.update_time.FromDatetime(view.update_time)
    return message
