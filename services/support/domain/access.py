"""Which tickets a caller may see and work on.

Supervisors, admins and read-only users see every ticket. An agent sees the
tickets of their groups and those assigned to them, and nothing else: a
ticket outside that is refused exactly like one that does not exist, so an
agent learns nothing about tickets they may not see.
"""

from dataclasses import dataclass

from crm_common.filtering import And, Comparison, Expr, Op, Or
from crm_support.domain.tickets import Ticket


@dataclass(frozen=True)
class TicketAccess:
    """Every ticket when `groups` is None; otherwise the tickets of `groups`
    (`groups/{id}`) and those assigned to `agent` (`agents/{id}`)."""

    agent: str = ""
    groups: frozenset[str] | None = None

    @property
    def unrestricted(self) -> bool:
        return self.groups is None

    def allows(self, ticket: Ticket) -> bool:
        return self.allows_group(ticket.details.group) or (
            bool(self.agent) and ticket.details.assignee == self.agent
        )

    def allows_group(self, group: str) -> bool:
        return self.groups is None or group in self.groups

    def restrict(self, expr: Expr | None) -> Expr | None:
        """`expr` narrowed to the tickets this access allows."""
        if self.groups is None:
            return expr
        visible = Or(
            (
                *(Comparison("group", Op.EQ, group) for group in sorted(self.groups)),
                Comparison("assignee", Op.EQ, self.agent),
            )
        )
        return visible if expr is None else And((expr, visible))


EVERY_TICKET = TicketAccess()
