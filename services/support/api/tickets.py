"""Ticket RPCs: proto in, handler call, proto out."""

from grpc.aio import ServicerContext

from crm.support.v1 import support_service_pb2 as pb
from crm.support.v1 import ticket_pb2
from crm_common.auth.principal import caller
from crm_common.errors import InvalidArgument
from crm_common.fieldmask import resolve_update_mask
from crm_common.listing import list_request
from crm_common.messaging.uow import UnitOfWorkFactory
from crm_support.domain.tickets import DEFAULT_ORDER, FILTER_SCHEMA, SORTABLE, WRITABLE_FIELDS
from crm_support.handlers import tickets as handlers
from crm_support.ticket_proto import (
    channel_from_proto,
    ticket_details_from_proto,
    ticket_field,
    ticket_id_from_name,
    ticket_to_proto,
)


class TicketsApi:
    _units: UnitOfWorkFactory

    async def CreateTicket(
        self, request: pb.CreateTicketRequest, context: ServicerContext
    ) -> ticket_pb2.Ticket:
        if not request.HasField("ticket"):
            raise InvalidArgument.single("ticket", "is required")
        ticket = await handlers.create_ticket(
            self._units(),
            caller(),
            ticket_details_from_proto(request.ticket),
            channel_from_proto(request.ticket.channel),
            request.ticket_id,
            request.requester_name,
        )
        return ticket_to_proto(ticket)

    async def GetTicket(
        self, request: pb.GetTicketRequest, context: ServicerContext
    ) -> ticket_pb2.Ticket:
        ticket_id = ticket_id_from_name(request.name)
        return ticket_to_proto(await handlers.get_ticket(self._units(), caller(), ticket_id))

    async def ListTickets(
        self, request: pb.ListTicketsRequest, context: ServicerContext
    ) -> pb.ListTicketsResponse:
        query = list_request(request, FILTER_SCHEMA, SORTABLE, DEFAULT_ORDER)
        page = await handlers.list_tickets(
            self._units(), caller(), query.expr, query.keys, query.after, query.size
        )
        return pb.ListTicketsResponse(
            tickets=[ticket_to_proto(t) for t in page.items],
            next_page_token=query.next_page_token(page.next_key),
        )

    async def UpdateTicket(
        self, request: pb.UpdateTicketRequest, context: ServicerContext
    ) -> ticket_pb2.Ticket:
        if not request.HasField("ticket"):
            raise InvalidArgument.single("ticket", "is required")
        ticket_id = ticket_id_from_name(request.ticket.name, "ticket.name")
        fields = resolve_update_mask(request.update_mask, request.ticket, WRITABLE_FIELDS)
        changes = {name: ticket_field(request.ticket, name) for name in sorted(fields)}
        ticket = await handlers.update_ticket(
            self._units(), caller(), ticket_id, changes, request.ticket.etag
        )
        return ticket_to_proto(ticket)
