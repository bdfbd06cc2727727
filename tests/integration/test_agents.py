"""Agents, groups and ticket assignment through the support service, on SQLite
and PostgreSQL: CRUD, precise errors, automatic assignment under concurrency."""

import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from crm.support.v1 import agent_pb2 as ap
from crm.support.v1 import agent_service_pb2 as pb
from crm.support.v1 import events_pb2
from crm.support.v1 import support_service_pb2 as support
from crm.support.v1 import ticket_pb2 as tp
from crm.support.v1.agent_service_pb2_grpc import AgentServiceStub
from tests.integration.harness import Suite, eventually, field_violations, rpc_error
from tests.integration.test_tickets import ticket_events

ONLINE = ap.AGENT_AVAILABILITY_ONLINE
OFFLINE = ap.AGENT_AVAILABILITY_OFFLINE
AWAY = ap.AGENT_AVAILABILITY_AWAY
MANUAL = ap.ASSIGNMENT_STRATEGY_MANUAL
ROUND_ROBIN = ap.ASSIGNMENT_STRATEGY_ROUND_ROBIN
LEAST_LOADED = ap.ASSIGNMENT_STRATEGY_LEAST_LOADED


@pytest.fixture(scope="module")
def agents(suite: Suite) -> AgentServiceStub:
    return suite.stub("support", AgentServiceStub)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def new_group(
    agents: AgentServiceStub, strategy: int = MANUAL, group_id: str = "", **fields: object
) -> ap.Group:
    group = ap.Group(display_name="Tier 1", assignment_strategy=strategy, **fields)
    request = pb.CreateGroupRequest(group=group, group_id=group_id or unique("g"))
    return agents.CreateGroup(request)


def new_agent(
    agents: AgentServiceStub,
    *groups: ap.Group,
    agent_id: str = "",
    availability: int = ONLINE,
    **fields: object,
) -> ap.Agent:
    agent_id = agent_id or unique("a")
    agent = ap.Agent(
        **{
            "display_name": f"Agent {agent_id}",
            "email": f"{agent_id}@example.com",
            "groups": [g.name for g in groups],
            "availability": availability,
            **fields,
        }
    )
    return agents.CreateAgent(pb.CreateAgentRequest(agent=agent, agent_id=agent_id))


def team(
    agents: AgentServiceStub, strategy: int, size: int, **fields: object
) -> tuple[ap.Group, list[ap.Agent]]:
    """A group and `size` members whose ids sort in creation order."""
    group = new_group(agents, strategy)
    prefix = unique("t")
    members = [
        new_agent(agents, group, agent_id=f"{prefix}-{index}", **fields) for index in range(size)
    ]
    return group, members


def ticket(**fields: object) -> tp.Ticket:
    return tp.Ticket(
        **{"subject": "Printer on fire", "requester": f"people/{uuid.uuid4().hex}", **fields}
    )


def create_ticket(suite: Suite, **fields: object) -> tp.Ticket:
    return suite.support.CreateTicket(support.CreateTicketRequest(ticket=ticket(**fields)))


def update_ticket(suite: Suite, message: tp.Ticket, *paths: str) -> tp.Ticket:
    request = support.UpdateTicketRequest(ticket=message, update_mask=FieldMask(paths=paths))
    return suite.support.UpdateTicket(request)


def get_ticket(suite: Suite, name: str) -> tp.Ticket:
    return suite.support.GetTicket(support.GetTicketRequest(name=name))


def set_status(suite: Suite, name: str, status: int) -> tp.Ticket:
    return update_ticket(suite, tp.Ticket(name=name, status=status), "status")


def update_agent(agents: AgentServiceStub, message: ap.Agent, *paths: str) -> ap.Agent:
    request = pb.UpdateAgentRequest(agent=message, update_mask=FieldMask(paths=paths))
    return agents.UpdateAgent(request)


def assign(agents: AgentServiceStub, ticket_name: str, **fields: object) -> tp.Ticket:
    return agents.AssignTicket(pb.AssignTicketRequest(ticket=ticket_name, **fields))


def list_all(call: Callable[[str], tuple[list[object], str]]) -> list[object]:
    found: list[object] = []
    token = ""
    while True:
        items, token = call(token)
        found.extend(items)
        if not token:
            return found


