"""Comment RPCs: a ticket's conversation."""

from grpc.aio import ServicerContext

from crm.support.v1 import comment_pb2
from crm.support.v1 import support_service_pb2 as pb
from crm_common.auth.principal import caller
from crm_common.errors import InvalidArgument
from crm_common.messaging.uow import UnitOfWorkFactory
from crm_common.pagination import decode_page_token, encode_page_token, page_size, query_digest
from crm_support.handlers import comments as handlers
from crm_support.ticket_proto import attachments_from_proto, comment_to_proto, ticket_id_from_name


class CommentsApi:
    _units: UnitOfWorkFactory

    async def CreateComment(
        self, request: pb.CreateCommentRequest, context: ServicerContext
    ) -> comment_pb2.Comment:
        ticket_id = ticket_id_from_name(request.parent, "parent")
        if not request.HasField("comment"):
            raise InvalidArgument.single("comment", "is required")
        comment = request.comment
        created = await handlers.create_comment(
            self._units(),
            caller(),
            ticket_id,
            comment.body,
            comment.public,
            comment.author,
            attachments_from_proto(comment),
        )
        return comment_to_proto(created)

    async def ListComments(
        self, request: pb.ListCommentsRequest, context: ServicerContext
    ) -> pb.ListCommentsResponse:
        ticket_id = ticket_id_from_name(request.parent, "parent")
        size = page_size(request.page_size)
        # Tokens are tied to the ticket whose conversation they page through.
        digest = query_digest(resource="comments", parent=ticket_id)
        after = decode_page_token(request.page_token, digest)
        page = await handlers.list_comments(self._units(), caller(), ticket_id, after, size)
        return pb.ListCommentsResponse(
            comments=[comment_to_proto(c) for c in page.items],
            next_page_token=""
            if page.next_key is None
            else encode_page_token(page.next_key, digest),
        )
