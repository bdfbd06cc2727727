"""Saved views of tickets and the agent queue: plain data and rules.

A view keeps its filter as written, placeholders included, and is checked
when saved by expanding and parsing it exactly as a request later will; so a
saved view can always run.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from crm_common.errors import InvalidArgument, Violations
from crm_common.filtering import And, Comparison, Expr, Op, Or, parse_filter
from crm_common.pagination import SortKey, parse_order_by
from crm_common.resources import id_from_name
from crm_common.validation import check_id, check_length
from crm_support.domain.filter_placeholders import expand, has_me
from crm_support.domain.tickets import (
    AGENTS,
    DEFAULT_ORDER,
    FILTER_SCHEMA,
    SORTABLE,
    TicketStatus,
    is_resource_name,
)

VIEWS = "views/"
DISPLAY_NAME_MAX = 100
ORDER_BY_MAX = 500
BATCH_COUNT_MAX = 100
POSITION_MAX = 2**31 - 1  # the contract's int32
# Counting stops here: beyond it an agent learns nothing from the exact figure,
# and a count's cost stays bounded however many tickets a view matches.
COUNT_LIMIT = 10_000
UPDATABLE_FIELDS = ("display_name", "filter", "order_by", "owner", "position")

# What an agent works now: tickets waiting on the requester (PENDING) or on a
# third party (ON_HOLD) have their SLA clocks paused and are not in the queue.
QUEUE_STATUSES = (TicketStatus.NEW, TicketStatus.OPEN)
# Nearest SLA due time first (tickets without a running target sort last, see
# storage), then the most urgent, then the longest waiting.
QUEUE_ORDER = (
    SortKey("sla_due_time"),
    SortKey("priority", descending=True),
    SortKey("create_time"),
    SortKey("id"),
)


@dataclass(frozen=True)
class ViewDetails:
    """The writable part of a view."""

    display_name: str = ""
    # AIP-160 over the ticket filter fields, with placeholders (@me, @now...).
    filter: str = ""
    order_by: str = ""
    # `agents/{id}` for a personal view; empty for a shared one.
    owner: str = ""
    position: int = 0


@dataclass(frozen=True)
class TicketQuery:
    """What a view asks of the tickets at one moment, for one agent."""

    expr: Expr | None
    keys: tuple[SortKey, ...]


@dataclass
class View:
    id: str
    details: ViewDetails
    create_time: datetime
    update_time: datetime
    version: int = 1

    @property
    def name(self) -> str:
        return f"{VIEWS}{self.id}"

    @classmethod
    def create(cls, view_id: str, details: ViewDetails, now: datetime) -> "View":
        violations = Violations()
        check_id(violations, "view_id", view_id)
        details = normalise(details, now, violations)
        violations.raise_if_any()
        return cls(view_id, details, now, now)

    def update(self, changes: dict[str, Any], now: datetime) -> list[str]:
        """Applies the changed fields; returns the names of those that really changed."""
        violations = Violations()
        merged = normalise(replace(self.details, **changes), now, violations)
        violations.raise_if_any()
        changed = [name for name in changes if getattr(merged, name) != getattr(self.details, name)]
        if changed:
            self.details = merged
            self.update_time = now
            self.version += 1
        return changed

    def looker(self, agent: str) -> str:
        """Whom `@me` stands for: the agent given, else a personal view's owner."""
        return agent or self.details.owner

    def query(self, now: datetime, agent: str) -> TicketQuery:
        """The view's filter and order as of `now`, for `agent` (`agents/{id}` or empty).

        INVALID_ARGUMENT on `agent` when the filter uses `@me` and nobody is looking.
        """
        me = self.looker(agent)
        if not me and has_me(self.details.filter):
            raise InvalidArgument.single(
                "agent", f"is required: {self.name} uses @me, the agent looking"
            )
        text = expand(self.details.filter, now, me)
        return TicketQuery(parse_filter(text, FILTER_SCHEMA), _order(self.details.order_by))

    def query_identity(self, agent: str) -> dict[str, str]:
        """What a page token of this view is bound to: the view, its query as
        saved, and the agent when the answer depends on who looks."""
        me = self.looker(agent) if has_me(self.details.filter) else ""
        return {
            "view": self.id,
            "filter": self.details.filter,
            "order_by": self.details.order_by,
            "me": me,
        }


