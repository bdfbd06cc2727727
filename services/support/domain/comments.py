"""The conversation on a ticket: public replies and internal notes."""

from dataclasses import dataclass
from datetime import datetime

from crm_common.errors import Violations
from crm_common.validation import check_length, is_email_address
from crm_support.domain.attachments import Attachment, check_attachments
from crm_support.domain.tickets import PEOPLE, is_resource_name

__all__ = ["AGENTS", "BODY_MAX", "Attachment", "Comment"]

BODY_MAX = 100_000
AGENTS = "agents/"


@dataclass(frozen=True)
class Comment:
    id: str
    ticket_id: str
    body: str
    public: bool
    # `agents/{id}` or `people/{id}`; "" for an email from an address no
    # contact has yet, until the contacts service creates one.
    author: str
    attachments: tuple[Attachment, ...]
    create_time: datetime
    # The sender's address, for comments that arrived by email.
    author_email: str = ""

    @property
    def by_agent(self) -> bool:
        return self.author.startswith(AGENTS)

    @classmethod
    def create(
        cls,
        comment_id: str,
        ticket_id: str,
        body: str,
        public: bool,
        author: str,
        attachments: tuple[Attachment, ...],
        now: datetime,
        author_email: str = "",
    ) -> "Comment":
        violations = Violations()
        if not body.strip():
            violations.add("comment.body", "is required")
        check_length(violations, "comment.body", body, BODY_MAX)
        known_author = is_resource_name(author, AGENTS) or is_resource_name(author, PEOPLE)
        if not (known_author or (not author and is_email_address(author_email))):
            violations.add("comment.author", "must be like agents/123 or people/123")
        check_attachments(attachments, violations, "comment.attachments")
        violations.raise_if_any()
        return cls(comment_id, ticket_id, body, public, author, attachments, now, author_email)
