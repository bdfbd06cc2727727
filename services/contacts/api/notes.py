"""Note RPCs: proto in, handler call, proto out."""

from google.protobuf.empty_pb2 import Empty
from grpc.aio import ServicerContext

from crm.contacts.v1 import contacts_service_pb2 as pb
from crm.contacts.v1 import note_pb2
from crm_common.fieldmask import resolve_update_mask
from crm_common.messaging.uow import UnitOfWorkFactory
from crm_common.pagination import encode_page_token, page_size, query_digest
from crm_contacts.handlers import notes as handlers
from crm_contacts.note_proto import (
    note_ref_from_name,
    note_to_proto,
    page_after,
    parent_from_name,
)
from crm_contacts.storage.notes import SORT_KEY_TYPES, sort_key

UPDATABLE_FIELDS = ("body",)


class NotesApi:
    _units: UnitOfWorkFactory

    async def CreateNote(
        self, request: pb.CreateNoteRequest, context: ServicerContext
    ) -> note_pb2.Note:
        parent = parent_from_name(request.parent)
        note = await handlers.create_note(
            self._units(), parent, request.note.body, request.note.author
        )
        return note_to_proto(note)

    async def ListNotes(
        self, request: pb.ListNotesRequest, context: ServicerContext
    ) -> pb.ListNotesResponse:
        parent = parent_from_name(request.parent)
        size = page_size(request.page_size)
        # A token continues one parent's notes; used on another, it is refused.
        digest = query_digest(notes_of=parent.name)
        after = page_after(request.page_token, digest, SORT_KEY_TYPES)
        found, has_more = await handlers.list_notes(self._units(), parent, after, size)
        response = pb.ListNotesResponse(notes=[note_to_proto(n) for n in found])
        if has_more:
            response.next_page_token = encode_page_token(sort_key(found[-1]), digest)
        return response

    async def UpdateNote(
        self, request: pb.UpdateNoteRequest, context: ServicerContext
    ) -> note_pb2.Note:
        ref = note_ref_from_name(request.note.name, "note.name")
        fields = resolve_update_mask(request.update_mask, request.note, UPDATABLE_FIELDS)
        body = request.note.body if "body" in fields else None
        note = await handlers.update_note(self._units(), ref, body, request.note.etag)
        return note_to_proto(note)

    async def DeleteNote(self, request: pb.DeleteNoteRequest, context: ServicerContext) -> Empty:
        await handlers.delete_note(self._units(), note_ref_from_name(request.name), request.etag)
        return Empty()
