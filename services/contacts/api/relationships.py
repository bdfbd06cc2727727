"""Relationship RPCs: proto in, handler call, proto out."""

from google.protobuf.empty_pb2 import Empty
from grpc.aio import ServicerContext

from crm.contacts.v1 import contacts_service_pb2 as pb
from crm.contacts.v1 import relationship_pb2
from crm_common.errors import InvalidArgument
from crm_common.fieldmask import resolve_update_mask
from crm_common.filtering import parse_filter
from crm_common.messaging.uow import UnitOfWorkFactory
from crm_common.pagination import decode_page_token, encode_page_token, page_size, query_digest
from crm_contacts.domain.relationships import UPDATABLE_FIELDS
from crm_contacts.handlers import relationships as handlers
from crm_contacts.relationship_proto import (
    record_from_name,
    relationship_draft_from_proto,
    relationship_field,
    relationship_id_from_name,
    relationship_to_proto,
    relationship_type_draft_from_proto,
    relationship_type_to_proto,
)
from crm_contacts.storage.relationships import FILTER_SCHEMA, LIST_ORDER


class RelationshipsApi:
    _units: UnitOfWorkFactory

    async def CreateRelationshipType(
        self, request: pb.CreateRelationshipTypeRequest, context: ServicerContext
    ) -> relationship_pb2.RelationshipType:
        if not request.HasField("relationship_type"):
            raise InvalidArgument.single("relationship_type", "is required")
        draft = relationship_type_draft_from_proto(
            request.relationship_type, request.relationship_type_id
        )
        return relationship_type_to_proto(
            await handlers.create_relationship_type(self._units(), draft)
        )

    async def ListRelationshipTypes(
        self, request: pb.ListRelationshipTypesRequest, context: ServicerContext
    ) -> pb.ListRelationshipTypesResponse:
        size = page_size(request.page_size)
        digest = query_digest(list="relationship_types")
        after = decode_page_token(request.page_token, digest)
        found, has_more = await handlers.list_relationship_types(self._units(), after, size)
        response = pb.ListRelationshipTypesResponse(
            relationship_types=[relationship_type_to_proto(t) for t in found]
        )
        if has_more:
            response.next_page_token = encode_page_token([found[-1].id], digest)
        return response

    async def CreateRelationship(
        self, request: pb.CreateRelationshipRequest, context: ServicerContext
    ) -> relationship_pb2.Relationship:
        if not request.HasField("relationship"):
            raise InvalidArgument.single("relationship", "is required")
        draft = relationship_draft_from_proto(request.relationship)
        relationship = await handlers.create_relationship(self._units(), draft)
        return relationship_to_proto(relationship, handlers.today())

    async def GetRelationship(
        self, request: pb.GetRelationshipRequest, context: ServicerContext
    ) -> relationship_pb2.Relationship:
        relationship_id = relationship_id_from_name(request.name)
        relationship = await handlers.get_relationship(self._units(), relationship_id)
        return relationship_to_proto(relationship, handlers.today())

    async def ListRelationships(
        self, request: pb.ListRelationshipsRequest, context: ServicerContext
    ) -> pb.ListRelationshipsResponse:
        record = record_from_name(request.resource, "resource")
        size = page_size(request.page_size)
        expr = parse_filter(request.filter, FILTER_SCHEMA)
        # `current` moves with the calendar, so a token stays valid across
        # midnight; it is bound to the record and the filter text only.
        digest = query_digest(resource=record.name, filter=request.filter)
        after = decode_page_token(request.page_token, digest)
        today = handlers.today()
        found, has_more = await handlers.list_relationships(
            self._units(), record, expr, today, after, size
        )
        response = pb.ListRelationshipsResponse(
            relationships=[relationship_to_proto(r, today) for r in found]
        )
        if has_more:
            last = found[-1]
            after_last = [getattr(last, key.field) for key in LIST_ORDER]
            response.next_page_token = encode_page_token(after_last, digest)
        return response

    async def UpdateRelationship(
        self, request: pb.UpdateRelationshipRequest, context: ServicerContext
    ) -> relationship_pb2.Relationship:
        if not request.HasField("relationship"):
            raise InvalidArgument.single("relationship", "is required")
        message = request.relationship
        relationship_id = relationship_id_from_name(message.name, "relationship.name")
        fields = resolve_update_mask(request.update_mask, message, UPDATABLE_FIELDS)
        changes = {name: relationship_field(message, name) for name in fields}
        relationship = await handlers.update_relationship(
            self._units(), relationship_id, changes, message.etag
        )
        return relationship_to_proto(relationship, handlers.today())

    async def DeleteRelationship(
        self, request: pb.DeleteRelationshipRequest, context: ServicerContext
    ) -> Empty:
        relationship_id = relationship_id_from_name(request.name)
        await handlers.delete_relationship(self._units(), relationship_id, request.etag)
        return Empty()