def precondition_failed(call: Callable[[], object], *words: str) -> None:
    error = rpc_error(call)
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION, error.details()
    for word in words:
        assert word in error.details(), error.details()


# --- Agents and groups -------------------------------------------------------------------


def test_agent_create_get_update_delete(agents: AgentServiceStub) -> None:
    billing, tier1 = new_group(agents), new_group(agents)
    agent_id = unique("ada")
    created = new_agent(
        agents,
        tier1,
        billing,
        tier1,
        agent_id=agent_id,
        availability=ap.AGENT_AVAILABILITY_UNSPECIFIED,
        skills=["Spanish", "billing", "spanish"],
        capacity=3,
    )
    assert created.name == f"agents/{agent_id}"
    assert list(created.groups) == [tier1.name, billing.name]
    assert list(created.skills) == ["billing", "spanish"]
    assert created.availability == OFFLINE and created.capacity == 3 and created.load == 0
    assert created.etag and created.create_time == created.update_time
    assert agents.GetAgent(pb.GetAgentRequest(name=created.name)) == created

    changed = update_agent(
        agents,
        ap.Agent(name=created.name, availability=ONLINE, groups=[billing.name], etag=created.etag),
        "availability",
        "groups",
    )
    assert changed.availability == ONLINE and list(changed.groups) == [billing.name]
    assert changed.skills == created.skills and changed.etag != created.etag
    stale = rpc_error(
        lambda: update_agent(agents, ap.Agent(name=created.name, etag=created.etag, capacity=1))
    )
    assert stale.code() == grpc.StatusCode.ABORTED
    unchanged = update_agent(agents, ap.Agent(name=created.name, capacity=3), "capacity")
    assert unchanged == changed

    stale_delete = rpc_error(
        lambda: agents.DeleteAgent(pb.DeleteAgentRequest(name=created.name, etag=created.etag))
    )
    assert stale_delete.code() == grpc.StatusCode.ABORTED
    agents.DeleteAgent(pb.DeleteAgentRequest(name=created.name, etag=changed.etag))
    gone = rpc_error(lambda: agents.GetAgent(pb.GetAgentRequest(name=created.name)))
    assert gone.code() == grpc.StatusCode.NOT_FOUND


def test_agent_create_is_idempotent_and_emails_are_unique(agents: AgentServiceStub) -> None:
    agent_id = unique("grace")
    message = ap.Agent(display_name="Grace", email=f"{agent_id}@Example.com")
    first = agents.CreateAgent(pb.CreateAgentRequest(agent=message, agent_id=agent_id))
    assert first.email == f"{agent_id}@example.com"
    assert agents.CreateAgent(pb.CreateAgentRequest(agent=message, agent_id=agent_id)) == first
    other = ap.Agent(display_name="Other", email=message.email)
    clash = rpc_error(
        lambda: agents.CreateAgent(pb.CreateAgentRequest(agent=other, agent_id=agent_id))
    )
    assert clash.code() == grpc.StatusCode.ALREADY_EXISTS
    same_email = rpc_error(lambda: agents.CreateAgent(pb.CreateAgentRequest(agent=other)))
    assert same_email.code() == grpc.StatusCode.ALREADY_EXISTS
    assert first.name in same_email.details()
    second = new_agent(agents)
    taken = rpc_error(
        lambda: update_agent(agents, ap.Agent(name=second.name, email=first.email), "email")
    )
    assert taken.code() == grpc.StatusCode.ALREADY_EXISTS


def test_membership_of_unknown_groups_is_a_failed_precondition(agents: AgentServiceStub) -> None:
    real = new_group(agents)
    missing = f"groups/{unique('nope')}"
    precondition_failed(
        lambda: agents.CreateAgent(
            pb.CreateAgentRequest(
                agent=ap.Agent(
                    display_name="X",
                    email=f"{unique('x')}@example.com",
                    groups=[real.name, missing],
                )
            )
        ),
        "agent.groups[1]",
        missing,
    )
    agent = new_agent(agents, real)
    precondition_failed(
        lambda: update_agent(agents, ap.Agent(name=agent.name, groups=[missing]), "groups"),
        "agent.groups[0]",
    )


