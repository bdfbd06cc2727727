"""The parts of a List RPC every service shares: the checked request and the page.

Moved here from crm_contacts (api/listing.py, handlers/records.py) for support.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from crm_common.filtering import Expr, FilterSchema, parse_filter
from crm_common.pagination import (
    SortKey,
    decode_page_token,
    encode_page_token,
    page_size,
    parse_order_by,
    query_digest,
)

T = TypeVar("T")


class FilteredListRequest(Protocol):
    """The fields of an AIP-132 List request with a filter and an order."""

    page_size: int
    page_token: str
    order_by: str
    filter: str


@dataclass(frozen=True)
class ListRequest:
    expr: Expr | None
    keys: tuple[SortKey, ...]
    after: list[Any] | None
    size: int
    # Identifies the filter and order, so that a token serves only the query it came from.
    digest: str

    def next_page_token(self, next_key: list[Any] | None) -> str:
        return "" if next_key is None else encode_page_token(next_key, self.digest)


def list_request(
    request: FilteredListRequest,
    schema: FilterSchema | None,
    sortable: Sequence[str],
    default_order: Sequence[SortKey],
    prefixes: Sequence[str] = (),
) -> ListRequest:
    """Checks page size, filter (against `schema`, when given), order and token."""
    size = page_size(request.page_size)
    expr = parse_filter(request.filter, schema)
    keys = parse_order_by(request.order_by, sortable, default=default_order, prefixes=prefixes)
    digest = query_digest(order_by=[(k.field, k.descending) for k in keys], filter=repr(expr))
    return ListRequest(expr, keys, decode_page_token(request.page_token, digest), size, digest)


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    # The sort key values to continue after; None on the last page.
    next_key: list[Any] | None

    @classmethod
    def of(cls, found: Sequence[tuple[T, list[Any]]], size: int) -> "Page[T]":
        """`found`: up to size + 1 items with their keys; the extra one means more follow."""
        next_key = found[size - 1][1] if len(found) > size else None
        return cls([item for item, _ in found[:size]], next_key)
