"""Group RPCs: proto in, handler call, proto out."""

from google.protobuf.empty_pb2 import Empty
from grpc.aio import ServicerContext

from crm.support.v1 import agent_pb2
from crm.support.v1 import agent_service_pb2 as pb
from crm_common.errors import InvalidArgument
from crm_common.fieldmask import resolve_update_mask
from crm_common.listing import list_request
from crm_common.messaging.uow import UnitOfWorkFactory
from crm_support.agent_proto import (
    group_details_from_proto,
    group_field,
    group_id_from_name,
    group_to_proto,
)
from crm_support.domain.agents import (
    BY_DISPLAY_NAME,
    GROUP_FIELDS,
    GROUP_FILTER_SCHEMA,
    GROUP_SORTABLE,
)
from crm_support.handlers import agents as handlers


class GroupsApi:
    _units: UnitOfWorkFactory

    async def CreateGroup(
        self, request: pb.CreateGroupRequest, context: ServicerContext
    ) -> agent_pb2.Group:
        if not request.HasField("group"):
            raise InvalidArgument.single("group", "is required")
        group = await handlers.create_group(
            self._units(), group_details_from_proto(request.group), request.group_id
        )
        return group_to_proto(group)

    async def GetGroup(
        self, request: pb.GetGroupRequest, context: ServicerContext
    ) -> agent_pb2.Group:
        group_id = group_id_from_name(request.name)
        return group_to_proto(await handlers.get_group(self._units(), group_id))

    async def ListGroups(
        self, request: pb.ListGroupsRequest, context: ServicerContext
    ) -> pb.ListGroupsResponse:
        query = list_request(request, GROUP_FILTER_SCHEMA, GROUP_SORTABLE, BY_DISPLAY_NAME)
        page = await handlers.list_groups(
            self._units(), query.expr, query.keys, query.after, query.size
        )
        return pb.ListGroupsResponse(
            groups=[group_to_proto(g) for g in page.items],
            next_page_token=query.next_page_token(page.next_key),
        )

    async def UpdateGroup(
        self, request: pb.UpdateGroupRequest, context: ServicerContext
    ) -> agent_pb2.Group:
        if not request.HasField("group"):
            raise InvalidArgument.single("group", "is required")
        group_id = group_id_from_name(request.group.name, "group.name")
        fields = resolve_update_mask(request.update_mask, request.group, GROUP_FIELDS)
        changes = {name: group_field(request.group, name) for name in sorted(fields)}
        group = await handlers.update_group(self._units(), group_id, changes, request.group.etag)
        return group_to_proto(group)

    async def DeleteGroup(self, request: pb.DeleteGroupRequest, context: ServicerContext) -> Empty:
        group_id = group_id_from_name(request.name)
        await handlers.delete_group(self._units(), group_id, request.etag)
        return Empty()