def test_list_agents_filters_orders_and_pages(agents: AgentServiceStub) -> None:
    group = new_group(agents)
    prefix = unique("list")
    made = [
        new_agent(
            agents,
            group,
            agent_id=f"{prefix}-{index}",
            display_name=f"{prefix} {5 - index}",
            skills=["spanish"] if index % 2 else ["german"],
            availability=ONLINE if index < 3 else AWAY,
            capacity=index,
        )
        for index in range(5)
    ]

    def listed(filter_: str, order_by: str = "") -> list[str]:
        def page(token: str) -> tuple[list[object], str]:
            response = agents.ListAgents(
                pb.ListAgentsRequest(
                    filter=filter_, order_by=order_by, page_size=2, page_token=token
                )
            )
            return list(response.agents), response.next_page_token

        return [a.name for a in list_all(page)]  # type: ignore[attr-defined]

    members = f'groups:"{group.name}"'
    assert listed(members) == [a.name for a in reversed(made)]  # by display name
    assert listed(members, "capacity desc") == [a.name for a in reversed(made)]
    assert listed(members, "create_time") == [a.name for a in made]
    assert listed(f'{members} AND skills:"SPANISH"') == [made[3].name, made[1].name]
    assert listed(f"{members} AND availability = AWAY", "capacity") == [made[3].name, made[4].name]
    assert listed(f'email = "{made[0].email.upper()}"') == [made[0].name]
    assert listed(f"{members} AND capacity >= 3 AND NOT skills:*") == []
    assert listed(f"{members} AND capacity > 9999999999") == []


def test_group_crud_and_list(agents: AgentServiceStub) -> None:
    group_id = unique("billing")
    created = new_group(agents, ROUND_ROBIN, group_id, description="Invoices")
    assert created.name == f"groups/{group_id}" and created.assignment_strategy == ROUND_ROBIN
    assert agents.GetGroup(pb.GetGroupRequest(name=created.name)) == created
    retry = pb.CreateGroupRequest(
        group=ap.Group(
            display_name="Tier 1", description="Invoices", assignment_strategy=ROUND_ROBIN
        ),
        group_id=group_id,
    )
    assert agents.CreateGroup(retry) == created
    retry.group.description = "Other"
    assert rpc_error(lambda: agents.CreateGroup(retry)).code() == grpc.StatusCode.ALREADY_EXISTS
    default = agents.CreateGroup(pb.CreateGroupRequest(group=ap.Group(display_name="Default")))
    assert default.assignment_strategy == MANUAL and len(default.name) > len("groups/")

    changed = agents.UpdateGroup(
        pb.UpdateGroupRequest(
            group=ap.Group(
                name=created.name,
                display_name="Billing",
                assignment_strategy=LEAST_LOADED,
                etag=created.etag,
            ),
            update_mask=FieldMask(paths=["display_name", "assignment_strategy"]),
        )
    )
    assert changed.display_name == "Billing" and changed.assignment_strategy == LEAST_LOADED
    assert changed.description == "Invoices" and changed.etag != created.etag
    stale = rpc_error(
        lambda: agents.UpdateGroup(
            pb.UpdateGroupRequest(
                group=ap.Group(name=created.name, description="x", etag=created.etag)
            )
        )
    )
    assert stale.code() == grpc.StatusCode.ABORTED
    found = agents.ListGroups(
        pb.ListGroupsRequest(
            filter='assignment_strategy = LEAST_LOADED AND display_name = "Billing"',
            order_by="create_time desc",
        )
    )
    assert created.name in [g.name for g in found.groups]
    assert all(g.assignment_strategy == LEAST_LOADED for g in found.groups)


def test_deleting_a_group_takes_its_members_out(agents: AgentServiceStub) -> None:
    doomed, kept = new_group(agents), new_group(agents)
    agent = new_agent(agents, doomed, kept)
    agents.DeleteGroup(pb.DeleteGroupRequest(name=doomed.name, etag=doomed.etag))
    assert (
        rpc_error(lambda: agents.GetGroup(pb.GetGroupRequest(name=doomed.name))).code()
        == grpc.StatusCode.NOT_FOUND
    )
    after = agents.GetAgent(pb.GetAgentRequest(name=agent.name))
    assert list(after.groups) == [kept.name] and after.etag != agent.etag
    # The id is free again.
    again = new_group(agents, group_id=doomed.name.removeprefix("groups/"))
    assert again.name == doomed.name


