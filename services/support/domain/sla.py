"""SLA clocks: which policy applies to a ticket, and where each of its targets stands.

`measure` is called after every change to a ticket and works from the ticket's
state, so calling it twice changes nothing. A target's clock is kept as the
business time left (`remaining_seconds`) when it last started (`resume_time`);
its due and warning times follow from those and the policy's calendar, so a
calendar edited meanwhile is honoured the next time the ticket changes.

Decided here, once:

- First response and resolution run from the ticket's creation, also when a
  policy starts to apply later. Next response starts at a requester's public
  comment once an agent has replied publicly, and is met by the next public
  agent reply; the next such comment starts a new cycle with fresh
  announcements.
- Solving (or closing) meets every target still open. Reopening a solved
  ticket resumes the resolution clock with the business time it had left at
  the solve: time spent solved does not count, a breach stays a breach.
- PENDING and ON_HOLD stop every clock; working the ticket again restarts
  them with the business time they had left.
- A target is breached once its due time passes unmet, and stays breached.
- When the policy changes (or its targets), met targets stay as they are; the
  others take the new target and keep the business time already used, and
  keep their breach and announcement flags, so nothing is announced twice.
  Metrics the new policy does not measure are dropped unless met.
- The warning is due when the remaining business time falls to the policy's
  warning lead. A target already breached is not warned about.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum

from crm_support.domain.business_hours import (
    BusinessCalendar,
    add_business_time,
    business_time_between,
)
from crm_support.domain.sla_policies import SlaPolicy
from crm_support.domain.sla_state import SlaMetric, SlaTarget
from crm_support.domain.tickets import Ticket, TicketStatus

PAUSING_STATUSES = frozenset({TicketStatus.PENDING, TicketStatus.ON_HOLD})
DONE_STATUSES = frozenset({TicketStatus.SOLVED, TicketStatus.CLOSED})
_ZERO = timedelta(0)


def match_policy(policies: Iterable[SlaPolicy], ticket: Ticket) -> SlaPolicy | None:
    """The first policy, by position then id, whose conditions the ticket meets."""
    for policy in sorted(policies, key=lambda p: (p.spec.position, p.id)):
        if policy.spec.conditions.matches(ticket):
            return policy
    return None


@dataclass(frozen=True)
class SlaTerms:
    """What the applying policy promises, with its calendar ready for arithmetic."""

    policy: str
    targets: Mapping[SlaMetric, int]
    warning_lead_seconds: int
    calendar: BusinessCalendar

    @classmethod
    def of(cls, policy: SlaPolicy, calendar: BusinessCalendar) -> "SlaTerms":
        lead = int(policy.spec.warning_lead.total_seconds())
        return cls(policy.name, policy.spec.targets.seconds(), lead, calendar)


@dataclass(frozen=True)
class PublicReplies:
    """The public comments a change added, which is all the next-response clock needs."""

    # Whether an agent had replied publicly before this change.
    agent_had_replied: bool = False
    # In the order added: True for an agent's comment, False for the requester's.
    by_agent: tuple[bool, ...] = ()


@dataclass(frozen=True)
class SlaState:
    policy: str
    targets: tuple[SlaTarget, ...]
    # When the scheduler must next look: a warning or a breach falls due, or
    # a breach is still to be announced. None when nothing is pending.
    check_time: datetime | None


def measure(
    ticket: Ticket, terms: SlaTerms | None, replies: PublicReplies, now: datetime
) -> SlaState:
    """The ticket's SLA state after a change, at `now`, under `terms` (None: no policy)."""
    if terms is None:
        kept = tuple(target for target in ticket.sla_targets if target.fulfilled)
        return SlaState("", kept, next_check_time(kept, now))
    clock = _Clock(terms.calendar, timedelta(seconds=terms.warning_lead_seconds), now)
    existing = {target.metric: target for target in ticket.sla_targets}
    tracked = (
        _track(metric, existing.get(metric), terms.targets.get(metric), ticket, replies, clock)
        for metric in SlaMetric
    )
    targets = tuple(target for target in tracked if target is not None)
    return SlaState(terms.policy, targets, next_check_time(targets, now))


def next_check_time(targets: Iterable[SlaTarget], now: datetime) -> datetime | None:
    moments: list[datetime] = []
    for target in targets:
        if target.breached and not target.breach_sent:
            moments.append(target.due_time or now)
        elif target.running and not target.breached and target.due_time is not None:
            moments.append(target.due_time)
            if target.warning_time is not None and not target.warning_sent:
                moments.append(target.warning_time)
    return min(moments, default=None)


class SlaAlert(Enum):
    WARNING = "warning"
    BREACH = "breach"


@dataclass(frozen=True)
class Announcement:
    alert: SlaAlert
    # The target as marked announced.
    target: SlaTarget


def announce(
    targets: Sequence[SlaTarget], now: datetime
) -> tuple[tuple[SlaTarget, ...], list[Announcement]]:
    """The targets with what is due at `now` marked announced, and the announcements.

    A breach is announced once per target, a warning once per target that is
    not yet due.
    """
    marked: list[SlaTarget] = []
    announcements: list[Announcement] = []
    for target in targets:
        overdue = target.running and target.due_time is not None and target.due_time <= now
        warn_at = target.warning_time
        if not target.breach_sent and (target.breached or overdue):
            target = replace(target, breached=True, breach_sent=True)
            announcements.append(Announcement(SlaAlert.BREACH, target))
        elif (
            target.running
            and not target.breached
            and not target.warning_sent
            and warn_at is not None
            and warn_at <= now
        ):
            target = replace(target, warning_sent=True)
            announcements.append(Announcement(SlaAlert.WARNING, target))
        marked.append(target)
    return tuple(marked), announcements


