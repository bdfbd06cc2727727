"""The actions macros, triggers and automations apply to tickets: one vocabulary.

An action list is checked when it is saved (formats, template placeholders),
so that applying it later can only fail for reasons of the ticket itself: a
status transition it does not allow, a closed ticket, too many tags.
Applying goes through `Ticket.update`, so an action can never do what an
agent editing the ticket could not.
"""

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from crm_common.errors import InvalidArgument, Violations
from crm_common.validation import (
    CUSTOM_FIELD_KEY,
    CUSTOM_VALUE_MAX,
    check_length,
    normalise_tags,
)
from crm_support.domain.comments import BODY_MAX, Comment
from crm_support.domain.tickets import (
    AGENTS,
    GROUPS,
    Priority,
    Ticket,
    TicketStatus,
    TicketType,
    is_resource_name,
    normalise_followers,
)

ACTIONS_MAX = 50


@dataclass(frozen=True)
class SetStatus:
    status: TicketStatus


@dataclass(frozen=True)
class SetPriority:
    priority: Priority


@dataclass(frozen=True)
class SetType:
    type: TicketType


@dataclass(frozen=True)
class SetGroup:
    # `groups/{id}`; empty clears the group.
    group: str


@dataclass(frozen=True)
class SetAssignee:
    # `agents/{id}`; empty unassigns.
    assignee: str


@dataclass(frozen=True)
class AddTags:
    tags: tuple[str, ...]


@dataclass(frozen=True)
class RemoveTags:
    tags: tuple[str, ...]


@dataclass(frozen=True)
class SetCustomField:
    key: str
    # Empty removes the field.
    value: str


@dataclass(frozen=True)
class AddFollowers:
    followers: tuple[str, ...]


@dataclass(frozen=True)
class AddComment:
    # A template: see PLACEHOLDERS.
    body: str
    public: bool
    # `agents/{id}`; empty means the agent applying (macros only).
    author: str = ""


Action = (
    SetStatus
    | SetPriority
    | SetType
    | SetGroup
    | SetAssignee
    | AddTags
    | RemoveTags
    | SetCustomField
    | AddFollowers
    | AddComment
)

# The oneof member each action is in the contract; error paths name it.
ACTION_FIELDS: Mapping[type[Any], str] = {
    SetStatus: "set_status",
    SetPriority: "set_priority",
    SetType: "set_type",
    SetGroup: "set_group",
    SetAssignee: "set_assignee",
    AddTags: "add_tags",
    RemoveTags: "remove_tags",
    SetCustomField: "set_custom_field",
    AddFollowers: "add_followers",
    AddComment: "add_comment",
}


# --- Templates ------------------------------------------------------------------

PLACEHOLDERS = (
    "requester.first_name",
    "requester.name",
    "requester.email",
    "ticket.number",
    "ticket.subject",
    "ticket.status",
    "ticket.priority",
    "agent.name",
)
_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_OPENING = "{{"


def check_template(text: str, violations: Violations, path: str) -> None:
    """A comment template must be non-blank and name only known placeholders.

    Checked when saved: a typo found when a trigger fires would be found by a customer.
    """
    if not text.strip():
        violations.add(path, "is required")
    check_length(violations, path, text, BODY_MAX)
    index = text.find(_OPENING)
    while index >= 0:
        match = _PLACEHOLDER.match(text, index)
        if match is None:
            violations.add(path, f'"{{{{" at column {index + 1} is not closed by "}}}}"')
            return
        if match.group(1) not in PLACEHOLDERS:
            known = ", ".join(f"{{{{{name}}}}}" for name in PLACEHOLDERS)
            violations.add(path, f"unknown placeholder {match.group(0)}; use {known}")
        index = text.find(_OPENING, match.end())


def render(text: str, values: Mapping[str, str]) -> str:
    """The template with each placeholder replaced by its value (checked templates only)."""
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], text)


@dataclass(frozen=True)
class ActionContext:
    """Who and what the templates speak of, beyond the ticket itself."""

    # From the customer read model; empty when the helpdesk does not know the requester.
    requester_name: str = ""
    requester_email: str = ""
    # `agents/{id}` applying a macro, and how templates name them.
    agent: str = ""
    agent_name: str = ""
    # Triggers and automations: their public comments are not an agent's first response.
    automated: bool = False


def placeholder_values(ticket: Ticket, context: ActionContext) -> dict[str, str]:
    # The first word of the name, as helpdesks commonly derive a first name.
    first_name = context.requester_name.split(maxsplit=1)[0] if context.requester_name else ""
    return {
        "requester.first_name": first_name,
        "requester.name": context.requester_name,
        "requester.email": ticket.details.requester_email or context.requester_email,
        "ticket.number": str(ticket.number),
        "ticket.subject": ticket.details.subject,
        "ticket.status": _words(ticket.status.name),
        "ticket.priority": _words(ticket.details.priority.name),
        "agent.name": context.agent_name,
    }


def _words(enum_name: str) -> str:
    return enum_name.lower().replace("_", " ")


# --- Checking -------------------------------------------------------------------