def test_deletes_wait_until_working_tickets_are_done(
    suite: Suite, agents: AgentServiceStub
) -> None:
    group = new_group(agents)
    agent = new_agent(agents, group)
    working = create_ticket(suite, assignee=agent.name, group=group.name)
    assert agents.GetAgent(pb.GetAgentRequest(name=agent.name)).load == 1
    precondition_failed(
        lambda: agents.DeleteAgent(pb.DeleteAgentRequest(name=agent.name)), "works 1 ticket"
    )
    precondition_failed(lambda: agents.DeleteGroup(pb.DeleteGroupRequest(name=group.name)))
    set_status(suite, working.name, tp.TICKET_STATUS_SOLVED)
    assert agents.GetAgent(pb.GetAgentRequest(name=agent.name)).load == 0
    agents.DeleteAgent(pb.DeleteAgentRequest(name=agent.name))
    agents.DeleteGroup(pb.DeleteGroupRequest(name=group.name))
    # History keeps the names.
    solved = get_ticket(suite, working.name)
    assert (solved.assignee, solved.group) == (agent.name, group.name)


def test_unknown_agents_and_groups_are_not_found(agents: AgentServiceStub) -> None:
    agent, group = f"agents/{unique('ghost')}", f"groups/{unique('ghost')}"
    calls = [
        lambda: agents.GetAgent(pb.GetAgentRequest(name=agent)),
        lambda: agents.DeleteAgent(pb.DeleteAgentRequest(name=agent)),
        lambda: update_agent(agents, ap.Agent(name=agent, capacity=1), "capacity"),
        lambda: agents.GetGroup(pb.GetGroupRequest(name=group)),
        lambda: agents.DeleteGroup(pb.DeleteGroupRequest(name=group)),
        lambda: agents.UpdateGroup(
            pb.UpdateGroupRequest(group=ap.Group(name=group, description="x"))
        ),
        lambda: assign(agents, f"tickets/{unique('ghost')}", agent="agents/x"),
    ]
    for call in calls:
        assert rpc_error(call).code() == grpc.StatusCode.NOT_FOUND


def valid_agent(**fields: object) -> ap.Agent:
    return ap.Agent(**{"display_name": "A", "email": f"{unique('v')}@example.com", **fields})


