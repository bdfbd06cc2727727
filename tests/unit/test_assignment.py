"""Who automatic assignment picks, agent and group rules, and AssignTicket requests."""

from collections import Counter
from datetime import UTC, datetime

import pytest

from crm_common.errors import InvalidArgument
from crm_support.domain.agents import (
    Agent,
    AgentDetails,
    AssignmentStrategy,
    Availability,
    Group,
    GroupDetails,
    required_skills,
)
from crm_support.domain.assignment import (
    AssignmentRequest,
    Candidate,
    choose_agent,
    next_in_turn,
)
from crm_support.domain.tickets import TicketDetails

NOW = datetime(2026, 1, 5, 9, tzinfo=UTC)
RR = AssignmentStrategy.ROUND_ROBIN
LL = AssignmentStrategy.LEAST_LOADED
NONE: frozenset[str] = frozenset()


def member(
    agent_id: str,
    *,
    load: int = 0,
    capacity: int = 0,
    availability: Availability = Availability.ONLINE,
    skills: tuple[str, ...] = (),
) -> Candidate:
    return Candidate(agent_id, availability, capacity, load, frozenset(skills))


def rounds(strategy: AssignmentStrategy, members: list[Candidate], tickets: int) -> list[str]:
    """Who gets each of `tickets` tickets in a row, loads growing as they would."""
    by_id = {m.agent_id: m for m in members}
    picked: list[str] = []
    last = ""
    for _ in range(tickets):
        choice = choose_agent(strategy, by_id.values(), NONE, last)
        assert choice is not None
        current = by_id[choice]
        by_id[choice] = Candidate(
            choice, current.availability, current.capacity, current.load + 1, current.skills
        )
        picked.append(choice)
        last = choice
    return picked


def test_round_robin_takes_turns_in_id_order_and_wraps() -> None:
    members = [member("c"), member("a"), member("b")]
    assert rounds(RR, members, 7) == ["a", "b", "c", "a", "b", "c", "a"]


def test_round_robin_ignores_load() -> None:
    members = [member("a", load=9), member("b")]
    assert rounds(RR, members, 4) == ["a", "b", "a", "b"]


def test_round_robin_resumes_after_the_last_turn_even_when_that_agent_left() -> None:
    members = [member("a"), member("c"), member("d")]
    assert choose_agent(RR, members, NONE, "b") == "c"
    assert choose_agent(RR, members, NONE, "d") == "a"
    assert choose_agent(RR, members, NONE, "zzz") == "a"
    assert choose_agent(RR, members, NONE, "") == "a"


def test_round_robin_skips_those_who_do_not_qualify_without_losing_fairness() -> None:
    members = [
        member("a"),
        member("b", availability=Availability.AWAY),
        member("c"),
        member("d", availability=Availability.OFFLINE),
    ]
    assert rounds(RR, members, 4) == ["a", "c", "a", "c"]


def test_least_loaded_picks_the_fewest_working_tickets() -> None:
    members = [member("a", load=3), member("b", load=1), member("c", load=2)]
    assert choose_agent(LL, members, NONE, "") == "b"
    # Fed one ticket after another, loads even out.
    picked = rounds(LL, members, 6)
    assert picked[:3] == ["b", "c", "b"]  # b and c tie at 2: c's turn comes after b
    final = Counter(picked) + Counter({"a": 3, "b": 1, "c": 2})
    assert final == Counter({"a": 4, "b": 4, "c": 4})


def test_least_loaded_ties_take_turns() -> None:
    members = [member("a", load=1), member("b", load=1), member("c", load=1)]
    assert choose_agent(LL, members, NONE, "") == "a"
    assert choose_agent(LL, members, NONE, "a") == "b"
    assert choose_agent(LL, members, NONE, "c") == "a"
    assert rounds(LL, [member("x"), member("y")], 4) == ["x", "y", "x", "y"]


def test_least_loaded_ignores_those_who_do_not_qualify() -> None:
    members = [
        member("a", load=0, availability=Availability.OFFLINE),
        member("b", load=2, capacity=2),
        member("c", load=5),
    ]
    assert choose_agent(LL, members, NONE, "") == "c"


@pytest.mark.parametrize("strategy", [RR, LL])
def test_capacity_counts_and_zero_means_no_limit(strategy: AssignmentStrategy) -> None:
    assert choose_agent(strategy, [member("a", capacity=2, load=2)], NONE, "") is None
    assert choose_agent(strategy, [member("a", capacity=2, load=1)], NONE, "") == "a"
    assert choose_agent(strategy, [member("a", capacity=0, load=500)], NONE, "") == "a"
    full = [member("a", capacity=1, load=1), member("b", capacity=1, load=0)]
    assert choose_agent(strategy, full, NONE, "") == "b"


@pytest.mark.parametrize("strategy", [RR, LL])
def test_only_online_agents_get_tickets(strategy: AssignmentStrategy) -> None:
    for availability in (Availability.AWAY, Availability.OFFLINE):
        assert choose_agent(strategy, [member("a", availability=availability)], NONE, "") is None
    assert choose_agent(strategy, [], NONE, "") is None


