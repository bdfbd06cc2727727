"""Agent RPCs: proto in, handler call, proto out."""

from google.protobuf.empty_pb2 import Empty
from grpc.aio import ServicerContext

from crm.support.v1 import agent_pb2
from crm.support.v1 import agent_service_pb2 as pb
from crm_common.errors import InvalidArgument
from crm_common.fieldmask import resolve_update_mask
from crm_common.listing import list_request
from crm_common.messaging.uow import UnitOfWorkFactory
from crm_support.agent_proto import (
    agent_details_from_proto,
    agent_field,
    agent_id_from_name,
    agent_to_proto,
)
from crm_support.domain.agents import (
    AGENT_FIELDS,
    AGENT_FILTER_SCHEMA,
    AGENT_SORTABLE,
    BY_DISPLAY_NAME,
)
from crm_support.handlers import agents as handlers


class AgentsApi:
    _units: UnitOfWorkFactory

    async def CreateAgent(
        self, request: pb.CreateAgentRequest, context: ServicerContext
    ) -> agent_pb2.Agent:
        if not request.HasField("agent"):
            raise InvalidArgument.single("agent", "is required")
        agent = await handlers.create_agent(
            self._units(), agent_details_from_proto(request.agent), request.agent_id
        )
        return agent_to_proto(agent)

    async def GetAgent(
        self, request: pb.GetAgentRequest, context: ServicerContext
    ) -> agent_pb2.Agent:
        agent_id = agent_id_from_name(request.name)
        return agent_to_proto(await handlers.get_agent(self._units(), agent_id))

    async def ListAgents(
        self, request: pb.ListAgentsRequest, context: ServicerContext
    ) -> pb.ListAgentsResponse:
        query = list_request(request, AGENT_FILTER_SCHEMA, AGENT_SORTABLE, BY_DISPLAY_NAME)
        page = await handlers.list_agents(
            self._units(), query.expr, query.keys, query.after, query.size
        )
        return pb.ListAgentsResponse(
            agents=[agent_to_proto(a) for a in page.items],
            next_page_token=query.next_page_token(page.next_key),
        )

    async def UpdateAgent(
        self, request: pb.UpdateAgentRequest, context: ServicerContext
    ) -> agent_pb2.Agent:
        if not request.HasField("agent"):
            raise InvalidArgument.single("agent", "is required")
        agent_id = agent_id_from_name(request.agent.name, "agent.name")
        fields = resolve_update_mask(request.update_mask, request.agent, AGENT_FIELDS)
        changes = {name: agent_field(request.agent, name) for name in sorted(fields)}
        agent = await handlers.update_agent(self._units(), agent_id, changes, request.agent.etag)
        return agent_to_proto(agent)

    async def DeleteAgent(self, request: pb.DeleteAgentRequest, context: ServicerContext) -> Empty:
        agent_id = agent_id_from_name(request.name)
        await handlers.delete_agent(self._units(), agent_id, request.etag)
        return Empty()
