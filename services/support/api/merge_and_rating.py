"""Ticket RPCs that end a ticket's story: merging it away, and its CSAT rating."""

from grpc.aio import ServicerContext

from crm.support.v1 import support_service_pb2 as pb
from crm.support.v1 import ticket_pb2
from crm_common.auth.principal import caller
from crm_common.errors import InvalidArgument
from crm_common.messaging.uow import UnitOfWorkFactory
from crm_support.handlers.merging import merge_ticket
from crm_support.handlers.satisfaction import rate_ticket
from crm_support.ticket_proto import (
    satisfaction_score_from_proto,
    ticket_id_from_name,
    ticket_to_proto,
)


class MergeAndRatingApi:
    _units: UnitOfWorkFactory

    async def MergeTicket(
        self, request: pb.MergeTicketRequest, context: ServicerContext
    ) -> pb.MergeTicketResponse:
        source_id = ticket_id_from_name(request.name)
        target_id = ticket_id_from_name(request.target, "target")
        source, target = await merge_ticket(
            self._units(),
            caller(),
            source_id,
            target_id,
            request.etag,
            request.author,
            request.note,
        )
        return pb.MergeTicketResponse(
            source=ticket_to_proto(source), target=ticket_to_proto(target)
        )

    async def RateTicket(
        self, request: pb.RateTicketRequest, context: ServicerContext
    ) -> ticket_pb2.Ticket:
        ticket_id = ticket_id_from_name(request.name)
        if not request.HasField("satisfaction_rating"):
            raise InvalidArgument.single("satisfaction_rating", "is required")
        rating = request.satisfaction_rating
        score = satisfaction_score_from_proto(rating.score)
        rated = await rate_ticket(self._units(), caller(), ticket_id, score, rating.comment)
        return ticket_to_proto(rated)