def normalise(details: ViewDetails, now: datetime, violations: Violations) -> ViewDetails:
    display_name = details.display_name.strip()
    if not display_name:
        violations.add("view.display_name", "is required")
    check_length(violations, "view.display_name", display_name, DISPLAY_NAME_MAX)
    if details.owner:
        _check_owner(details.owner, violations)
    _check_filter(details.filter, now, violations)
    order_by = details.order_by.strip()
    if len(order_by) > ORDER_BY_MAX:
        violations.add("view.order_by", f"is longer than {ORDER_BY_MAX} characters")
    else:
        _collect(violations, "view.order_by", lambda: _order(order_by))
    return replace(
        details, display_name=display_name, filter=details.filter.strip(), order_by=order_by
    )


def _check_owner(owner: str, violations: Violations) -> None:
    owner_id = id_from_name(owner, AGENTS)
    if owner_id is None:
        violations.add("view.owner", "must be empty (shared) or like agents/123")
    else:
        check_id(violations, "view.owner", owner_id)


def _check_filter(text: str, now: datetime, violations: Violations) -> None:
    # Any agent will do: what matters is that the text parses once filled in.
    _collect(
        violations,
        "view.filter",
        lambda: parse_filter(
            expand(text, now, me=f"{AGENTS}-", field="view.filter"), FILTER_SCHEMA
        ),
    )


def _collect(violations: Violations, field: str, check: Callable[[], object]) -> None:
    """Runs `check`, keeping its violations under `field` (the request's path)."""
    try:
        check()
    except InvalidArgument as error:
        for violation in error.violations:
            violations.add(field, violation.description)


def _order(order_by: str) -> tuple[SortKey, ...]:
    return parse_order_by(order_by, SORTABLE, default=DEFAULT_ORDER)


def queue_filter(agent: str, groups: Sequence[str]) -> Expr:
    """The agent's queue: working tickets assigned to `agent`, and the unassigned
    ones it may take: those of one of its `groups` (`groups/{id}`) or of none."""
    takeable = (Comparison("group", Op.EQ, ""), *(Comparison("group", Op.EQ, g) for g in groups))
    mine = (Comparison("assignee", Op.EQ, agent),)
    unassigned = (Comparison("assignee", Op.EQ, ""), _any(takeable))
    # One alternative per (assignee, status), each read from one range of
    # ix_tickets_queue on PostgreSQL; a condition common to all of them would
    # be factored out by the planner and scanned for every working ticket.
    return Or(
        tuple(
            And((*who, Comparison("status", Op.EQ, int(status))))
            for who in (mine, unassigned)
            for status in QUEUE_STATUSES
        )
    )


def _any(terms: tuple[Expr, ...]) -> Expr:
    return terms[0] if len(terms) == 1 else Or(terms)


def check_batch(names: Sequence[str]) -> list[str]:
    """The view ids of a batch of names; INVALID_ARGUMENT naming each bad entry."""
    violations = Violations()
    if not names:
        violations.add("names", f"is required: name 1 to {BATCH_COUNT_MAX} views")
    if len(names) > BATCH_COUNT_MAX:
        violations.add("names", f"has more than {BATCH_COUNT_MAX} entries")
    ids = []
    for index, name in enumerate(names):
        if not is_resource_name(name, VIEWS):
            violations.add(f"names[{index}]", f"{name!r} is not like views/my-open")
        ids.append(name.removeprefix(VIEWS))
    violations.raise_if_any()
    return ids


def check_agent(agent: str, *, required: bool = False) -> None:
    """The `agent` of a request: `agents/{id}`, or empty unless `required`."""
    if required and not agent:
        raise InvalidArgument.single("agent", "is required, like agents/123")
    if agent and not is_resource_name(agent, AGENTS):
        raise InvalidArgument.single("agent", f"{agent!r} is not like agents/123")
