"""The rules every ticket change goes through, in order.

The requester is resolved from its address before anything else (triggers may
test it), triggers act next, assignment then fills in who works the ticket, and the
SLA clocks last measure the ticket as the others left it.
"""

from crm_support.handlers.assignment import assignment_rule
from crm_support.handlers.change import TicketRule
from crm_support.handlers.requester_by_email import resolve_requester
from crm_support.handlers.sla import track_sla
from crm_support.handlers.triggers import run_triggers

RULES: list[TicketRule] = [resolve_requester, run_triggers, assignment_rule, track_sla]
