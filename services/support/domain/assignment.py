"""Who gets a ticket: the choice automatic assignment makes, and what an
explicit AssignTicket request changes on the ticket. Pure logic, no I/O."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from crm_common.errors import Violations
from crm_support.domain.agents import (
    AssignmentStrategy,
    Availability,
    normalise_skills,
    skill_tags,
)
from crm_support.domain.tickets import TicketDetails


@dataclass(frozen=True)
class Candidate:
    """A member of a group as automatic assignment sees it."""

    agent_id: str
    availability: Availability
    # 0: no limit.
    capacity: int
    # Working tickets assigned now.
    load: int
    skills: frozenset[str]

    def qualifies(self, required: frozenset[str]) -> bool:
        """Online, with room for one more ticket and every required skill."""
        has_room = self.capacity == 0 or self.load < self.capacity
        return self.availability is Availability.ONLINE and has_room and required <= self.skills


def choose_agent(
    strategy: AssignmentStrategy,
    candidates: Iterable[Candidate],
    required: frozenset[str],
    last_turn: str,
) -> str | None:
    """The agent id the strategy picks among the qualifying candidates, or None.

    `last_turn` is the agent who got the group's previous ticket (empty at
    first): turns go round in agent id order from there, so that every
    member comes up in turn even as members join and leave. LEAST_LOADED
    takes turns among those with the fewest working tickets.
    """
    if not strategy.automatic:
        raise ValueError(f"{strategy.name} does not pick agents")
    qualified = [c for c in candidates if c.qualifies(required)]
    if strategy is AssignmentStrategy.LEAST_LOADED and qualified:
        fewest = min(c.load for c in qualified)
        qualified = [c for c in qualified if c.load == fewest]
    return next_in_turn(sorted(c.agent_id for c in qualified), last_turn)


def next_in_turn(agent_ids: Sequence[str], last_turn: str) -> str | None:
    """The first id after `last_turn` in the sorted `agent_ids`, wrapping around."""
    if not agent_ids:
        return None
    return next((agent_id for agent_id in agent_ids if agent_id > last_turn), agent_ids[0])


@dataclass(frozen=True)
class AssignmentRequest:
    """What an AssignTicket call asks for, its names checked."""

    agent: str = ""
    group: str = ""
    auto: bool = False
    required_skills: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        violations = Violations()
        if not (self.agent or self.group or self.auto):
            violations.add("agent", "name an agent, a group, or set auto")
        if self.auto and self.agent:
            violations.add("agent", "must be empty when auto is set: the group's strategy picks")
        if self.required_skills and not self.auto:
            violations.add("required_skills", "apply only when auto is set")
        skills = normalise_skills(self.required_skills, violations, "required_skills")
        violations.raise_if_any()
        object.__setattr__(self, "required_skills", skills)

    def changes(self, details: TicketDetails) -> dict[str, Any]:
        """The ticket fields to update. With auto the assignee is left empty
        for the group's strategy to fill, and the required skills join the tags."""
        if self.auto:
            tags = tuple(dict.fromkeys((*details.tags, *skill_tags(self.required_skills))))
            return {"group": self.group or details.group, "assignee": "", "tags": tags}
        changes = {"assignee": self.agent} if self.agent else {}
        return changes | ({"group": self.group} if self.group else {})
