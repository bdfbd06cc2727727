"""Translation between the contract's Agent and Group and the domain."""

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from crm.support.v1 import agent_pb2
from crm_common.errors import InvalidArgument
from crm_common.etags import etag_for
from crm_common.resources import require_id
from crm_support.domain.agents import (
    Agent,
    AgentDetails,
    AssignmentStrategy,
    Availability,
    Group,
    GroupDetails,
)
from crm_support.domain.tickets import AGENTS, GROUPS

_AVAILABILITY = "AGENT_AVAILABILITY_"
_STRATEGY = "ASSIGNMENT_STRATEGY_"


def agent_id_from_name(name: str, field: str = "name") -> str:
    return require_id(name, AGENTS, field, "like agents/123")


def group_id_from_name(name: str, field: str = "name") -> str:
    return require_id(name, GROUPS, field, "like groups/123")


def availability_from_proto(value: int, *, creating: bool) -> Availability:
    """OFFLINE when unspecified on create; an update must say which."""
    if value == agent_pb2.AGENT_AVAILABILITY_UNSPECIFIED:
        if creating:
            return Availability.OFFLINE
        raise InvalidArgument.single("agent.availability", "is required when it is updated")
    try:
        name = agent_pb2.AgentAvailability.Name(value).removeprefix(_AVAILABILITY)
    except ValueError as error:
        raise InvalidArgument.single(
            "agent.availability", f"{value} is not a known value"
        ) from error
    return Availability[name]


def strategy_from_proto(value: int, *, creating: bool) -> AssignmentStrategy:
    """MANUAL when unspecified on create; an update must say which."""
    if value == agent_pb2.ASSIGNMENT_STRATEGY_UNSPECIFIED:
        if creating:
            return AssignmentStrategy.MANUAL
        raise InvalidArgument.single("group.assignment_strategy", "is required when it is updated")
    try:
        name = agent_pb2.AssignmentStrategy.Name(value).removeprefix(_STRATEGY)
    except ValueError as error:
        raise InvalidArgument.single(
            "group.assignment_strategy", f"{value} is not a known value"
        ) from error
    return AssignmentStrategy[name]


def agent_field(message: agent_pb2.Agent, field: str, *, creating: bool = False) -> object:
    """One writable field of `message` in its domain form."""
    match field:
        case "availability":
            return availability_from_proto(message.availability, creating=creating)
        case "groups" | "skills":
            return tuple(getattr(message, field))
    return getattr(message, field)


def agent_details_from_proto(message: agent_pb2.Agent) -> AgentDetails:
    return AgentDetails(
        **{
            name: agent_field(message, name, creating=True)
            for name in AgentDetails.__dataclass_fields__
        }
    )


def group_field(message: agent_pb2.Group, field: str, *, creating: bool = False) -> object:
    if field == "assignment_strategy":
        return strategy_from_proto(message.assignment_strategy, creating=creating)
    return getattr(message, field)


def group_details_from_proto(message: agent_pb2.Group) -> GroupDetails:
    return GroupDetails(
        **{
            name: group_field(message, name, creating=True)
            for name in GroupDetails.__dataclass_fields__
        }
    )


def agent_to_proto(agent: Agent) -> agent_pb2.Agent:
    details = agent.details
    return agent_pb2.Agent(
        name=agent.name,
        display_name=details.display_name,
        email=details.email,
        groups=details.groups,
        skills=details.skills,
        capacity=details.capacity,
        availability=agent_pb2.AgentAvailability.Value(_AVAILABILITY + details.availability.name),
        load=agent.load,
        etag=etag_for(agent.version),
        create_time=_timestamp(agent.create_time),
        update_time=_timestamp(agent.update_time),
    )


def group_to_proto(group: Group) -> agent_pb2.Group:
    details = group.details
    return agent_pb2.Group(
        name=group.name,
        display_name=details.display_name,
        description=details.description,
        assignment_strategy=agent_pb2.AssignmentStrategy.Value(
            _STRATEGY + details.assignment_strategy.name
        ),
        etag=etag_for(group.version),
        create_time=_timestamp(group.create_time),
        update_time=_timestamp(group.update_time),
    )


def _timestamp(value: datetime) -> Timestamp:
    timestamp = Timestamp()
    timestamp.FromDatetime(value)
    return timestamp