BAD_INPUT = [
    ("CreateAgent", pb.CreateAgentRequest(), "agent"),
    (
        "CreateAgent",
        pb.CreateAgentRequest(agent=valid_agent(display_name=" ")),
        "agent.display_name",
    ),
    ("CreateAgent", pb.CreateAgentRequest(agent=valid_agent(email="")), "agent.email"),
    ("CreateAgent", pb.CreateAgentRequest(agent=valid_agent(email="x@")), "agent.email"),
    ("CreateAgent", pb.CreateAgentRequest(agent=valid_agent(groups=["g"])), "agent.groups[0]"),
    ("CreateAgent", pb.CreateAgentRequest(agent=valid_agent(skills=["a b"])), "agent.skills[0]"),
    ("CreateAgent", pb.CreateAgentRequest(agent=valid_agent(capacity=-1)), "agent.capacity"),
    ("CreateAgent", pb.CreateAgentRequest(agent=valid_agent(availability=9)), "agent.availability"),
    ("CreateAgent", pb.CreateAgentRequest(agent=valid_agent(), agent_id="A B"), "agent_id"),
    ("GetAgent", pb.GetAgentRequest(name="agents/"), "name"),
    ("GetAgent", pb.GetAgentRequest(name="groups/x"), "name"),
    ("ListAgents", pb.ListAgentsRequest(page_size=-1), "page_size"),
    ("ListAgents", pb.ListAgentsRequest(filter="availability = BUSY"), "filter"),
    ("ListAgents", pb.ListAgentsRequest(filter="load > 1"), "filter"),
    ("ListAgents", pb.ListAgentsRequest(order_by="skills"), "order_by"),
    ("ListAgents", pb.ListAgentsRequest(page_token="garbage"), "page_token"),
    ("UpdateAgent", pb.UpdateAgentRequest(), "agent"),
    ("UpdateAgent", pb.UpdateAgentRequest(agent=ap.Agent(name="x")), "agent.name"),
    (
        "UpdateAgent",
        pb.UpdateAgentRequest(
            agent=ap.Agent(name="agents/x"), update_mask=FieldMask(paths=["load"])
        ),
        "update_mask",
    ),
    (
        "UpdateAgent",
        pb.UpdateAgentRequest(
            agent=ap.Agent(name="agents/x"), update_mask=FieldMask(paths=["availability"])
        ),
        "agent.availability",
    ),
    ("DeleteAgent", pb.DeleteAgentRequest(name="agents/a/b"), "name"),
    ("CreateGroup", pb.CreateGroupRequest(), "group"),
    ("CreateGroup", pb.CreateGroupRequest(group=ap.Group()), "group.display_name"),
    (
        "CreateGroup",
        pb.CreateGroupRequest(group=ap.Group(display_name="G", description="d" * 2001)),
        "group.description",
    ),
    (
        "CreateGroup",
        pb.CreateGroupRequest(group=ap.Group(display_name="G", assignment_strategy=7)),
        "group.assignment_strategy",
    ),
    (
        "CreateGroup",
        pb.CreateGroupRequest(group=ap.Group(display_name="G"), group_id="_"),
        "group_id",
    ),
    ("GetGroup", pb.GetGroupRequest(name=""), "name"),
    ("ListGroups", pb.ListGroupsRequest(page_size=1001), "page_size"),
    ("ListGroups", pb.ListGroupsRequest(filter="assignment_strategy = RANDOM"), "filter"),
    ("ListGroups", pb.ListGroupsRequest(order_by="description"), "order_by"),
    ("ListGroups", pb.ListGroupsRequest(page_token="x"), "page_token"),
    ("UpdateGroup", pb.UpdateGroupRequest(), "group"),
    ("UpdateGroup", pb.UpdateGroupRequest(group=ap.Group(name="agents/x")), "group.name"),
    (
        "UpdateGroup",
        pb.UpdateGroupRequest(
            group=ap.Group(name="groups/x"), update_mask=FieldMask(paths=["assignment_strategy"])
        ),
        "group.assignment_strategy",
    ),
    ("DeleteGroup", pb.DeleteGroupRequest(name="group/x"), "name"),
    ("AssignTicket", pb.AssignTicketRequest(ticket="x", agent="agents/a"), "ticket"),
    ("AssignTicket", pb.AssignTicketRequest(ticket="tickets/t"), "agent"),
    ("AssignTicket", pb.AssignTicketRequest(ticket="tickets/t", agent="ada"), "agent"),
    ("AssignTicket", pb.AssignTicketRequest(ticket="tickets/t", group="g"), "group"),
    (
        "AssignTicket",
        pb.AssignTicketRequest(ticket="tickets/t", agent="agents/a", auto=True),
        "agent",
    ),
    (
        "AssignTicket",
        pb.AssignTicketRequest(ticket="tickets/t", agent="agents/a", required_skills=["x"]),
        "required_skills",
    ),
    (
        "AssignTicket",
        pb.AssignTicketRequest(ticket="tickets/t", auto=True, required_skills=["a,b"]),
        "required_skills[0]",
    ),
]


@pytest.mark.parametrize(("method", "request_", "field"), BAD_INPUT)
def test_bad_input_names_the_field(
    agents: AgentServiceStub, method: str, request_: object, field: str
) -> None:
    error = rpc_error(lambda: getattr(agents, method)(request_))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert field in field_violations(error), field_violations(error)


# --- Explicit assignment -----------------------------------------------------------------


