"""Tickets: plain data, validation and the status state machine."""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import IntEnum
from typing import Any

from crm_common.errors import AlreadyExists, FailedPrecondition, Violations
from crm_common.filtering import FilterField, FilterSchema
from crm_common.pagination import SortKey
from crm_common.validation import (
    apply_changes,
    check_count,
    check_id,
    check_length,
    is_email_address,
    normalise_custom_fields,
    normalise_email,
    normalise_tags,
)
from crm_support.domain.attachments import Attachment, check_attachments
from crm_support.domain.sla_state import SlaTarget, nearest_due_time

SUBJECT_MAX = 250
DESCRIPTION_MAX = 100_000
FOLLOWERS_MAX = 100
USER_ID_MAX = 128
PEOPLE = "people/"
ORGANIZATIONS = "organizations/"
AGENTS = "agents/"
GROUPS = "groups/"
SLA_POLICIES = "slaPolicies/"
TICKETS = "tickets/"
OPPORTUNITIES = "opportunities/"
LINKS_MAX = 50
SATISFACTION_COMMENT_MAX = 10_000
# As long as a person's given name may be in the contacts service.
REQUESTER_NAME_MAX = 200

_USER_ID = re.compile(r"[^\s/]+")
_TASK = re.compile(r"projects/[^\s/]+/tasks/[^\s/]+")


# Numbered as the contract numbers them, so that sorting by priority or
# status follows urgency and progress rather than the alphabet.
class TicketStatus(IntEnum):
    NEW = 1
    OPEN = 2
    PENDING = 3
    ON_HOLD = 4
    SOLVED = 5
    CLOSED = 6


class Priority(IntEnum):
    LOW = 1
    NORMAL = 2
    HIGH = 3
    URGENT = 4


class TicketType(IntEnum):
    UNSPECIFIED = 0
    QUESTION = 1
    INCIDENT = 2
    PROBLEM = 3
    TASK = 4


class Channel(IntEnum):
    EMAIL = 1
    WEB = 2
    API = 3
    PHONE = 4


_WORKING = (TicketStatus.OPEN, TicketStatus.PENDING, TicketStatus.ON_HOLD)
TRANSITIONS: Mapping[TicketStatus, frozenset[TicketStatus]] = {
    TicketStatus.NEW: frozenset({*_WORKING, TicketStatus.SOLVED}),
    **{s: frozenset({*_WORKING, TicketStatus.SOLVED} - {s}) for s in _WORKING},
    # Reopening is how a requester's late answer gets worked again.
    TicketStatus.SOLVED: frozenset({TicketStatus.OPEN, TicketStatus.CLOSED}),
    TicketStatus.CLOSED: frozenset(),
}


def check_transition(ticket_name: str, current: TicketStatus, new: TicketStatus) -> None:
    """FAILED_PRECONDITION unless `current -> new` is allowed (staying put always is)."""
    if new != current and new not in TRANSITIONS[current]:
        allowed = ", ".join(s.name for s in sorted(TRANSITIONS[current])) or "none (final)"
        raise FailedPrecondition(
            f"{ticket_name} cannot go from {current.name} to {new.name}; allowed: {allowed}"
        )


@dataclass(frozen=True)
class TicketDetails:
    """The writable part of a ticket, status aside (it has rules of its own)."""

    subject: str = ""
    description: str = ""
    # `people/{id}`; empty while only requester_email is known.
    requester: str = ""
    requester_email: str = ""
    organization: str = ""
    priority: Priority = Priority.NORMAL
    type: TicketType = TicketType.UNSPECIFIED
    tags: tuple[str, ...] = ()
    custom_fields: Mapping[str, str] = field(default_factory=dict)
    followers: tuple[str, ...] = ()
    # `agents/{id}` and `groups/{id}`; empty when unassigned.
    assignee: str = ""
    group: str = ""
    # Project tasks and opportunities the ticket relates to.
    links: tuple[str, ...] = ()
    # Files attached to the description, the first message.
    attachments: tuple[Attachment, ...] = ()


class SatisfactionScore(IntEnum):
    GOOD = 1
    BAD = 2


@dataclass(frozen=True)
class SatisfactionRating:
    score: SatisfactionScore
    comment: str
    # Who was responsible when the requester rated, for per-agent reports.
    assignee: str
    group: str
    create_time: datetime


