"""SearchContacts: proto in, handler call, proto out."""

from grpc.aio import ServicerContext

from crm.contacts.v1 import contacts_service_pb2 as pb
from crm.contacts.v1 import custom_field_pb2
from crm_common.errors import InvalidArgument
from crm_common.messaging.uow import UnitOfWorkFactory
from crm_common.pagination import decode_page_token, encode_page_token, page_size, query_digest
from crm_contacts.domain.custom_fields import ContactKind
from crm_contacts.domain.model import Person
from crm_contacts.domain.search import MAX_RESULTS, SearchQuery
from crm_contacts.handlers import search as handlers
from crm_contacts.organization_proto import organization_to_proto
from crm_contacts.proto import person_to_proto
from crm_contacts.storage.search import Record

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100

_KINDS = {
    custom_field_pb2.CONTACT_KIND_UNSPECIFIED: None,
    custom_field_pb2.CONTACT_KIND_PERSON: ContactKind.PERSON,
    custom_field_pb2.CONTACT_KIND_ORGANIZATION: ContactKind.ORGANIZATION,
}


class SearchApi:
    _units: UnitOfWorkFactory

    async def SearchContacts(
        self, request: pb.SearchContactsRequest, context: ServicerContext
    ) -> pb.SearchContactsResponse:
        query = SearchQuery.parse(request.query, _kind(request.kind))
        size = page_size(request.page_size, default=DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE)
        # A page token is an offset into one query's ranking, and only that query's.
        digest = query_digest(search=query.text, kind=query.kind)
        offset = _offset(request.page_token, digest)
        page = await handlers.search_contacts(self._units(), query, offset, size)
        response = pb.SearchContactsResponse(results=[_result(r) for r in page.records])
        if page.has_more:
            response.next_page_token = encode_page_token([offset + size], digest)
        return response


def _kind(number: int) -> ContactKind | None:
    if number not in _KINDS:
        raise InvalidArgument.single("kind", f"unknown contact kind {number}")
    return _KINDS[number]


def _offset(token: str, digest: str) -> int:
    match decode_page_token(token, digest):
        case None:
            return 0
        case [int() as offset] if 0 < offset < MAX_RESULTS:
            return offset
    raise InvalidArgument.single("page_token", "is not a token this API issued")


def _result(record: Record) -> pb.SearchResult:
    if isinstance(record, Person):
        return pb.SearchResult(person=person_to_proto(record))
    return pb.SearchResult(organization=organization_to_proto(record))