def test_explicit_assignment_follows_group_membership(
    suite: Suite, agents: AgentServiceStub
) -> None:
    tier1, tier2 = new_group(agents), new_group(agents)
    ada, bob = new_agent(agents, tier1, tier2), new_agent(agents, tier2)
    loner = new_agent(agents)

    # No group yet: the ticket joins the agent's default (first) group.
    first = create_ticket(suite)
    assigned = assign(agents, first.name, agent=ada.name, etag=first.etag)
    assert (assigned.assignee, assigned.group) == (ada.name, tier1.name)
    assert (
        rpc_error(lambda: assign(agents, first.name, agent=ada.name, etag=first.etag)).code()
        == grpc.StatusCode.ABORTED
    )
    # Naming an agent outside the ticket's group is refused, as in Zendesk...
    precondition_failed(lambda: assign(agents, first.name, agent=bob.name), bob.name, tier1.name)
    # ...unless the ticket moves to one of the agent's groups in the same change.
    moved = assign(agents, first.name, agent=bob.name, group=tier2.name)
    assert (moved.assignee, moved.group) == (bob.name, tier2.name)
    precondition_failed(lambda: assign(agents, first.name, agent=bob.name, group=tier1.name))
    # Moving the ticket alone keeps a member, and unassigns a non-member.
    assert assign(agents, first.name, agent=ada.name).assignee == ada.name
    kept = assign(agents, first.name, group=tier1.name)
    assert (kept.assignee, kept.group) == (ada.name, tier1.name)
    moved_away = update_ticket(suite, tp.Ticket(name=first.name, group=""), "group")
    assert moved_away.assignee == ada.name and moved_away.group == ""
    back = update_ticket(suite, tp.Ticket(name=first.name, group=tier2.name), "group")
    assert (back.assignee, back.group) == (ada.name, tier2.name)
    dropped = assign(agents, first.name, group=new_group(agents).name)
    assert dropped.assignee == ""

    # An agent without groups takes a groupless ticket as it is.
    solo = assign(agents, create_ticket(suite).name, agent=loner.name)
    assert (solo.assignee, solo.group) == (loner.name, "")
    # Explicit assignment ignores availability and capacity.
    offline = new_agent(agents, tier1, availability=OFFLINE, capacity=1)
    for _ in range(2):
        taken = assign(agents, create_ticket(suite).name, agent=offline.name)
        assert taken.assignee == offline.name
    assert agents.GetAgent(pb.GetAgentRequest(name=offline.name)).load == 2


def test_named_agents_and_groups_must_exist(suite: Suite, agents: AgentServiceStub) -> None:
    ghost_agent, ghost_group = f"agents/{unique('ghost')}", f"groups/{unique('ghost')}"
    name = create_ticket(suite).name
    precondition_failed(lambda: assign(agents, name, agent=ghost_agent), "agent:", ghost_agent)
    precondition_failed(lambda: assign(agents, name, group=ghost_group), "group:", ghost_group)
    precondition_failed(lambda: assign(agents, name, group=ghost_group, auto=True), ghost_group)
    precondition_failed(
        lambda: update_ticket(suite, tp.Ticket(name=name, assignee=ghost_agent), "assignee"),
        "ticket.assignee",
        ghost_agent,
    )
    precondition_failed(
        lambda: update_ticket(suite, tp.Ticket(name=name, group=ghost_group), "group"),
        "ticket.group",
        ghost_group,
    )
    precondition_failed(lambda: create_ticket(suite, assignee=ghost_agent), "ticket.assignee")
    precondition_failed(lambda: create_ticket(suite, group=ghost_group), "ticket.group")
    untouched = get_ticket(suite, name)
    assert (untouched.assignee, untouched.group) == ("", "")


def test_closed_tickets_cannot_be_assigned(suite: Suite, agents: AgentServiceStub) -> None:
    agent = new_agent(agents)
    name = create_ticket(suite).name
    for status in (tp.TICKET_STATUS_SOLVED, tp.TICKET_STATUS_CLOSED):
        set_status(suite, name, status)
    precondition_failed(lambda: assign(agents, name, agent=agent.name), "closed")


