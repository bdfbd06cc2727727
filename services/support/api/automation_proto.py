"""Translation between the automation contract (macros, triggers, automations,
ticket actions) and the domain."""

from collections.abc import Callable, Sequence
from datetime import datetime
from enum import IntEnum
from typing import Any, TypeVar

from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper
from google.protobuf.timestamp_pb2 import Timestamp

from crm.support.v1 import automation_service_pb2 as pb
from crm.support.v1 import ticket_pb2
from crm_common.errors import InvalidArgument
from crm_common.etags import etag_for
from crm_support.domain.actions import (
    Action,
    AddComment,
    AddFollowers,
    AddTags,
    RemoveTags,
    SetAssignee,
    SetCustomField,
    SetGroup,
    SetPriority,
    SetStatus,
    SetType,
)
from crm_support.domain.automation import Automation, Macro, Trigger, TriggerEvent
from crm_support.domain.tickets import Priority, TicketStatus, TicketType

E = TypeVar("E", bound=IntEnum)


def _enum_from_proto(
    domain: type[E], proto: EnumTypeWrapper, prefix: str, number: int, path: str
) -> E:
    """The domain member named like proto enum `number`; UNSPECIFIED only where
    the domain has such a member."""
    try:
        name = proto.Name(number)
    except ValueError:
        raise InvalidArgument.single(path, f"{number} is not a known value") from None
    try:
        return domain[name.removeprefix(prefix)]
    except KeyError:
        raise InvalidArgument.single(path, f"{name} is not allowed here") from None


def _enum_to_proto(proto: EnumTypeWrapper, prefix: str, member: IntEnum) -> int:
    return int(proto.Value(f"{prefix}{member.name}"))


# --- Actions ----------------------------------------------------------------------

_ONEOF = "action"
_KINDS = ", ".join(f.name for f in pb.TicketAction.DESCRIPTOR.oneofs_by_name[_ONEOF].fields)


def actions_from_proto(messages: Sequence[pb.TicketAction], path: str) -> tuple[Action, ...]:
    return tuple(
        action_from_proto(message, f"{path}[{index}]") for index, message in enumerate(messages)
    )


def action_from_proto(message: pb.TicketAction, path: str) -> Action:
    kind = message.WhichOneof(_ONEOF)
    member = f"{path}.{kind}"
    match kind:
        case "set_status":
            return SetStatus(
                _enum_from_proto(
                    TicketStatus,
                    ticket_pb2.TicketStatus,
                    "TICKET_STATUS_",
                    message.set_status,
                    member,
                )
            )
        case "set_priority":
            return SetPriority(
                _enum_from_proto(
                    Priority,
                    ticket_pb2.TicketPriority,
                    "TICKET_PRIORITY_",
                    message.set_priority,
                    member,
                )
            )
        case "set_type":
            return SetType(
                _enum_from_proto(
                    TicketType, ticket_pb2.TicketType, "TICKET_TYPE_", message.set_type, member
                )
            )
        case "set_group":
            return SetGroup(message.set_group)
        case "set_assignee":
            return SetAssignee(message.set_assignee)
        case "add_tags":
            return AddTags(tuple(message.add_tags.tags))
        case "remove_tags":
            return RemoveTags(tuple(message.remove_tags.tags))
        case "set_custom_field":
            change = message.set_custom_field
            return SetCustomField(change.key, change.value)
        case "add_followers":
            return AddFollowers(tuple(message.add_followers.followers))
        case "add_comment":
            comment = message.add_comment
            return AddComment(comment.body, comment.public, comment.author)
    raise InvalidArgument.single(path, f"names no action; set one of {_KINDS}")


