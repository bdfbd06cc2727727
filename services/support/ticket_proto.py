"""Translation between the contract's Ticket and Comment and the domain.

Shared by api/ (requests and responses) and events/ (payloads).
"""

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from crm.support.v1 import comment_pb2, ticket_pb2
from crm_common.errors import InvalidArgument
from crm_common.etags import etag_for
from crm_common.resources import require_id
from crm_support.domain.comments import Attachment, Comment
from crm_support.domain.sla_state import SlaTarget
from crm_support.domain.tickets import (
    Channel,
    Priority,
    SatisfactionRating,
    SatisfactionScore,
    Ticket,
    TicketDetails,
    TicketStatus,
    TicketType,
)

RESOURCE_PREFIX = "tickets/"


def ticket_id_from_name(name: str, field: str = "name") -> str:
    return require_id(name, RESOURCE_PREFIX, field, "like tickets/123")


def _enum(domain: type[Any], proto_name: Callable[[int], str], prefix: str, field: str) -> Any:
    """Maps a proto enum number to the domain enum of the same member name."""

    def convert(number: int) -> Any:
        try:
            return domain[proto_name(number).removeprefix(prefix)]
        except (KeyError, ValueError) as error:
            raise InvalidArgument.single(field, f"{number} is not a known value") from error

    return convert


_status = _enum(TicketStatus, ticket_pb2.TicketStatus.Name, "TICKET_STATUS_", "ticket.status")
_type = _enum(TicketType, ticket_pb2.TicketType.Name, "TICKET_TYPE_", "ticket.type")
_channel = _enum(Channel, ticket_pb2.TicketChannel.Name, "TICKET_CHANNEL_", "ticket.channel")
_priority = _enum(Priority, ticket_pb2.TicketPriority.Name, "TICKET_PRIORITY_", "ticket.priority")
_score = _enum(
    SatisfactionScore,
    ticket_pb2.SatisfactionScore.Name,
    "SATISFACTION_SCORE_",
    "satisfaction_rating.score",
)


def status_from_proto(value: int) -> TicketStatus:
    if value == ticket_pb2.TICKET_STATUS_UNSPECIFIED:
        raise InvalidArgument.single("ticket.status", "is required when it is updated")
    status: TicketStatus = _status(value)
    return status


def priority_from_proto(value: int) -> Priority:
    # Unspecified is stored as NORMAL, as the contract says.
    if value == ticket_pb2.TICKET_PRIORITY_UNSPECIFIED:
        return Priority.NORMAL
    priority: Priority = _priority(value)
    return priority


def satisfaction_score_from_proto(value: int) -> SatisfactionScore:
    if value == ticket_pb2.SATISFACTION_SCORE_UNSPECIFIED:
        raise InvalidArgument.single("satisfaction_rating.score", "is required: GOOD or BAD")
    score: SatisfactionScore = _score(value)
    return score


def channel_from_proto(value: int) -> Channel:
    if value == ticket_pb2.TICKET_CHANNEL_UNSPECIFIED:
        return Channel.API
    channel: Channel = _channel(value)
    return channel


def ticket_field(message: ticket_pb2.Ticket, field: str) -> object:
    """One writable field of `message` in its domain form."""
    match field:
        case "status":
            return status_from_proto(message.status)
        case "priority":
            return priority_from_proto(message.priority)
        case "type":
            return _type(message.type)
        case "tags" | "followers" | "links":
            return tuple(getattr(message, field))
        case "custom_fields":
            return dict(message.custom_fields)
        case "attachments":
            return attachments_from_proto(message)
    return getattr(message, field)


def ticket_details_from_proto(message: ticket_pb2.Ticket) -> TicketDetails:
    return TicketDetails(
        **{name: ticket_field(message, name) for name in TicketDetails.__dataclass_fields__}
    )


def ticket_to_proto(ticket: Ticket) -> ticket_pb2.Ticket:
    details = ticket.details
    return ticket_pb2.Ticket(
        name=ticket.name,
        number=ticket.number,
        subject=details.subject,
        description=details.description,
        requester=details.requester,
        requester_email=details.requester_email,
        requester_display_name=ticket.requester_display_name,
        organization=details.organization,
        status=status_to_proto(ticket.status),
        priority=ticket_pb2.TicketPriority.Value(f"TICKET_PRIORITY_{details.priority.name}"),
        type=ticket_pb2.TicketType.Value(f"TICKET_TYPE_{details.type.name}"),
        channel=ticket_pb2.TicketChannel.Value(f"TICKET_CHANNEL_{ticket.channel.name}"),
        tags=details.tags,
        custom_fields=details.custom_fields,
        followers=details.followers,
        etag=etag_for(ticket.version),
        create_time=_timestamp(ticket.create_time),
        update_time=_timestamp(ticket.update_time),
        first_response_time=_timestamp(ticket.first_response_time),
        solve_time=_timestamp(ticket.solve_time),
        assignee=details.assignee,
        group=details.group,
        links=details.links,
        attachments=attachments_to_proto(details.attachments),
        sla_policy=ticket.sla_policy,
        sla_targets=[sla_target_to_proto(t) for t in ticket.sla_targets],
        sla_due_time=_timestamp(ticket.sla_due_time),
        merged_into=ticket.merged_into,
        satisfaction_rating=_satisfaction_to_proto(ticket.satisfaction),
    )


def sla_target_to_proto(target: SlaTarget) -> ticket_pb2.SlaTarget:
    return ticket_pb2.SlaTarget(
        metric=ticket_pb2.SlaMetric.Value(f"SLA_METRIC_{target.metric.name}"),
        target=Duration(seconds=target.target_seconds),
        due_time=_timestamp(target.due_time),
        fulfill_time=_timestamp(target.fulfill_time),
        breached=target.breached,
        paused=target.paused,
        remaining=Duration(seconds=target.remaining_seconds) if target.paused else None,
        warning_time=_timestamp(target.warning_time),
    )


def _satisfaction_to_proto(
    rating: SatisfactionRating | None,
) -> ticket_pb2.SatisfactionRating | None:
    if rating is None:
        return None
    return ticket_pb2.SatisfactionRating(
        score=ticket_pb2.SatisfactionScore.Value(f"SATISFACTION_SCORE_{rating.score.name}"),
        comment=rating.comment,
        assignee=rating.assignee,
        group=rating.group,
        create_time=_timestamp(rating.create_time),
    )


def status_to_proto(status: TicketStatus) -> int:
    return ticket_pb2.TicketStatus.Value(f"TICKET_STATUS_{status.name}")


def attachments_from_proto(
    message: comment_pb2.Comment | ticket_pb2.Ticket,
) -> tuple[Attachment, ...]:
    return tuple(
        Attachment(a.file_name, a.content_type, a.size_bytes, a.uri) for a in message.attachments
    )


def attachments_to_proto(attachments: Sequence[Attachment]) -> list[comment_pb2.Attachment]:
    return [
        comment_pb2.Attachment(
            file_name=a.file_name, content_type=a.content_type, size_bytes=a.size_bytes, uri=a.uri
        )
        for a in attachments
    ]


def comment_to_proto(comment: Comment) -> comment_pb2.Comment:
    return comment_pb2.Comment(
        name=f"{RESOURCE_PREFIX}{comment.ticket_id}/comments/{comment.id}",
        body=comment.body,
        public=comment.public,
        author=comment.author,
        author_email=comment.author_email,
        attachments=attachments_to_proto(comment.attachments),
        create_time=_timestamp(comment.create_time),
    )


def _timestamp(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    timestamp = Timestamp()
    timestamp.FromDatetime(value)
    return timestamp