WRITABLE_FIELDS = (*TicketDetails.__dataclass_fields__, "status")


@dataclass
class Ticket:
    id: str
    number: int
    details: TicketDetails
    status: TicketStatus
    channel: Channel
    create_time: datetime
    update_time: datetime
    first_response_time: datetime | None = None
    solve_time: datetime | None = None
    version: int = 1
    # `slaPolicies/{id}` that applies, and where its targets stand.
    sla_policy: str = ""
    sla_targets: tuple[SlaTarget, ...] = ()
    # When the SLA scheduler should next look at this ticket (a warning or a
    # breach falls due); unset when nothing is pending.
    sla_check_time: datetime | None = None
    # `tickets/{id}` this one was merged into.
    merged_into: str = ""
    satisfaction: SatisfactionRating | None = None
    # The name given with requester_email (an email's From), for the contacts
    # service to create the person with.
    requester_name: str = ""
    # From the customer read model, else requester_name; not stored as such.
    requester_display_name: str = ""

    @property
    def name(self) -> str:
        return f"{TICKETS}{self.id}"

    @classmethod
    def create(
        cls,
        ticket_id: str,
        number: int,
        details: TicketDetails,
        channel: Channel,
        now: datetime,
        requester_name: str = "",
    ) -> "Ticket":
        violations = Violations()
        check_id(violations, "ticket_id", ticket_id)
        details = normalise(details, violations)
        requester_name = " ".join(requester_name.split())
        check_length(violations, "requester_name", requester_name, REQUESTER_NAME_MAX)
        violations.raise_if_any()
        ticket = cls(ticket_id, number, details, TicketStatus.NEW, channel, now, now)
        ticket.requester_name = requester_name
        return ticket

    def update(self, changes: dict[str, Any], now: datetime) -> list[str]:
        """Applies the changed fields; returns the names of those that really changed.

        `changes` may hold "status", checked against the allowed transitions.
        """
        if self.status is TicketStatus.CLOSED:
            raise FailedPrecondition(f"{self.name} is closed; closed tickets cannot change")
        changes = dict(changes)
        status = changes.pop("status", self.status)
        merged, changed = apply_changes(self.details, changes, normalise)
        check_transition(self.name, self.status, status)
        if status != self.status:
            changed.append("status")
            self.status = status
            if status is TicketStatus.SOLVED:
                self.solve_time = now
        if changed:
            self.details = merged
            self.touch(now)
        return changed

    def record_comment(self, public: bool, by_agent: bool, now: datetime) -> None:
        """The conversation grew: the ticket changes, and an agent's first public reply
        is its first response."""
        if self.status is TicketStatus.CLOSED:
            raise FailedPrecondition(f"{self.name} is closed; comments cannot be added")
        if public and by_agent and self.first_response_time is None:
            self.first_response_time = now
        self.touch(now)

    def rate(self, score: SatisfactionScore, comment: str, now: datetime) -> None:
        """Records the requester's satisfaction, once, after the ticket was solved.

        Who was assigned at this moment is kept with it: reports credit the rating
        to them even if the ticket is reassigned later.
        """
        comment = comment.strip()
        violations = Violations()
        check_length(violations, "satisfaction_rating.comment", comment, SATISFACTION_COMMENT_MAX)
        violations.raise_if_any()
        if self.satisfaction is not None:
            raise AlreadyExists(f"{self.name} was already rated; a ticket is rated once")
        if self.merged_into:
            raise FailedPrecondition(f"{self.name} was merged into {self.merged_into}; rate that")
        if self.status not in (TicketStatus.SOLVED, TicketStatus.CLOSED):
            raise FailedPrecondition(
                f"{self.name} is {self.status.name}; only solved or closed tickets are rated"
            )
        details = self.details
        self.satisfaction = SatisfactionRating(score, comment, details.assignee, details.group, now)
        self.touch(now)

    @property
    def sla_due_time(self) -> datetime | None:
        return nearest_due_time(self.sla_targets)

    def touch(self, now: datetime) -> None:
        """Marks a change: a new version at `now`."""
        self.update_time = now
        self.version += 1


