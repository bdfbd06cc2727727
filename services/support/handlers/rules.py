"""The rules every ticket change goes through, in order.

Triggers act first, assignment then fills in who works the ticket, and the
SLA clocks last measure the ticket as the others left it.
"""

from crm_support.handlers.change import TicketRule

RULES: list[TicketRule] = []
