"""Translation between the contract's Note and TimelineEntry and the domain."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from crm.contacts.v1 import note_pb2
from crm_common.errors import InvalidArgument
from crm_common.etags import etag_for
from crm_common.pagination import decode_page_token
from crm_contacts.domain.notes import Note, NoteRef, ParentRef
from crm_contacts.domain.timeline import TimelineEntry, TimelineKind

# Same names on both sides, so the mapping cannot drift: a kind without a
# proto value fails at import, not in a request.
_KIND_TO_PROTO = {
    kind: note_pb2.TimelineEntryKind.Value(f"TIMELINE_ENTRY_KIND_{kind.name}")
    for kind in TimelineKind
}


def parent_from_name(name: str, field: str = "parent") -> ParentRef:
    parent = ParentRef.parse(name)
    if parent is None:
        raise InvalidArgument.single(field, f"{name!r} is not like people/123 or organizations/123")
    return parent


def note_ref_from_name(name: str, field: str = "name") -> NoteRef:
    ref = NoteRef.parse(name)
    if ref is None:
        raise InvalidArgument.single(
            field, f"{name!r} is not like people/123/notes/456 or organizations/123/notes/456"
        )
    return ref


def page_after(token: str, digest: str, types: Sequence[type]) -> list[Any] | None:
    """The keyset position a page token holds, checked against the key's types.

    A token is only base64 JSON; one edited by hand must be a client error,
    not a value the database driver chokes on.
    """
    after = decode_page_token(token, digest)
    if after is not None and not _matches(after, types):
        raise InvalidArgument.single("page_token", "is not a token this API issued")
    return after


def _matches(values: Sequence[Any], types: Sequence[type]) -> bool:
    if len(values) != len(types):
        return False
    for value, expected in zip(values, types, strict=True):
        if not isinstance(value, expected) or isinstance(value, bool):
            return False
        if isinstance(value, datetime) and value.tzinfo is None:
            return False
    return True


def note_to_proto(note: Note) -> note_pb2.Note:
    message = note_pb2.Note(
        name=note.name, body=note.body, author=note.author, etag=etag_for(note.version)
    )
    message.create_time.FromDatetime(note.create_time)
    message.update_time.FromDatetime(note.update_time)
    return message


def timeline_entry_to_proto(entry: TimelineEntry) -> note_pb2.TimelineEntry:
    message = note_pb2.TimelineEntry(
        kind=_KIND_TO_PROTO[entry.kind],
        summary=entry.summary,
        source=entry.source,
        resource=entry.resource,
    )
    message.time.FromDatetime(entry.time)
    if entry.note is not None:
        message.note.CopyFrom(note_to_proto(entry.note))
    return message
