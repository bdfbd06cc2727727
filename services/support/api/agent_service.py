"""The AgentService servicer: agents, groups and ticket assignment."""

from grpc.aio import ServicerContext

from crm.support.v1 import agent_service_pb2 as pb
from crm.support.v1 import agent_service_pb2_grpc as pb_grpc
from crm.support.v1 import ticket_pb2
from crm_common.auth.principal import caller
from crm_common.messaging.uow import UnitOfWorkFactory
from crm_support.agent_proto import agent_id_from_name, group_id_from_name
from crm_support.api.agents import AgentsApi
from crm_support.api.groups import GroupsApi
from crm_support.domain.assignment import AssignmentRequest
from crm_support.handlers.ticket_assignment import assign_ticket
from crm_support.ticket_proto import ticket_id_from_name, ticket_to_proto


class AgentServicer(AgentsApi, GroupsApi, pb_grpc.AgentServiceServicer):
    def __init__(self, units: UnitOfWorkFactory) -> None:
        self._units = units

    async def AssignTicket(
        self, request: pb.AssignTicketRequest, context: ServicerContext
    ) -> ticket_pb2.Ticket:
        ticket_id = ticket_id_from_name(request.ticket, "ticket")
        if request.agent:
            agent_id_from_name(request.agent, "agent")
        if request.group:
            group_id_from_name(request.group, "group")
        assignment = AssignmentRequest(
            request.agent, request.group, request.auto, tuple(request.required_skills)
        )
        ticket = await assign_ticket(self._units(), caller(), ticket_id, assignment, request.etag)
        return ticket_to_proto(ticket)
