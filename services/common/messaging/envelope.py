"""Building and reading the `crm.events.v1.Event` envelope, and where it travels."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from google.protobuf.message import Message

from crm.events.v1.event_pb2 import Event

SUBJECT_ROOT = "crm.events"
DEAD_LETTER_ROOT = "crm.deadletter"
DEAD_LETTER_STREAM = "CRM_DEAD_LETTERS"

PayloadT = TypeVar("PayloadT", bound=Message)


class ActorLike(Protocol):
    """Who caused a change (crm_common.audit.context.Actor)."""

    @property
    def subject(self) -> str: ...

    @property
    def kind(self) -> str: ...


def subject_for(source: str, event_type: str) -> str:
    return f"{SUBJECT_ROOT}.{source}.{event_type}"


def stream_for(source: str) -> str:
    return f"CRM_{source.upper()}_EVENTS"


@dataclass(frozen=True)
class OutgoingEvent:
    """A domain event as a handler records it, before it has an id or a time."""

    type: str
    aggregate_type: str
    aggregate_id: str
    aggregate_version: int
    payload: Message


def seal(
    event: OutgoingEvent, source: str, occurred_at: datetime, actor: ActorLike | None = None
) -> Event:
    envelope = Event(
        id=str(uuid.uuid4()),
        type=event.type,
        source=source,
        aggregate_type=event.aggregate_type,
        aggregate_id=event.aggregate_id,
        aggregate_version=event.aggregate_version,
    )
    envelope.occurred_at.FromDatetime(occurred_at)
    envelope.payload.Pack(event.payload)
    if actor is not None:
        envelope.actor.subject = actor.subject
        envelope.actor.kind = actor.kind
    return envelope


def unpack(envelope: Event, payload_type: type[PayloadT]) -> PayloadT:
    """The payload as `payload_type`; ValueError if it holds something else."""
    payload = payload_type()
    if not envelope.payload.Unpack(payload):
        raise ValueError(
            f"{envelope.type} carries {envelope.payload.TypeName()}, "
            f"not {payload_type.DESCRIPTOR.full_name}"
        )
    return payload
