"""Custom field definition RPCs: proto in, handler call, proto out."""

from google.protobuf.empty_pb2 import Empty
from grpc.aio import ServicerContext

from crm.contacts.v1 import contacts_service_pb2 as pb
from crm.contacts.v1 import custom_field_pb2
from crm_common.errors import InvalidArgument
from crm_common.fieldmask import resolve_update_mask
from crm_common.messaging.uow import UnitOfWorkFactory
from crm_common.pagination import decode_page_token, encode_page_token, page_size, query_digest
from crm_contacts.custom_field_proto import (
    definition_id_from_name,
    definition_to_proto,
    spec_field,
    spec_from_proto,
)
from crm_contacts.domain.custom_fields import UPDATABLE_FIELDS
from crm_contacts.handlers import custom_fields as handlers

_RESOURCE = "custom_field_definition"
_LIST_DIGEST = query_digest(order_by=[("id", False)])


class CustomFieldsApi:
    _units: UnitOfWorkFactory

    async def CreateCustomFieldDefinition(
        self, request: pb.CreateCustomFieldDefinitionRequest, context: ServicerContext
    ) -> custom_field_pb2.CustomFieldDefinition:
        if not request.HasField(_RESOURCE):
            raise InvalidArgument.single(_RESOURCE, "is required")
        definition = await handlers.create_definition(
            self._units(),
            request.custom_field_definition_id,
            spec_from_proto(request.custom_field_definition),
        )
        return definition_to_proto(definition)

    async def GetCustomFieldDefinition(
        self, request: pb.GetCustomFieldDefinitionRequest, context: ServicerContext
    ) -> custom_field_pb2.CustomFieldDefinition:
        definition_id = definition_id_from_name(request.name)
        return definition_to_proto(await handlers.get_definition(self._units(), definition_id))

    async def ListCustomFieldDefinitions(
        self, request: pb.ListCustomFieldDefinitionsRequest, context: ServicerContext
    ) -> pb.ListCustomFieldDefinitionsResponse:
        size = page_size(request.page_size)
        after = decode_page_token(request.page_token, _LIST_DIGEST)
        found, has_more = await handlers.list_definitions(self._units(), after, size)
        response = pb.ListCustomFieldDefinitionsResponse(
            custom_field_definitions=[definition_to_proto(d) for d in found]
        )
        if has_more:
            response.next_page_token = encode_page_token([found[-1].id], _LIST_DIGEST)
        return response

    async def UpdateCustomFieldDefinition(
        self, request: pb.UpdateCustomFieldDefinitionRequest, context: ServicerContext
    ) -> custom_field_pb2.CustomFieldDefinition:
        if not request.HasField(_RESOURCE):
            raise InvalidArgument.single(_RESOURCE, "is required")
        message = request.custom_field_definition
        definition_id = definition_id_from_name(message.name, f"{_RESOURCE}.name")
        # `type` may be named so that changing it is refused, not ignored.
        fields = resolve_update_mask(request.update_mask, message, UPDATABLE_FIELDS)
        changes = {name: spec_field(message, name) for name in fields}
        definition = await handlers.update_definition(
            self._units(), definition_id, changes, message.etag
        )
        return definition_to_proto(definition)

    async def DeleteCustomFieldDefinition(
        self, request: pb.DeleteCustomFieldDefinitionRequest, context: ServicerContext
    ) -> Empty:
        definition_id = definition_id_from_name(request.name)
        await handlers.delete_definition(self._units(), definition_id, request.etag)
        return Empty()