def test_assignments_are_announced(suite: Suite, agents: AgentServiceStub) -> None:
    group = new_group(agents, ROUND_ROBIN)
    agent = new_agent(agents, group)
    manual = new_group(agents)
    other = new_agent(agents, manual)
    created = create_ticket(suite, group=group.name)
    assert created.assignee == agent.name
    reassigned = assign(agents, created.name, agent=other.name, group=manual.name)
    assert reassigned.assignee == other.name

    def check() -> None:
        events = ticket_events(suite, created.name.removeprefix("tickets/"))
        assert [e.type for e in events] == ["ticket.created", "ticket.updated", "ticket.assigned"]
        born = events_pb2.TicketCreated()
        events[0].payload.Unpack(born)
        assert born.ticket.assignee == agent.name
        moved = events_pb2.TicketAssigned()
        events[2].payload.Unpack(moved)
        assert (moved.previous_assignee, moved.previous_group) == (agent.name, group.name)
        assert (moved.ticket.assignee, moved.ticket.group) == (other.name, manual.name)

    eventually(check)


# --- Automatic assignment ----------------------------------------------------------------


def test_round_robin_takes_turns(suite: Suite, agents: AgentServiceStub) -> None:
    group, members = team(agents, ROUND_ROBIN, 3)
    names = [m.name for m in members]
    picked = [create_ticket(suite, group=group.name).assignee for _ in range(7)]
    assert picked == [*names, *names, names[0]]
    # Unassigning a working ticket hands it to the next in turn.
    last = create_ticket(suite, group=group.name)
    assert last.assignee == names[1]
    again = update_ticket(suite, tp.Ticket(name=last.name, assignee=""), "assignee")
    assert again.assignee == names[2]
    # Moving an existing ticket into the group assigns it too.
    outside = create_ticket(suite)
    moved = update_ticket(suite, tp.Ticket(name=outside.name, group=group.name), "group")
    assert moved.assignee == names[0]


def test_least_loaded_evens_out(suite: Suite, agents: AgentServiceStub) -> None:
    group, (busy, idle, middle) = team(agents, LEAST_LOADED, 3)
    for agent, count in ((busy, 3), (middle, 1)):
        for _ in range(count):
            create_ticket(suite, group=group.name, assignee=agent.name)
    picked = [create_ticket(suite, group=group.name).assignee for _ in range(5)]
    # idle 0 -> 1 ties middle: turns go on from idle to middle, then the two
    # share until they reach busy's 3.
    assert picked[:2] == [idle.name, middle.name]
    loads = {
        a.name: agents.GetAgent(pb.GetAgentRequest(name=a.name)).load for a in (busy, idle, middle)
    }
    assert sorted(loads.values()) == [3, 3, 3]
    assert Counter(picked) == Counter({idle.name: 3, middle.name: 2})


def test_availability_capacity_and_skills_are_honoured(
    suite: Suite, agents: AgentServiceStub
) -> None:
    group, (away, full, spanish) = team(agents, ROUND_ROBIN, 3)
    update_agent(agents, ap.Agent(name=away.name, availability=AWAY), "availability")
    update_agent(agents, ap.Agent(name=full.name, capacity=1), "capacity")
    update_agent(
        agents, ap.Agent(name=spanish.name, skills=["spanish"], capacity=2), "skills", "capacity"
    )

    needs_spanish = create_ticket(suite, group=group.name, tags=["skill:Spanish"])
    assert needs_spanish.assignee == spanish.name
    first = create_ticket(suite, group=group.name)
    assert first.assignee == full.name
    second = create_ticket(suite, group=group.name)
    assert second.assignee == spanish.name
    # Everyone who is online is full: the ticket waits in the group.
    waiting = create_ticket(suite, group=group.name)
    assert (waiting.assignee, waiting.group) == ("", group.name)
    nobody_speaks = create_ticket(suite, group=group.name, tags=["skill:german"])
    assert nobody_speaks.assignee == ""

    # Solved tickets no longer count: the waiting ticket's next change assigns it.
    set_status(suite, first.name, tp.TICKET_STATUS_SOLVED)
    noted = update_ticket(
        suite, tp.Ticket(name=waiting.name, priority=tp.TICKET_PRIORITY_HIGH), "priority"
    )
    assert noted.assignee == full.name
    # Pending and on-hold tickets still count against capacity.
    set_status(suite, noted.name, tp.TICKET_STATUS_PENDING)
    assert create_ticket(suite, group=group.name).assignee == ""
    # Going offline keeps one's tickets but stops new ones.
    update_agent(
        agents,
        ap.Agent(name=full.name, capacity=0, availability=OFFLINE),
        "capacity",
        "availability",
    )
    update_agent(agents, ap.Agent(name=away.name, availability=ONLINE), "availability")
    assert create_ticket(suite, group=group.name).assignee == away.name
    assert get_ticket(suite, noted.name).assignee == full.name
    # Solved tickets are not assigned automatically.
    solved = create_ticket(suite, group=new_group(agents).name)
    set_status(suite, solved.name, tp.TICKET_STATUS_SOLVED)
    left = update_ticket(suite, tp.Ticket(name=solved.name, group=group.name), "group")
    assert left.assignee == ""