def action_to_proto(action: Action) -> pb.TicketAction:
    match action:
        case SetStatus(status):
            value = _enum_to_proto(ticket_pb2.TicketStatus, "TICKET_STATUS_", status)
            return pb.TicketAction(set_status=value)  # type: ignore[arg-type]
        case SetPriority(priority):
            value = _enum_to_proto(ticket_pb2.TicketPriority, "TICKET_PRIORITY_", priority)
            return pb.TicketAction(set_priority=value)  # type: ignore[arg-type]
        case SetType(ticket_type):
            value = _enum_to_proto(ticket_pb2.TicketType, "TICKET_TYPE_", ticket_type)
            return pb.TicketAction(set_type=value)  # type: ignore[arg-type]
        case SetGroup(group):
            return pb.TicketAction(set_group=group)
        case SetAssignee(assignee):
            return pb.TicketAction(set_assignee=assignee)
        case AddTags(tags):
            return pb.TicketAction(add_tags=pb.TagsChange(tags=tags))
        case RemoveTags(tags):
            return pb.TicketAction(remove_tags=pb.TagsChange(tags=tags))
        case SetCustomField(key, value):
            return pb.TicketAction(set_custom_field=pb.CustomFieldChange(key=key, value=value))
        case AddFollowers(followers):
            return pb.TicketAction(add_followers=pb.FollowersChange(followers=followers))
        case AddComment(body, public, author):
            template = pb.CommentTemplate(body=body, public=public, author=author)
            return pb.TicketAction(add_comment=template)
    raise TypeError(f"not an action: {action!r}")


# --- Resources ----------------------------------------------------------------------


def _trigger_events(message: pb.Trigger) -> tuple[TriggerEvent, ...]:
    return tuple(
        _enum_from_proto(TriggerEvent, pb.TriggerEvent, "TRIGGER_EVENT_", event, f"trigger.on[{i}]")
        for i, event in enumerate(message.on)
    )


# How each writable field of a message becomes the domain's value; the
# rest are read as they are.
_FIELD_READERS: dict[str, Callable[[Any, str], Any]] = {
    "actions": lambda message, kind: actions_from_proto(message.actions, f"{kind}.actions"),
    "on": lambda message, kind: _trigger_events(message),
}


def field_from_proto(message: Any, kind: str, name: str) -> Any:
    """One writable field of a Macro, Trigger or Automation message in its domain form."""
    reader = _FIELD_READERS.get(name)
    return reader(message, kind) if reader else getattr(message, name)


def _draft_fields(message: Any, kind: str, names: Sequence[str]) -> dict[str, Any]:
    fields = {name: field_from_proto(message, kind, name) for name in names}
    # Unset at creation: active, as a new rule is meant to work.
    fields["active"] = message.active if message.HasField("active") else True
    return fields


def macro_from_proto(message: pb.Macro) -> Macro:
    return Macro(**_draft_fields(message, Macro.KIND, Macro.UPDATABLE))


def trigger_from_proto(message: pb.Trigger) -> Trigger:
    return Trigger(**_draft_fields(message, Trigger.KIND, Trigger.UPDATABLE))


def automation_from_proto(message: pb.Automation) -> Automation:
    return Automation(**_draft_fields(message, Automation.KIND, Automation.UPDATABLE))


def _common_to_proto(resource: Macro | Trigger | Automation) -> dict[str, Any]:
    return {
        "name": resource.name,
        "display_name": resource.display_name,
        "description": resource.description,
        "active": resource.active,
        "actions": [action_to_proto(a) for a in resource.actions],
        "etag": etag_for(resource.version),
        "create_time": _timestamp(resource.create_time),
        "update_time": _timestamp(resource.update_time),
    }


def macro_to_proto(macro: Macro) -> pb.Macro:
    return pb.Macro(**_common_to_proto(macro))


def trigger_to_proto(trigger: Trigger) -> pb.Trigger:
    return pb.Trigger(
        **_common_to_proto(trigger),
        position=trigger.position,
        on=[_enum_to_proto(pb.TriggerEvent, "TRIGGER_EVENT_", event) for event in trigger.on],
        condition=trigger.condition,
    )


def automation_to_proto(automation: Automation) -> pb.Automation:
    return pb.Automation(
        **_common_to_proto(automation),
        position=automation.position,
        condition=automation.condition,
    )


def _timestamp(value: datetime) -> Timestamp:
    timestamp = Timestamp()
    timestamp.FromDatetime(value)
    return timestamp