def normalise(details: TicketDetails, violations: Violations) -> TicketDetails:
    prefix = "ticket"
    subject = details.subject.strip()
    if not subject:
        violations.add(f"{prefix}.subject", "is required")
    check_length(violations, f"{prefix}.subject", subject, SUBJECT_MAX)
    check_length(violations, f"{prefix}.description", details.description, DESCRIPTION_MAX)
    requester_email = normalise_email(details.requester_email)
    _check_requester(details.requester, requester_email, violations, prefix)
    if details.organization and not is_resource_name(details.organization, ORGANIZATIONS):
        violations.add(f"{prefix}.organization", "must be like organizations/123")
    if details.assignee and not is_resource_name(details.assignee, AGENTS):
        violations.add(f"{prefix}.assignee", "must be like agents/123")
    if details.group and not is_resource_name(details.group, GROUPS):
        violations.add(f"{prefix}.group", "must be like groups/123")
    check_attachments(details.attachments, violations, f"{prefix}.attachments")
    return replace(
        details,
        subject=subject,
        requester_email=requester_email,
        tags=normalise_tags(details.tags, violations, f"{prefix}.tags"),
        custom_fields=normalise_custom_fields(
            details.custom_fields, violations, f"{prefix}.custom_fields"
        ),
        followers=normalise_followers(details.followers, violations, f"{prefix}.followers"),
        links=_links(details.links, violations, f"{prefix}.links"),
    )


def is_resource_name(name: str, prefix: str) -> bool:
    """`prefix{id}` with a non-empty id that has no further segments."""
    resource_id = name.removeprefix(prefix)
    return name.startswith(prefix) and _USER_ID.fullmatch(resource_id) is not None


def _check_requester(
    requester: str, requester_email: str, violations: Violations, prefix: str
) -> None:
    if not requester and not requester_email:
        violations.add(f"{prefix}.requester", "is required unless requester_email is given")
    if requester and not is_resource_name(requester, PEOPLE):
        violations.add(f"{prefix}.requester", "must be like people/123")
    if requester_email and not is_email_address(requester_email):
        violations.add(f"{prefix}.requester_email", "is not an email address")


def normalise_followers(
    followers: tuple[str, ...], violations: Violations, path: str
) -> tuple[str, ...]:
    check_count(violations, path, followers, FOLLOWERS_MAX)
    for index, user_id in enumerate(followers):
        if not _USER_ID.fullmatch(user_id) or len(user_id) > USER_ID_MAX:
            violations.add(
                f"{path}[{index}]", f"user ids are 1-{USER_ID_MAX} characters, no / or spaces"
            )
    return tuple(dict.fromkeys(followers))


def _links(links: tuple[str, ...], violations: Violations, path: str) -> tuple[str, ...]:
    check_count(violations, path, links, LINKS_MAX)
    for index, link in enumerate(links):
        if not (is_resource_name(link, OPPORTUNITIES) or _TASK.fullmatch(link)):
            violations.add(
                f"{path}[{index}]",
                "must be like opportunities/123 or projects/123/tasks/456",
            )
    return tuple(dict.fromkeys(links))


def _names(enum: type[IntEnum]) -> dict[str, int]:
    return {member.name: member.value for member in enum}


FILTER_SCHEMA = FilterSchema(
    {
        "number": FilterField.integer(),
        "status": FilterField.enum(_names(TicketStatus)),
        "priority": FilterField.enum(_names(Priority)),
        "type": FilterField.enum(_names(TicketType)),
        "channel": FilterField.enum(_names(Channel)),
        "requester": FilterField.string(),
        "organization": FilterField.string(),
        "tags": FilterField.repeated_string(),
        "create_time": FilterField.timestamp(),
        "update_time": FilterField.timestamp(),
        "assignee": FilterField.string(),
        "group": FilterField.string(),
        "sla_policy": FilterField.string(),
        "sla_due_time": FilterField.timestamp(),
        "first_response_time": FilterField.timestamp(),
        "solve_time": FilterField.timestamp(),
        "links": FilterField.repeated_string(),
    }
)
SORTABLE = ("create_time", "update_time", "priority", "number", "status", "sla_due_time")
# Newest first, as the contract says.
DEFAULT_ORDER = (SortKey("create_time", descending=True),)
