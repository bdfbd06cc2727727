"""Operator tools for the dead-letter stream: list parked events, replay them.

A replayed event goes back onto its original subject under a fresh message
id; every consumer of that stream sees it again, and those that had already
applied it skip it through their inbox.
"""

import contextlib
from dataclasses import dataclass

from google.protobuf.message import DecodeError
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from crm.events.v1.event_pb2 import Event
from crm_common.messaging.envelope import DEAD_LETTER_STREAM


@dataclass(frozen=True)
class DeadLetter:
    sequence: int
    consumer: str
    original_subject: str
    reason: str
    event_id: str
    event_type: str
    data: bytes
    headers: dict[str, str]


async def list_dead_letters(js: JetStreamContext, limit: int = 100) -> list[DeadLetter]:
    info = await js.stream_info(DEAD_LETTER_STREAM)
    letters: list[DeadLetter] = []
    if info.state.messages == 0:
        return letters  # an empty stream reports first_seq 0, which get_msg refuses
    sequence = info.state.first_seq
    while sequence <= info.state.last_seq and len(letters) < limit:
        with contextlib.suppress(NotFoundError):  # deleted after a replay
            letters.append(await get_dead_letter(js, sequence))
        sequence += 1
    return letters


async def get_dead_letter(js: JetStreamContext, sequence: int) -> DeadLetter:
    raw = await js.get_msg(DEAD_LETTER_STREAM, sequence)
    headers = dict(raw.headers or {})
    try:
        event = Event.FromString(raw.data or b"")
        event_id, event_type = event.id, event.type
    except DecodeError:
        event_id, event_type = "", "(undecodable)"
    return DeadLetter(
        sequence=sequence,
        consumer=headers.get("Crm-Consumer", ""),
        original_subject=headers.get("Crm-Original-Subject", ""),
        reason=headers.get("Crm-Dead-Letter-Reason", ""),
        event_id=event_id,
        event_type=event_type,
        data=raw.data or b"",
        headers=headers,
    )


async def replay_dead_letter(js: JetStreamContext, sequence: int) -> DeadLetter:
    letter = await get_dead_letter(js, sequence)
    await js.publish(
        letter.original_subject,
        letter.data,
        headers={"Nats-Msg-Id": f"replay:{DEAD_LETTER_STREAM}:{sequence}"},
    )
    await js.delete_msg(DEAD_LETTER_STREAM, sequence)
    return letter
