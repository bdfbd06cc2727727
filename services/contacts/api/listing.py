"""The request side of ListPeople and ListOrganizations: page size, filter, order, token."""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from crm_common.filtering import Expr, parse_filter
from crm_common.pagination import (
    SortKey,
    decode_page_token,
    encode_page_token,
    page_size,
    parse_order_by,
    query_digest,
)
from crm_contacts.domain.listing import CUSTOM_FIELDS, ListingSchema

DEFAULT_ORDER = (SortKey("create_time", descending=True),)


class ListRecordsRequest(Protocol):
    """The fields ListPeopleRequest and ListOrganizationsRequest share."""

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
    request: ListRecordsRequest, schema: ListingSchema, sortable: Iterable[str]
) -> ListRequest:
    size = page_size(request.page_size)
    # Custom fields in the filter and order are typed by the handler.
    expr = parse_filter(request.filter, schema.filter_schema)
    keys = parse_order_by(
        request.order_by, list(sortable), default=DEFAULT_ORDER, prefixes=[CUSTOM_FIELDS]
    )
    digest = query_digest(order_by=[(k.field, k.descending) for k in keys], filter=repr(expr))
    return ListRequest(expr, keys, decode_page_token(request.page_token, digest), size, digest)