@pytest.mark.parametrize("strategy", [RR, LL])
def test_every_required_skill_is_needed(strategy: AssignmentStrategy) -> None:
    members = [
        member("a", skills=("spanish",)),
        member("b", skills=("billing", "spanish")),
        member("c", skills=("billing",)),
    ]
    needs = frozenset({"billing", "spanish"})
    assert choose_agent(strategy, members, needs, "") == "b"
    assert choose_agent(strategy, members, needs, "b") == "b"
    assert choose_agent(strategy, members, frozenset({"german"}), "") is None
    assert choose_agent(strategy, members, frozenset({"billing"}), "b") == "c"


def test_manual_groups_do_not_pick() -> None:
    with pytest.raises(ValueError, match="MANUAL"):
        choose_agent(AssignmentStrategy.MANUAL, [member("a")], NONE, "")


def test_next_in_turn() -> None:
    assert next_in_turn([], "a") is None
    assert next_in_turn(["a", "b"], "a") == "b"
    assert next_in_turn(["a", "b"], "b") == "a"


def test_required_skills_come_from_skill_tags() -> None:
    tags = ("vip", "skill:spanish", "skill:", "skills:x", "skill:billing")
    assert required_skills(tags) == {"spanish", "billing"}
    assert required_skills(()) == set()


def test_agent_details_are_normalised() -> None:
    agent = Agent.create(
        "ada",
        AgentDetails(
            display_name="  Ada Lovelace ",
            email=" Ada@Example.COM ",
            groups=("groups/tier1", "groups/billing", "groups/tier1"),
            skills=("Spanish", "billing", "spanish "),
            capacity=5,
        ),
        NOW,
    )
    details = agent.details
    assert details.display_name == "Ada Lovelace" and details.email == "ada@example.com"
    assert details.groups == ("groups/tier1", "groups/billing")
    assert details.skills == ("billing", "spanish")
    assert details.availability is Availability.OFFLINE
    assert agent.name == "agents/ada" and agent.version == 1


def test_agent_validation_names_every_bad_field() -> None:
    with pytest.raises(InvalidArgument) as raised:
        Agent.create(
            "Not An Id",
            AgentDetails(
                display_name=" ",
                email="nope",
                groups=("tier1", "groups/ok"),
                skills=("two words", "a,b", "", "x" * 59),
                capacity=-1,
            ),
            NOW,
        )
    fields = {v.field for v in raised.value.violations}
    assert fields == {
        "agent_id",
        "agent.display_name",
        "agent.email",
        "agent.groups[0]",
        "agent.skills[0]",
        "agent.skills[1]",
        "agent.skills[2]",
        "agent.skills[3]",
        "agent.capacity",
    }
    with pytest.raises(InvalidArgument) as missing:
        Agent.create("a", AgentDetails(display_name="A"), NOW)
    assert [v.field for v in missing.value.violations] == ["agent.email"]
    with pytest.raises(InvalidArgument):
        Agent.create("a", AgentDetails("A", "a@example.com", capacity=10_001), NOW)


def test_agent_update_reports_real_changes_only() -> None:
    agent = Agent.create("ada", AgentDetails("Ada", "ada@example.com", skills=("x",)), NOW)
    later = datetime(2026, 1, 6, tzinfo=UTC)
    assert agent.update({"skills": ("X",), "display_name": "Ada"}, later) == []
    assert agent.version == 1 and agent.update_time == NOW
    assert agent.update({"availability": Availability.ONLINE}, later) == ["availability"]
    assert agent.version == 2 and agent.update_time == later


def test_groups_are_validated_and_default_to_manual() -> None:
    group = Group.create("tier1", GroupDetails(" Tier 1 "), NOW)
    assert group.details.display_name == "Tier 1"
    assert group.details.assignment_strategy is AssignmentStrategy.MANUAL
    assert not group.details.assignment_strategy.automatic and RR.automatic and LL.automatic
    with pytest.raises(InvalidArgument) as raised:
        Group.create("-x", GroupDetails("", "d" * 2001), NOW)
    fields = {v.field for v in raised.value.violations}
    assert fields == {"group_id", "group.display_name", "group.description"}


def test_assign_requests_say_what_changes() -> None:
    details = TicketDetails(subject="s", tags=("vip", "skill:spanish"), group="groups/g")
    assert AssignmentRequest(agent="agents/a").changes(details) == {"assignee": "agents/a"}
    assert AssignmentRequest(agent="agents/a", group="groups/h").changes(details) == {
        "assignee": "agents/a",
        "group": "groups/h",
    }
    assert AssignmentRequest(group="groups/h").changes(details) == {"group": "groups/h"}
    auto = AssignmentRequest(auto=True, required_skills=("Billing", "spanish"))
    assert auto.changes(details) == {
        "group": "groups/g",
        "assignee": "",
        "tags": ("vip", "skill:spanish", "skill:billing"),
    }
    elsewhere = AssignmentRequest(group="groups/h", auto=True).changes(details)
    assert elsewhere["group"] == "groups/h"


@pytest.mark.parametrize(
    ("request_fields", "field"),
    [
        ({}, "agent"),
        ({"agent": "agents/a", "auto": True}, "agent"),
        ({"agent": "agents/a", "required_skills": ("x",)}, "required_skills"),
        ({"auto": True, "required_skills": ("two words",)}, "required_skills[0]"),
    ],
)
def test_bad_assign_requests(request_fields: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        AssignmentRequest(**request_fields)  # type: ignore[arg-type]
    assert field in {v.field for v in raised.value.violations}
