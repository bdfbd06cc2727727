"""What the ticket rules (triggers, assignment, SLA) are given about a change."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from crm_common.messaging.envelope import OutgoingEvent
from crm_support.domain.comments import Comment
from crm_support.domain.tickets import Ticket


@dataclass
class TicketChange:
    """What happened to one ticket in this unit of work."""

    session: AsyncSession
    now: datetime
    # The ticket as it was read; None when it is being created.
    before: Ticket | None
    # Field paths that changed; rules that change more append to it.
    changed_fields: list[str] = field(default_factory=list)
    # The comment this change added, if any (rules may add their own below).
    comment: Comment | None = None
    added_comments: list[Comment] = field(default_factory=list)
    # Events a rule announces beyond the ticket's own.
    events: list[OutgoingEvent] = field(default_factory=list)

    @property
    def created(self) -> bool:
        return self.before is None

    def record(self, *fields: str) -> None:
        """Notes fields a rule changed."""
        self.changed_fields.extend(f for f in fields if f not in self.changed_fields)


# A rule sees the ticket after the change and may change it further.
TicketRule = Callable[[Ticket, TicketChange], Awaitable[None]]
