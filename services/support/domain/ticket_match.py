"""Whether one ticket in memory matches a checked AIP-160 ticket filter.

Triggers decide inside the change, before the ticket is saved, so they
cannot ask the database. The answer must be the one ListTickets would give
for the saved ticket, so this mirrors the SQL translation
(crm_common/storage/filter_sql.py with the bindings of storage/tickets.py)
rather than what a filter might "naturally" mean:

- each field is compared in its stored form: resource names as bare ids
  (`requester = "people/7"` compares "7"; "" when unset, which is never
  NULL, so `assignee = null` matches nothing), enums as their numbers;
- a comparison with a missing value (an unset timestamp) is false, and NOT
  is its exact complement;
- `field:*` is "set": not NULL, and for strings also not empty;
- `tags:"VIP"` compares lower-cased, as tags are stored; `links:` exactly.

The evaluation itself is crm_common/filter_match.py's, shared with sales.
"""

from collections.abc import Callable

from crm_common.filter_match import RecordFields, Repeated, Scalar
from crm_common.filtering import Expr
from crm_support.domain.tickets import (
    AGENTS,
    GROUPS,
    ORGANIZATIONS,
    PEOPLE,
    SLA_POLICIES,
    Ticket,
)


def _id(prefix: str, name_of: Callable[[Ticket], str]) -> Scalar[Ticket]:
    """A resource name, stored as its bare id ("" when unset)."""
    return Scalar(lambda t: name_of(t).removeprefix(prefix), lambda v: v.removeprefix(prefix))


TICKET_FIELDS: RecordFields[Ticket] = RecordFields(
    scalars={
        "number": Scalar(lambda t: t.number),
        "status": Scalar(lambda t: int(t.status)),
        "priority": Scalar(lambda t: int(t.details.priority)),
        "type": Scalar(lambda t: int(t.details.type)),
        "channel": Scalar(lambda t: int(t.channel)),
        "requester": _id(PEOPLE, lambda t: t.details.requester),
        "organization": _id(ORGANIZATIONS, lambda t: t.details.organization),
        "assignee": _id(AGENTS, lambda t: t.details.assignee),
        "group": _id(GROUPS, lambda t: t.details.group),
        "sla_policy": _id(SLA_POLICIES, lambda t: t.sla_policy),
        "create_time": Scalar(lambda t: t.create_time),
        "update_time": Scalar(lambda t: t.update_time),
        "sla_due_time": Scalar(lambda t: t.sla_due_time),
        "first_response_time": Scalar(lambda t: t.first_response_time),
        "solve_time": Scalar(lambda t: t.solve_time),
    },
    repeated={
        "tags": Repeated(lambda t: t.details.tags, str.lower),
        "links": Repeated(lambda t: t.details.links),
    },
)

# Every tickets FILTER_SCHEMA field must be here; a unit test holds them together.
SUPPORTED_FIELDS = TICKET_FIELDS.names


def matches(expr: Expr | None, ticket: Ticket) -> bool:
    """Whether `ticket` satisfies a filter checked against the tickets' FILTER_SCHEMA."""
    return TICKET_FIELDS.matches(expr, ticket)
