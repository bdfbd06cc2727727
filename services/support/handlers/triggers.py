"""The trigger rule: active triggers act on a ticket as it is created or updated.

It runs first among the ticket rules (handlers/rules.py), inside the change,
so its actions are part of the change the other rules and the events see.
Each matching trigger applies once, in position order, on the ticket as the
triggers before it left it; what triggers change does not run them again.
"""

import logging
import uuid

from crm_common.errors import FailedPrecondition, InvalidArgument
from crm_support.domain.actions import apply_actions
from crm_support.domain.automation import Trigger, TriggerEvent, parse_condition
from crm_support.domain.ticket_match import matches
from crm_support.domain.tickets import Ticket
from crm_support.handlers.action_lookups import action_context, references_exist
from crm_support.handlers.change import TicketChange
from crm_support.storage.automation import trigger_repository

log = logging.getLogger(__name__)


async def run_triggers(ticket: Ticket, change: TicketChange) -> None:
    event = TriggerEvent.CREATE if change.created else TriggerEvent.UPDATE
    for trigger in await trigger_repository(change.session).active():
        if trigger.fires_on(event) and _condition_holds(trigger, ticket, change):
            await _apply(trigger, ticket, change)


def _condition_holds(trigger: Trigger, ticket: Ticket, change: TicketChange) -> bool:
    try:
        condition = parse_condition(trigger.condition, change.now, "trigger.condition")
    except InvalidArgument as error:
        # Checked when saved; only a filter field since withdrawn gets here,
        # and one stale trigger must not stop every ticket from changing.
        log.error("trigger condition no longer parses", extra=_about(trigger, ticket, error))
        return False
    return matches(condition, ticket)


async def _apply(trigger: Trigger, ticket: Ticket, change: TicketChange) -> None:
    if not await references_exist(change.session, trigger.actions):
        # Checked when saved, but groups and agents can be deleted since;
        # assigning to one would refuse the whole change.
        log.warning("trigger names a group or agent that is gone", extra=_about(trigger, ticket))
        return
    context = await action_context(change.session, ticket, trigger.actions, automated=True)
    try:
        applied = apply_actions(
            ticket, trigger.actions, context, change.now, lambda: uuid.uuid4().hex
        )
    except (FailedPrecondition, InvalidArgument) as error:
        # The change itself is the agent's or customer's and valid; a trigger
        # that cannot act on this ticket (say, a transition it does not allow)
        # is skipped for it rather than refusing their change.
        log.warning("trigger skipped", extra=_about(trigger, ticket, error))
        return
    change.record(*applied.changed_fields)
    change.added_comments.extend(applied.comments)


def _about(trigger: Trigger, ticket: Ticket, error: Exception | None = None) -> dict[str, str]:
    about = {"trigger": trigger.name, "ticket": ticket.name}
    return about if error is None else {**about, "reason": str(error)}
