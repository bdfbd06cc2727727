"""Notes on people and organizations: plain data and rules."""

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Self

from crm_common.errors import Violations
from crm_contacts.domain.contact_points import NAME_MAX, check_length

BODY_MAX = 100_000

# A segment is what a name holds between slashes; ids themselves are checked
# where records are created, so any non-empty segment may name one.
_PARENT = re.compile(r"(people|organizations)/([^/]+)")
_NOTE = re.compile(r"(people|organizations)/([^/]+)/notes/([^/]+)")


class ParentKind(StrEnum):
    """What a note or timeline entry hangs on; the value is the collection name."""

    PERSON = "people"
    ORGANIZATION = "organizations"


@dataclass(frozen=True)
class ParentRef:
    """A person or an organization, by id: `people/{id}` or `organizations/{id}`."""

    kind: ParentKind
    id: str

    @property
    def name(self) -> str:
        return f"{self.kind}/{self.id}"

    @classmethod
    def parse(cls, name: str) -> Self | None:
        """The parent a resource name denotes, or None when it denotes none."""
        match = _PARENT.fullmatch(name)
        return cls(ParentKind(match[1]), match[2]) if match else None


@dataclass(frozen=True)
class NoteRef:
    """A note's full identity: its parent and its id within that parent."""

    parent: ParentRef
    id: str

    @property
    def name(self) -> str:
        return f"{self.parent.name}/notes/{self.id}"

    @classmethod
    def parse(cls, name: str) -> Self | None:
        match = _NOTE.fullmatch(name)
        return cls(ParentRef(ParentKind(match[1]), match[2]), match[3]) if match else None


@dataclass
class Note:
    ref: NoteRef
    body: str
    author: str
    create_time: datetime
    update_time: datetime
    version: int = 1

    @property
    def name(self) -> str:
        return self.ref.name

    @classmethod
    def create(cls, ref: NoteRef, body: str, author: str, now: datetime) -> "Note":
        violations = Violations()
        check_body(violations, body)
        author = author.strip()
        check_length(violations, "note.author", author, NAME_MAX)
        violations.raise_if_any()
        return cls(ref=ref, body=body, author=author, create_time=now, update_time=now)

    def edit(self, body: str, now: datetime) -> bool:
        """Replaces the body; returns whether anything changed."""
        violations = Violations()
        check_body(violations, body)
        violations.raise_if_any()
        if body == self.body:
            return False
        self.body = body
        self.update_time = now
        self.version += 1
        return True


def check_body(violations: Violations, body: str) -> None:
    # The body is kept as written (line breaks and indentation are the
    # author's), but one made only of whitespace says nothing.
    if not body.strip():
        violations.add("note.body", "is required")
    check_length(violations, "note.body", body, BODY_MAX)
