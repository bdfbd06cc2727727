"""The conversation on a ticket: public replies and internal notes."""

from dataclasses import dataclass
from datetime import datetime

from crm_common.errors import Violations
from crm_common.validation import check_count, check_length
from crm_support.domain.tickets import PEOPLE, is_resource_name

BODY_MAX = 100_000
ATTACHMENTS_MAX = 20
FILE_NAME_MAX = 255
CONTENT_TYPE_MAX = 255
URI_MAX = 2000
AGENTS = "agents/"


@dataclass(frozen=True)
class Attachment:
    file_name: str
    content_type: str = ""
    size_bytes: int = 0
    uri: str = ""


@dataclass(frozen=True)
class Comment:
    id: str
    ticket_id: str
    body: str
    public: bool
    # `agents/{id}` or `people/{id}`.
    author: str
    attachments: tuple[Attachment, ...]
    create_time: datetime

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
    ) -> "Comment":
        violations = Violations()
        if not body.strip():
            violations.add("comment.body", "is required")
        check_length(violations, "comment.body", body, BODY_MAX)
        if not (is_resource_name(author, AGENTS) or is_resource_name(author, PEOPLE)):
            violations.add("comment.author", "must be like agents/123 or people/123")
        _check_attachments(attachments, violations)
        violations.raise_if_any()
        return cls(comment_id, ticket_id, body, public, author, attachments, now)


def _check_attachments(attachments: tuple[Attachment, ...], violations: Violations) -> None:
    check_count(violations, "comment.attachments", attachments, ATTACHMENTS_MAX)
    for index, attachment in enumerate(attachments):
        path = f"comment.attachments[{index}]"
        if not attachment.file_name.strip():
            violations.add(f"{path}.file_name", "is required")
        check_length(violations, f"{path}.file_name", attachment.file_name, FILE_NAME_MAX)
        check_length(violations, f"{path}.content_type", attachment.content_type, CONTENT_TYPE_MAX)
        check_length(violations, f"{path}.uri", attachment.uri, URI_MAX)
        if attachment.size_bytes < 0:
            violations.add(f"{path}.size_bytes", "must not be negative")
