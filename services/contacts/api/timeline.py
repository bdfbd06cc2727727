"""The timeline RPC: proto in, handler call, proto out."""

from grpc.aio import ServicerContext

from crm.contacts.v1 import contacts_service_pb2 as pb
from crm_common.messaging.uow import UnitOfWorkFactory
from crm_common.pagination import encode_page_token, page_size, query_digest
from crm_contacts.handlers import timeline as handlers
from crm_contacts.note_proto import page_after, parent_from_name, timeline_entry_to_proto
from crm_contacts.storage.timeline import SORT_KEY_TYPES, sort_key


class TimelineApi:
    _units: UnitOfWorkFactory

    async def ListTimelineEntries(
        self, request: pb.ListTimelineEntriesRequest, context: ServicerContext
    ) -> pb.ListTimelineEntriesResponse:
        parent = parent_from_name(request.parent)
        size = page_size(request.page_size)
        digest = query_digest(timeline_of=parent.name)
        after = page_after(request.page_token, digest, SORT_KEY_TYPES)
        found, has_more = await handlers.list_timeline(self._units(), parent, after, size)
        response = pb.ListTimelineEntriesResponse(
            timeline_entries=[timeline_entry_to_proto(e) for e in found]
        )
        if has_more:
            response.next_page_token = encode_page_token(sort_key(found[-1]), digest)
        return response
