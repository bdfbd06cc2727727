"""FindDuplicatePeople and MergePeople: proto in, handler call, proto out."""

from grpc.aio import ServicerContext

from crm.contacts.v1 import contacts_service_pb2 as pb
from crm.contacts.v1 import person_pb2
from crm_common.errors import InvalidArgument
from crm_common.messaging.uow import UnitOfWorkFactory
from crm_common.pagination import decode_page_token, encode_page_token, page_size, query_digest
from crm_contacts.domain.duplicates import (
    REASON_ORDER,
    DuplicateGroup,
    DuplicateReason,
    GroupPosition,
)
from crm_contacts.domain.merge import parse_merge_request
from crm_contacts.handlers import merge as handlers
from crm_contacts.proto import RESOURCE_PREFIX, person_to_proto

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
# Tokens of one listing only: it has no filter or order to tell apart.
_DIGEST = query_digest(listing="duplicate_people")

_REASONS = {
    DuplicateReason.SAME_EMAIL: pb.DUPLICATE_REASON_SAME_EMAIL,
    DuplicateReason.SAME_PHONE: pb.DUPLICATE_REASON_SAME_PHONE,
    DuplicateReason.SIMILAR_NAME_SAME_ORGANIZATION: (
        pb.DUPLICATE_REASON_SIMILAR_NAME_SAME_ORGANIZATION
    ),
}


class MergeApi:
    _units: UnitOfWorkFactory

    async def FindDuplicatePeople(
        self, request: pb.FindDuplicatePeopleRequest, context: ServicerContext
    ) -> pb.FindDuplicatePeopleResponse:
        size = page_size(request.page_size, default=DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE)
        after = _position(request.page_token)
        page = await handlers.find_duplicate_people(self._units(), after, size)
        response = pb.FindDuplicatePeopleResponse(groups=[_group(g) for g in page.groups])
        if page.next_after is not None:
            position = page.next_after
            response.next_page_token = encode_page_token(
                [position.reason_rank, position.evidence, position.first_person_id], _DIGEST
            )
        return response

    async def MergePeople(
        self, request: pb.MergePeopleRequest, context: ServicerContext
    ) -> person_pb2.Person:
        merge = parse_merge_request(request.person, list(request.merged_people))
        return person_to_proto(await handlers.merge_people(self._units(), merge, request.etag))


def _position(token: str) -> GroupPosition | None:
    match decode_page_token(token, _DIGEST):
        case None:
            return None
        case [int() as rank, str() as evidence, str() as person_id] if (
            0 <= rank < len(REASON_ORDER)
        ):
            return GroupPosition(rank, evidence, person_id)
    raise InvalidArgument.single("page_token", "is not a token this API issued")


def _group(group: DuplicateGroup) -> pb.DuplicateGroup:
    return pb.DuplicateGroup(
        people=[RESOURCE_PREFIX + person_id for person_id in group.people],
        reason=_REASONS[group.reason],
        evidence=group.evidence,
    )
