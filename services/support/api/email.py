"""ReceiveEmail: a raw message in, what it became out."""

from grpc.aio import ServicerContext

from crm.support.v1 import email_pb2
from crm_common.messaging.uow import UnitOfWorkFactory
from crm_support.handlers import email_intake as handlers
from crm_support.ticket_proto import comment_to_proto, ticket_to_proto


class EmailApi:
    _units: UnitOfWorkFactory

    async def ReceiveEmail(
        self, request: email_pb2.ReceiveEmailRequest, context: ServicerContext
    ) -> email_pb2.ReceiveEmailResponse:
        receipt = await handlers.receive_email(self._units(), request.raw_message, request.mailbox)
        return email_pb2.ReceiveEmailResponse(
            outcome=email_pb2.EmailOutcome.Value(f"EMAIL_OUTCOME_{receipt.outcome.name}"),
            ticket=ticket_to_proto(receipt.ticket),
            comment=comment_to_proto(receipt.comment) if receipt.comment else None,
            message_id=receipt.message_id,
        )
