"""The SLA rule: after every change, the ticket's policy, targets and next check.

Policies and calendars are read in the change's own transaction each time, so
every replica measures by what is stored now; only the calendar arithmetic is
cached, keyed by the calendar's content (see sla_calendars.business_calendar).
"""

from crm_common.errors import Aborted
from crm_support.domain.sla import PublicReplies, SlaTerms, match_policy, measure
from crm_support.domain.tickets import Ticket
from crm_support.handlers.change import TicketChange
from crm_support.storage.sla import CalendarRepository, SlaPolicyRepository


async def track_sla(ticket: Ticket, change: TicketChange) -> None:
    """A ticket rule: keeps `sla_policy`, `sla_targets` and `sla_check_time` current."""
    terms = await _terms_for(ticket, change)
    if terms is None and not ticket.sla_targets and not ticket.sla_policy:
        return
    state = measure(ticket, terms, _public_replies(change), change.now)
    if state.policy != ticket.sla_policy:
        ticket.sla_policy = state.policy
        change.record("sla_policy")
    if state.targets != ticket.sla_targets:
        ticket.sla_targets = state.targets
        change.record("sla_targets")
    ticket.sla_check_time = state.check_time


async def _terms_for(ticket: Ticket, change: TicketChange) -> SlaTerms | None:
    policy = match_policy(await SlaPolicyRepository(change.session).all_in_order(), ticket)
    if policy is None:
        return None
    calendar = await CalendarRepository(change.session).get(policy.calendar_id)
    if calendar is None:  # the policy moved to another calendar and this one went
        raise Aborted(f"{policy.name} changed while {ticket.name} was measured; retry")
    return SlaTerms.of(policy, calendar.business_calendar(change.now))


def _public_replies(change: TicketChange) -> PublicReplies:
    added = [c for c in (change.comment, *change.added_comments) if c is not None and c.public]
    before = change.before
    return PublicReplies(
        agent_had_replied=before is not None and before.first_response_time is not None,
        by_agent=tuple(c.by_agent for c in added),
    )
