"""Merging a ticket into another, the way agents fold a duplicate request into the
one they keep working.

The source's conversation, followers and links go to the target, and the source
closes pointing at it. A merge is the one way a ticket closes without being
solved first: a duplicate has nothing left to solve, so the merge sets CLOSED
itself instead of going through the transitions agents choose from.

The source's requester is a contact (`people/{id}`), not a user id, so the
follower list cannot hold them; the note on the target names them instead, so
that an agent sees whom else to answer there.
"""

from dataclasses import dataclass, replace
from datetime import datetime

from crm_common.errors import FailedPrecondition, Violations
from crm_common.validation import check_length
from crm_support.domain.comments import Comment
from crm_support.domain.tickets import (
    AGENTS,
    FOLLOWERS_MAX,
    LINKS_MAX,
    Ticket,
    TicketStatus,
    is_resource_name,
)

NOTE_MAX = 10_000


@dataclass(frozen=True)
class MergeChanges:
    """What a merge changed on each ticket, and the internal notes it leaves."""

    source_fields: list[str]
    target_fields: list[str]
    source_note: Comment
    target_note: Comment


def check_merge_request(source_id: str, target_id: str, author: str, note: str) -> None:
    """INVALID_ARGUMENT for a request that is wrong whatever the tickets hold."""
    violations = Violations()
    if target_id == source_id:
        violations.add("target", "must name another ticket; a ticket cannot merge into itself")
    if not is_resource_name(author, AGENTS):
        violations.add("author", "must be like agents/123")
    check_length(violations, "note", note, NOTE_MAX)
    violations.raise_if_any()


def merge(
    source: Ticket,
    target: Ticket,
    author: str,
    note: str,
    note_ids: tuple[str, str],
    now: datetime,
) -> MergeChanges:
    """Closes `source` into `target`; the caller moves the source's comments.

    Everything that can refuse the merge runs before either ticket changes.
    """
    _check_mergeable(source, target)
    extra = f"\n\n{note.strip()}" if note.strip() else ""
    source_body = f"Merged into #{target.number} ({target.details.subject}).{extra}"
    source_note = Comment.create(note_ids[0], source.id, source_body, False, author, (), now)
    target_body = _target_note(source, target) + extra
    target_note = Comment.create(note_ids[1], target.id, target_body, False, author, (), now)
    target_fields = _take_over(target, source)
    source.status = TicketStatus.CLOSED
    source.merged_into = target.name
    source.touch(now)
    target.touch(now)
    return MergeChanges(["status", "merged_into"], target_fields, source_note, target_note)


def _check_mergeable(source: Ticket, target: Ticket) -> None:
    if source.merged_into:
        raise FailedPrecondition(f"{source.name} was already merged into {source.merged_into}")
    if target.merged_into:
        raise FailedPrecondition(
            f"{target.name} was itself merged into {target.merged_into}; merge into that one"
        )
    for ticket in (source, target):
        if ticket.status is TicketStatus.CLOSED:
            raise FailedPrecondition(f"{ticket.name} is closed; closed tickets cannot be merged")


def _take_over(target: Ticket, source: Ticket) -> list[str]:
    """Adds the source's followers and links to the target's; returns what changed."""
    held = target.details
    merged = replace(
        held,
        followers=_joined(target, "followers", held.followers, source.details.followers),
        links=_joined(target, "links", held.links, source.details.links),
    )
    target.details = merged
    return [name for name in ("followers", "links") if getattr(merged, name) != getattr(held, name)]


_LIMITS = {"followers": FOLLOWERS_MAX, "links": LINKS_MAX}


def _joined(
    target: Ticket, what: str, kept: tuple[str, ...], added: tuple[str, ...]
) -> tuple[str, ...]:
    joined = tuple(dict.fromkeys((*kept, *added)))
    if len(joined) > _LIMITS[what]:
        raise FailedPrecondition(
            f"merged, {target.name} would have {len(joined)} {what}; at most {_LIMITS[what]} fit"
        )
    return joined


def _target_note(source: Ticket, target: Ticket) -> str:
    text = (
        f"#{source.number} ({source.details.subject}) was merged into this ticket; "
        "its conversation is here now."
    )
    requester = source.details.requester or source.details.requester_email
    same = (target.details.requester or target.details.requester_email) == requester
    if not same:
        who = (
            f"{source.requester_display_name} ({requester})"
            if source.requester_display_name
            else requester
        )
        text += f"\nIts requester, {who}, is not this ticket's requester and does not follow it."
    return text
