"""People RPCs: proto in, handler call, proto out."""

from google.protobuf.empty_pb2 import Empty
from grpc.aio import ServicerContext

from crm.contacts.v1 import contacts_service_pb2 as pb
from crm.contacts.v1 import person_pb2
from crm_common.errors import InvalidArgument
from crm_common.fieldmask import resolve_update_mask
from crm_common.messaging.uow import UnitOfWorkFactory
from crm_contacts.api.listing import list_request
from crm_contacts.domain.listing import PEOPLE_LISTING
from crm_contacts.domain.model import WRITABLE_FIELDS
from crm_contacts.handlers import people as handlers
from crm_contacts.proto import (
    details_field,
    details_from_proto,
    person_id_from_name,
    person_to_proto,
)
from crm_contacts.storage.repository import SORT_COLUMNS


class PeopleApi:
    _units: UnitOfWorkFactory

    async def CreatePerson(
        self, request: pb.CreatePersonRequest, context: ServicerContext
    ) -> person_pb2.Person:
        if not request.HasField("person"):
            raise InvalidArgument.single("person", "is required")
        person = await handlers.create_person(
            self._units(), details_from_proto(request.person), request.person_id
        )
        return person_to_proto(person)

    async def GetPerson(
        self, request: pb.GetPersonRequest, context: ServicerContext
    ) -> person_pb2.Person:
        person = await handlers.get_person(self._units(), person_id_from_name(request.name))
        return person_to_proto(person)

    async def ListPeople(
        self, request: pb.ListPeopleRequest, context: ServicerContext
    ) -> pb.ListPeopleResponse:
        query = list_request(request, PEOPLE_LISTING, SORT_COLUMNS)
        page = await handlers.list_people(
            self._units(), query.expr, query.keys, query.after, query.size
        )
        return pb.ListPeopleResponse(
            people=[person_to_proto(p) for p in page.items],
            next_page_token=query.next_page_token(page.next_key),
        )

    async def UpdatePerson(
        self, request: pb.UpdatePersonRequest, context: ServicerContext
    ) -> person_pb2.Person:
        if not request.HasField("person"):
            raise InvalidArgument.single("person", "is required")
        person_id = person_id_from_name(request.person.name, "person.name")
        fields = resolve_update_mask(request.update_mask, request.person, WRITABLE_FIELDS)
        changes = {name: details_field(request.person, name) for name in fields}
        person = await handlers.update_person(
            self._units(), person_id, changes, request.person.etag
        )
        return person_to_proto(person)

    async def DeletePerson(
        self, request: pb.DeletePersonRequest, context: ServicerContext
    ) -> Empty:
        await handlers.delete_person(self._units(), person_id_from_name(request.name), request.etag)
        return Empty()