def test_auto_assign_on_request(suite: Suite, agents: AgentServiceStub) -> None:
    group, (plain, linguist) = team(agents, LEAST_LOADED, 2)
    update_agent(agents, ap.Agent(name=linguist.name, skills=["french"]), "skills")
    manual = new_group(agents)
    name = create_ticket(suite, group=manual.name).name
    precondition_failed(lambda: assign(agents, name, auto=True), manual.name, "manually")

    picked = assign(agents, name, group=group.name, auto=True, required_skills=["French"])
    assert picked.assignee == linguist.name and picked.group == group.name
    assert "skill:french" in picked.tags
    # The skill stays required: unassigning finds the linguist again.
    again = update_ticket(suite, tp.Ticket(name=name, assignee=""), "assignee")
    assert again.assignee == linguist.name
    # auto replaces the assignee by whoever the strategy picks now.
    update_agent(agents, ap.Agent(name=linguist.name, availability=OFFLINE), "availability")
    nobody = assign(agents, name, auto=True)
    assert (nobody.assignee, nobody.group) == ("", group.name)
    update_agent(agents, ap.Agent(name=plain.name, skills=["french"]), "skills")
    assert assign(agents, name, auto=True).assignee == plain.name

    groupless = create_ticket(suite).name
    precondition_failed(lambda: assign(agents, groupless, auto=True), "no group")
    set_status(suite, name, tp.TICKET_STATUS_SOLVED)
    precondition_failed(lambda: assign(agents, name, auto=True), "SOLVED")


# --- Concurrency -------------------------------------------------------------------------


def test_concurrent_creates_take_fair_turns(suite: Suite, agents: AgentServiceStub) -> None:
    group, members = team(agents, ROUND_ROBIN, 3)
    with ThreadPoolExecutor(max_workers=12) as pool:
        picked = list(
            pool.map(lambda _: create_ticket(suite, group=group.name).assignee, range(12))
        )
    assert Counter(picked) == Counter({m.name: 4 for m in members})


def test_concurrent_moves_take_fair_turns(suite: Suite, agents: AgentServiceStub) -> None:
    group, members = team(agents, ROUND_ROBIN, 3)
    waiting = [create_ticket(suite).name for _ in range(12)]

    def move(name: str) -> str:
        return update_ticket(suite, tp.Ticket(name=name, group=group.name), "group").assignee

    with ThreadPoolExecutor(max_workers=12) as pool:
        picked = list(pool.map(move, waiting))
    assert Counter(picked) == Counter({m.name: 4 for m in members})


def test_capacity_holds_under_concurrency(suite: Suite, agents: AgentServiceStub) -> None:
    group, members = team(agents, LEAST_LOADED, 3, capacity=2)
    # The same agents also take tickets in a second group at the same time.
    other = new_group(agents, ROUND_ROBIN)
    for member in members:
        update_agent(agents, ap.Agent(name=member.name, groups=[group.name, other.name]), "groups")

    waiting = [create_ticket(suite).name for _ in range(10)]

    def move(index: int) -> str:
        into = (group if index % 2 else other).name
        return update_ticket(suite, tp.Ticket(name=waiting[index], group=into), "group").assignee

    with ThreadPoolExecutor(max_workers=10) as pool:
        picked = list(pool.map(move, range(10)))
    assert Counter(picked) == Counter({"": 4, **{m.name: 2 for m in members}})