def check_actions(
    actions: Sequence[Action], violations: Violations, path: str, *, author_required: bool
) -> tuple[Action, ...]:
    """The actions normalised (tags lower-cased, duplicates dropped); every problem
    is added to `violations` under `path[i].<member>`.

    `author_required`: comments must name their author (nobody applies triggers
    and automations, so nobody else could be it).
    """
    if not actions:
        violations.add(path, "is required: at least one action")
    if len(actions) > ACTIONS_MAX:
        # Each action's own problems would only bury this one.
        violations.add(path, f"has more than {ACTIONS_MAX} actions")
        return tuple(actions)
    return tuple(
        _checked(
            action, violations, f"{path}[{index}].{ACTION_FIELDS[type(action)]}", author_required
        )
        for index, action in enumerate(actions)
    )


def _checked(action: Action, violations: Violations, path: str, author_required: bool) -> Action:
    match action:
        case SetStatus(TicketStatus()) | SetPriority(Priority()) | SetType(TicketType()):
            return action
        case SetGroup(group):
            if group and not is_resource_name(group, GROUPS):
                violations.add(path, "must be like groups/123, or empty to clear the group")
            return action
        case SetAssignee(assignee):
            if assignee and not is_resource_name(assignee, AGENTS):
                violations.add(path, "must be like agents/123, or empty to unassign")
            return action
        case AddTags(tags) | RemoveTags(tags):
            if not tags:
                violations.add(f"{path}.tags", "is required: at least one tag")
            return replace(action, tags=normalise_tags(tags, violations, f"{path}.tags"))
        case SetCustomField(key, value):
            if not CUSTOM_FIELD_KEY.fullmatch(key):
                violations.add(f"{path}.key", "must match [a-z][a-z0-9_]{0,62}")
            check_length(violations, f"{path}.value", value, CUSTOM_VALUE_MAX)
            return action
        case AddFollowers(followers):
            if not followers:
                violations.add(f"{path}.followers", "is required: at least one follower")
            return replace(
                action, followers=normalise_followers(followers, violations, f"{path}.followers")
            )
        case AddComment(body, _, author):
            check_template(body, violations, f"{path}.body")
            if author and not is_resource_name(author, AGENTS):
                violations.add(f"{path}.author", "must be like agents/123")
            elif not author and author_required:
                violations.add(f"{path}.author", "is required: no agent applies this")
            return action
    raise TypeError(f"not an action: {action!r}")


def needs_agent(actions: Iterable[Action]) -> bool:
    """Whether applying takes an agent: a comment that names no author is theirs."""
    return any(isinstance(a, AddComment) and not a.author for a in actions)


# --- Applying -------------------------------------------------------------------


@dataclass(frozen=True)
class Applied:
    changed_fields: list[str] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.changed_fields or self.comments)


def apply_actions(
    ticket: Ticket,
    actions: Sequence[Action],
    context: ActionContext,
    now: datetime,
    new_id: Callable[[], str],
) -> Applied:
    """Applies checked actions to `ticket` as one change: all of them or, when
    the ticket refuses one (FailedPrecondition, InvalidArgument), none.

    Returns the fields that really changed and the comments to store.
    """
    changes = field_changes(ticket, actions)
    # A trial run on a copy proves the update will succeed before the ticket
    # is touched, and gives the templates the ticket as the actions leave it.
    after = replace(ticket)
    after.update(changes, now)
    values = placeholder_values(after, context)
    comments = [
        _comment(ticket, action, values, context, now, new_id())
        for action in actions
        if isinstance(action, AddComment)
    ]
    # Comments first: an automation that replies and closes must reply
    # while the ticket is still open.
    for comment in comments:
        ticket.record_comment(comment.public, comment.by_agent and not context.automated, now)
    return Applied(ticket.update(changes, now), comments)


def field_changes(ticket: Ticket, actions: Iterable[Action]) -> dict[str, Any]:
    """What `Ticket.update` is asked to change, each action building on the last."""
    changes: dict[str, Any] = {}

    def current(name: str) -> Any:
        return changes.get(name, getattr(ticket.details, name))

    for action in actions:
        match action:
            case SetStatus(status):
                changes["status"] = status
            case SetPriority(priority):
                changes["priority"] = priority
            case SetType(ticket_type):
                changes["type"] = ticket_type
            case SetGroup(group):
                changes["group"] = group
            case SetAssignee(assignee):
                changes["assignee"] = assignee
            case AddTags(tags):
                changes["tags"] = (*current("tags"), *tags)
            case RemoveTags(tags):
                removed = {tag.strip().lower() for tag in tags}
                changes["tags"] = tuple(t for t in current("tags") if t not in removed)
            case SetCustomField(key, value):
                fields = {k: v for k, v in current("custom_fields").items() if k != key}
                changes["custom_fields"] = {**fields, key: value} if value else fields
            case AddFollowers(followers):
                changes["followers"] = (*current("followers"), *followers)
    return changes


def _comment(
    ticket: Ticket,
    action: AddComment,
    values: Mapping[str, str],
    context: ActionContext,
    now: datetime,
    comment_id: str,
) -> Comment:
    author = action.author or context.agent
    if not author:
        raise InvalidArgument.single("agent", "is required: a comment names no author")
    body = render(action.body, values)
    return Comment.create(comment_id, ticket.id, body, action.public, author, (), now)
