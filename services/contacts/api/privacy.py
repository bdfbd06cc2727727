"""ErasePerson and ExportPersonData: proto in, handler call, proto out."""

from grpc.aio import ServicerContext

from crm.contacts.v1 import contacts_service_pb2 as pb
from crm.contacts.v1 import person_pb2
from crm_common.messaging.uow import UnitOfWorkFactory
from crm_contacts.handlers import privacy as handlers
from crm_contacts.handlers.relationships import today
from crm_contacts.note_proto import note_to_proto, timeline_entry_to_proto
from crm_contacts.proto import person_id_from_name, person_to_proto
from crm_contacts.relationship_proto import relationship_to_proto


class PrivacyApi:
    _units: UnitOfWorkFactory

    async def ErasePerson(
        self, request: pb.ErasePersonRequest, context: ServicerContext
    ) -> person_pb2.Person:
        person = await handlers.erase_person(self._units(), person_id_from_name(request.name))
        return person_to_proto(person)

    async def ExportPersonData(
        self, request: pb.ExportPersonDataRequest, context: ServicerContext
    ) -> pb.PersonDataExport:
        data = await handlers.export_person_data(self._units(), person_id_from_name(request.name))
        on = today()
        return pb.PersonDataExport(
            person=person_to_proto(data.person),
            notes=[note_to_proto(note) for note in data.notes],
            relationships=[relationship_to_proto(link, on) for link in data.relationships],
            timeline_entries=[timeline_entry_to_proto(entry) for entry in data.timeline],
        )
