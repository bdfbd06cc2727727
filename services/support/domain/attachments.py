"""Metadata of attached files, as tickets and comments keep it."""

from dataclasses import dataclass

from crm_common.errors import Violations
from crm_common.validation import check_count, check_length

ATTACHMENTS_MAX = 20
FILE_NAME_MAX = 255
CONTENT_TYPE_MAX = 255
URI_MAX = 2000


@dataclass(frozen=True)
class Attachment:
    file_name: str
    content_type: str = ""
    size_bytes: int = 0
    uri: str = ""


def check_attachments(
    attachments: tuple[Attachment, ...], violations: Violations, path: str
) -> None:
    check_count(violations, path, attachments, ATTACHMENTS_MAX)
    for index, attachment in enumerate(attachments):
        item = f"{path}[{index}]"
        if not attachment.file_name.strip():
            violations.add(f"{item}.file_name", "is required")
        check_length(violations, f"{item}.file_name", attachment.file_name, FILE_NAME_MAX)
        check_length(violations, f"{item}.content_type", attachment.content_type, CONTENT_TYPE_MAX)
        check_length(violations, f"{item}.uri", attachment.uri, URI_MAX)
        if attachment.size_bytes < 0:
            violations.add(f"{item}.size_bytes", "must not be negative")
