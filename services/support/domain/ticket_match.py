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

String ordering (`<`, `>`) is by code point, as on SQLite; PostgreSQL orders
by the database's collation.
"""

import operator
from collections.abc import Callable
from datetime import datetime
from typing import Any

from crm_common.filtering import And, Comparison, Expr, Has, Not, Op, Or
from crm_support.domain.tickets import (
    AGENTS,
    GROUPS,
    ORGANIZATIONS,
    PEOPLE,
    SLA_POLICIES,
    Ticket,
)

_COMPARE: dict[Op, Callable[[Any, Any], bool]] = {
    Op.EQ: operator.eq,
    Op.NE: operator.ne,
    Op.LT: operator.lt,
    Op.LE: operator.le,
    Op.GT: operator.gt,
    Op.GE: operator.ge,
}

Stored = str | int | datetime | None


def _id(prefix: str, value: str) -> str:
    return value.removeprefix(prefix)


# Each scalar field: its stored value, and how a client's value is put in
# the same form (the storage bindings' NormalisedValue).
_SCALARS: dict[str, tuple[Callable[[Ticket], Stored], Callable[[str], str] | None]] = {
    "number": (lambda t: t.number, None),
    "status": (lambda t: int(t.status), None),
    "priority": (lambda t: int(t.details.priority), None),
    "type": (lambda t: int(t.details.type), None),
    "channel": (lambda t: int(t.channel), None),
    "requester": (lambda t: _id(PEOPLE, t.details.requester), lambda v: _id(PEOPLE, v)),
    "organization": (
        lambda t: _id(ORGANIZATIONS, t.details.organization),
        lambda v: _id(ORGANIZATIONS, v),
    ),
    "assignee": (lambda t: _id(AGENTS, t.details.assignee), lambda v: _id(AGENTS, v)),
    "group": (lambda t: _id(GROUPS, t.details.group), lambda v: _id(GROUPS, v)),
    "sla_policy": (lambda t: _id(SLA_POLICIES, t.sla_policy), lambda v: _id(SLA_POLICIES, v)),
    "create_time": (lambda t: t.create_time, None),
    "update_time": (lambda t: t.update_time, None),
    "sla_due_time": (lambda t: t.sla_due_time, None),
    "first_response_time": (lambda t: t.first_response_time, None),
    "solve_time": (lambda t: t.solve_time, None),
}

# Each repeated field: its values, and how a client's value is put in their form.
_REPEATED: dict[str, tuple[Callable[[Ticket], tuple[str, ...]], Callable[[str], str]]] = {
    "tags": (lambda t: t.details.tags, str.lower),
    "links": (lambda t: t.details.links, lambda v: v),
}


# Every tickets FILTER_SCHEMA field must be here; a unit test holds them together.
SUPPORTED_FIELDS = frozenset(_SCALARS) | frozenset(_REPEATED)


def matches(expr: Expr | None, ticket: Ticket) -> bool:
    """Whether `ticket` satisfies a filter checked against the tickets' FILTER_SCHEMA."""
    match expr:
        case None:
            return True
        case And(terms):
            return all(matches(term, ticket) for term in terms)
        case Or(terms):
            return any(matches(term, ticket) for term in terms)
        case Not(inner):
            return not matches(inner, ticket)
        case Comparison():
            return _compare(expr, ticket)
        case Has():
            return _has(expr, ticket)
    raise TypeError(f"not a filter expression: {expr!r}")


def _compare(node: Comparison, ticket: Ticket) -> bool:
    if node.field not in _SCALARS:
        raise LookupError(f"{node.field!r} cannot be compared in memory")
    stored_of, normalise = _SCALARS[node.field]
    stored = stored_of(ticket)
    if node.value is None:
        return (stored is None) == (node.op is Op.EQ)
    if stored is None:
        return False
    value = normalise(node.value) if normalise and isinstance(node.value, str) else node.value
    return _COMPARE[node.op](stored, value)


def _has(node: Has, ticket: Ticket) -> bool:
    if node.field in _REPEATED:
        values_of, normalise = _REPEATED[node.field]
        values = values_of(ticket)
        if node.value is None:
            return bool(values)
        return normalise(str(node.value)) in values
    if node.field not in _SCALARS or node.value is not None:
        raise LookupError(f"{node.field!r}: cannot be tested in memory")
    stored = _SCALARS[node.field][0](ticket)
    # Unset strings are stored empty (proto3 has no presence for them).
    return stored is not None and stored != ""
