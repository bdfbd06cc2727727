"""What a contact search asks for, and how deep its results go."""

from dataclasses import dataclass

from crm_common.errors import InvalidArgument
from crm_contacts.domain.custom_fields import ContactKind

QUERY_MAX = 200
# Relevance order has no stable key to page by, so pages are offsets into the
# ranking; capping the depth bounds what any one search can cost.
MAX_RESULTS = 1000


@dataclass(frozen=True)
class SearchQuery:
    """The words to find, in order (the last matches as a prefix), and the kind wanted."""

    text: str
    words: tuple[str, ...]
    kind: ContactKind | None = None

    @classmethod
    def parse(cls, text: str, kind: ContactKind | None = None) -> "SearchQuery":
        if len(text) > QUERY_MAX:
            raise InvalidArgument.single("query", f"must be at most {QUERY_MAX} characters")
        words = tuple(text.split())
        if not words:
            raise InvalidArgument.single("query", "is required")
        return cls(text=" ".join(words), words=words, kind=kind)
