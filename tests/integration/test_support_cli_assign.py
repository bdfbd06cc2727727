"""`crm support assign` as a real process against the support service, on SQLite
and PostgreSQL."""

import uuid

from crm.support.v1 import agent_pb2
from crm.support.v1 import agent_service_pb2 as pb
from crm.support.v1 import support_service_pb2 as support
from crm.support.v1.agent_service_pb2_grpc import AgentServiceStub
from tests.integration.harness import Suite
from tests.integration.test_support_cli import crm, new_ticket


def test_an_agent_assigns_tickets_by_name_and_by_group(suite: Suite) -> None:
    agents = suite.stub("support", AgentServiceStub)
    suffix = uuid.uuid4().hex[:8]
    tier1 = agents.CreateGroup(
        pb.CreateGroupRequest(
            group=agent_pb2.Group(
                display_name="Tier 1", assignment_strategy=agent_pb2.ASSIGNMENT_STRATEGY_ROUND_ROBIN
            ),
            group_id=f"tier1-{suffix}",
        )
    )
    tier2 = agents.CreateGroup(
        pb.CreateGroupRequest(group=agent_pb2.Group(display_name="Tier 2"), group_id=f"t2-{suffix}")
    )

    def agent(agent_id: str, display_name: str, *groups: str) -> agent_pb2.Agent:
        return agents.CreateAgent(
            pb.CreateAgentRequest(
                agent=agent_pb2.Agent(
                    display_name=display_name,
                    email=f"{agent_id}@example.com",
                    groups=groups,
                    availability=agent_pb2.AGENT_AVAILABILITY_ONLINE,
                ),
                agent_id=agent_id,
            )
        )

    ada = agent(f"ada-{suffix}", "Ada Lovelace", tier1.name)
    grace = agent(f"grace-{suffix}", "Grace Hopper", tier2.name)
    ticket = new_ticket(suite, "Printer down")
    number = str(ticket.number)

    by_id = crm(suite, "assign", number, ada.name.removeprefix("agents/"))
    assert by_id.returncode == 0, by_id.stderr
    assert by_id.stdout.strip() == (
        f"Ticket #{number} is assigned to Ada Lovelace ({ada.name}) in Tier 1 ({tier1.name})."
    )
    shown = crm(suite, "show", number).stdout
    assert "Assignee:" in shown and ada.name in shown and tier1.name in shown

    again = crm(suite, "assign", number, ada.name)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(f"Nothing changed: ticket #{number} is assigned to Ada")

    # Grace is not in Tier 1: refused, unless the ticket moves to her group.
    outsider = crm(suite, "assign", number, grace.name)
    assert outsider.returncode == 1
    assert outsider.stderr.startswith("crm support: FAILED_PRECONDITION:")
    assert "not a member" in outsider.stderr and len(outsider.stderr.splitlines()) == 1
    moved = crm(suite, "assign", number, grace.name, "--group", tier2.name)
    assert moved.returncode == 0, moved.stderr
    assert f"Grace Hopper ({grace.name}) in Tier 2 ({tier2.name})" in moved.stdout

    # The group picks: Ada is Tier 1's only member.
    picked = crm(suite, "assign", number, "--group", tier1.name.removeprefix("groups/"))
    assert picked.returncode == 0, picked.stderr
    assert f"assigned to Ada Lovelace ({ada.name}) in Tier 1" in picked.stdout
    after = suite.support.GetTicket(support.GetTicketRequest(name=ticket.name))
    assert (after.assignee, after.group) == (ada.name, tier1.name)

    # Nobody in Tier 1 speaks Welsh: the ticket waits in the group.
    waiting = crm(suite, "assign", number, "--group", tier1.name, "--skill", "welsh")
    assert waiting.returncode == 0, waiting.stderr
    assert waiting.stdout.strip() == (
        f"Ticket #{number} waits unassigned in Tier 1 ({tier1.name}): no member is online "
        "with room for it and every required skill."
    )
    tags = suite.support.GetTicket(support.GetTicketRequest(name=ticket.name)).tags
    assert "skill:welsh" in tags


def test_assign_refusals_are_one_line_and_exit_1(suite: Suite) -> None:
    number = str(new_ticket(suite, "Nobody's").number)
    cases = [
        (["assign", number], "crm support: name an AGENT, or a --group whose strategy picks one"),
        (
            ["assign", number, "ada", "--skill", "x"],
            "crm support: --skill applies only when the group picks (no AGENT)",
        ),
        (["assign", "999999", "ada"], "crm support: no ticket #999999"),
    ]
    for args, message in cases:
        result = crm(suite, *args)
        assert result.returncode == 1, args
        assert result.stderr.strip() == message
    ghost = crm(suite, "assign", number, "ghost-agent")
    assert ghost.returncode == 1
    assert ghost.stderr.startswith("crm support: FAILED_PRECONDITION:")
    assert "agents/ghost-agent does not exist" in ghost.stderr
    manual = crm(suite, "assign", number, "--group", "ghost-group")
    assert manual.returncode == 1 and "groups/ghost-group does not exist" in manual.stderr
    # The wrong kind of name is a usage error, caught before any call.
    bad = crm(suite, "assign", number, "groups/x")
    assert bad.returncode == 2 and "not like agents/ID: 'groups/x'" in bad.stderr
