"""ImportContacts and ExportContacts: proto in, handler call, proto out."""

from collections.abc import AsyncIterator

from grpc.aio import ServicerContext

from crm.contacts.v1 import contacts_service_pb2 as pb
from crm_common.errors import InvalidArgument
from crm_common.filtering import parse_filter
from crm_common.messaging.uow import UnitOfWorkFactory
from crm_contacts.custom_field_proto import kind_from_proto
from crm_contacts.domain.custom_fields import ContactKind
from crm_contacts.domain.listing import ORGANIZATIONS_LISTING, PEOPLE_LISTING
from crm_contacts.domain.model import Person
from crm_contacts.domain.transfer import Record
from crm_contacts.handlers import transfer as handlers
from crm_contacts.organization_proto import organization_to_proto
from crm_contacts.proto import person_to_proto

_LISTINGS = {ContactKind.PERSON: PEOPLE_LISTING, ContactKind.ORGANIZATION: ORGANIZATIONS_LISTING}


class TransferApi:
    _units: UnitOfWorkFactory

    async def ImportContacts(
        self, request_iterator: AsyncIterator[pb.ImportContactsRequest], context: ServicerContext
    ) -> pb.ImportContactsResponse:
        messages = aiter(request_iterator)
        spec = _import_spec(await anext(messages, None))
        result = await handlers.import_contacts(self._units, spec, _csv_chunks(messages))
        return pb.ImportContactsResponse(
            created_count=result.created,
            updated_count=result.updated,
            unchanged_count=result.unchanged,
            failed_count=result.failed,
            errors=[
                pb.ImportRowError(row=e.row, column=e.column, description=e.description)
                for e in result.errors
            ],
        )

    async def ExportContacts(
        self, request: pb.ExportContactsRequest, context: ServicerContext
    ) -> AsyncIterator[pb.ExportContactsResponse]:
        kind = _kind(request.kind, "kind")
        # Custom fields in the filter are typed by the handler, as for List.
        expr = parse_filter(request.filter, _LISTINGS[kind].filter_schema)
        async for record in handlers.export_contacts(self._units, kind, expr):
            yield _exported(record)


def _import_spec(first: pb.ImportContactsRequest | None) -> handlers.ImportSpec:
    if first is None or first.WhichOneof("payload") != "header":
        raise InvalidArgument.single("header", "the first message must carry the header")
    header = first.header
    return handlers.ImportSpec(_kind(header.kind, "header.kind"), dict(header.column_mappings))


async def _csv_chunks(messages: AsyncIterator[pb.ImportContactsRequest]) -> AsyncIterator[bytes]:
    async for message in messages:
        if message.WhichOneof("payload") != "csv_data":
            raise InvalidArgument.single(
                "csv_data", "every message after the first must carry csv_data"
            )
        yield message.csv_data


def _kind(number: int, field: str) -> ContactKind:
    kind = kind_from_proto(number)
    if kind is None:
        raise InvalidArgument.single(
            field, "is required: CONTACT_KIND_PERSON or CONTACT_KIND_ORGANIZATION"
        )
    return kind


def _exported(record: Record) -> pb.ExportContactsResponse:
    if isinstance(record, Person):
        return pb.ExportContactsResponse(person=person_to_proto(record))
    return pb.ExportContactsResponse(organization=organization_to_proto(record))