def calls_for_escalation(announcements: Iterable[Announcement]) -> bool:
    """Whether a target still unmet was breached: one met late is reported, not escalated."""
    return any(a.alert is SlaAlert.BREACH and not a.target.fulfilled for a in announcements)


# --- One target ---------------------------------------------------------------


def _track(
    metric: SlaMetric,
    target: SlaTarget | None,
    seconds: int | None,
    ticket: Ticket,
    replies: PublicReplies,
    clock: "_Clock",
) -> SlaTarget | None:
    if seconds is None:
        return target if target is not None and target.fulfilled else None
    done = ticket.status in DONE_STATUSES
    if target is not None and not target.fulfilled:
        target = clock.retarget(target, seconds)
    if metric is SlaMetric.NEXT_RESPONSE:
        target = _converse(target, seconds, replies, clock, done)
    elif target is None:
        first_response_given = (
            metric is SlaMetric.FIRST_RESPONSE and ticket.first_response_time is not None
        )
        if not done and not first_response_given:
            target = clock.start(metric, seconds, ticket.create_time)
    elif metric is SlaMetric.RESOLUTION and target.fulfilled and not done:
        target = clock.reopen(clock.retarget(target, seconds))
    if target is None or target.fulfilled:
        return target
    if metric is SlaMetric.FIRST_RESPONSE and ticket.first_response_time is not None:
        return clock.fulfil(target, ticket.first_response_time)
    if done:
        return clock.fulfil(target, clock.now)
    if ticket.status in PAUSING_STATUSES:
        return clock.pause(target)
    return clock.refresh(clock.resume(target))


def _converse(
    target: SlaTarget | None,
    seconds: int,
    replies: PublicReplies,
    clock: "_Clock",
    done: bool,
) -> SlaTarget | None:
    """Next response: a requester's comment after an agent's reply starts a cycle,
    the next agent reply meets it."""
    agent_replied = replies.agent_had_replied
    for by_agent in replies.by_agent:
        if by_agent:
            if target is not None and not target.fulfilled:
                target = clock.fulfil(target, clock.now)
            agent_replied = True
        elif agent_replied and not done and (target is None or target.fulfilled):
            target = clock.start(SlaMetric.NEXT_RESPONSE, seconds, clock.now)
    return target


@dataclass(frozen=True)
class _Clock:
    """Moves targets on the policy's calendar; a running target has a resume_time."""

    calendar: BusinessCalendar
    warning_lead: timedelta
    now: datetime

    def start(self, metric: SlaMetric, seconds: int, at: datetime) -> SlaTarget:
        return SlaTarget(metric, seconds, remaining_seconds=seconds, resume_time=at)

    def retarget(self, target: SlaTarget, seconds: int) -> SlaTarget:
        """A new target keeps the business time already used."""
        if target.target_seconds == seconds:
            return target
        remaining = target.remaining_seconds + seconds - target.target_seconds
        return replace(target, target_seconds=seconds, remaining_seconds=max(remaining, 0))

    def reopen(self, target: SlaTarget) -> SlaTarget:
        return replace(target, fulfill_time=None, resume_time=self.now)

    def fulfil(self, target: SlaTarget, at: datetime) -> SlaTarget:
        return replace(self._stop(target, at), fulfill_time=at, paused=False)

    def pause(self, target: SlaTarget) -> SlaTarget:
        return replace(self._stop(target, self.now), paused=True, due_time=None)

    def resume(self, target: SlaTarget) -> SlaTarget:
        if not target.paused:
            return target
        return replace(target, paused=False, resume_time=self.now)

    def refresh(self, target: SlaTarget) -> SlaTarget:
        """Due and warning times of a running target, and whether it is breached by now."""
        due = self._due(target)
        warning = None
        if self.warning_lead:
            ahead = max(timedelta(seconds=target.remaining_seconds) - self.warning_lead, _ZERO)
            warning = add_business_time(self.calendar, self._started(target), ahead)
        return replace(
            target,
            due_time=due,
            warning_time=warning,
            breached=target.breached or due <= self.now,
        )

    def _stop(self, target: SlaTarget, at: datetime) -> SlaTarget:
        """The clock stops at `at`: the business time it ran comes off the time left."""
        if target.resume_time is None:
            return target
        due = self._due(target)
        ran = business_time_between(self.calendar, target.resume_time, at)
        remaining = max(target.remaining_seconds - int(ran.total_seconds()), 0)
        return replace(
            target,
            remaining_seconds=remaining,
            resume_time=None,
            warning_time=None,
            due_time=due,
            breached=target.breached or due <= at,
        )

    def _due(self, target: SlaTarget) -> datetime:
        remaining = timedelta(seconds=target.remaining_seconds)
        return add_business_time(self.calendar, self._started(target), remaining)

    @staticmethod
    def _started(target: SlaTarget) -> datetime:
        assert target.resume_time is not None, "only a running clock has a due time"
        return target.resume_time
