"""The request side of ListPeople and ListOrganizations: page size, filter, order, token."""

from collections.abc import Iterable

from crm_common.listing import FilteredListRequest, ListRequest
from crm_common.listing import list_request as common_list_request
from crm_common.pagination import SortKey
from crm_contacts.domain.listing import CUSTOM_FIELDS, ListingSchema

DEFAULT_ORDER = (SortKey("create_time", descending=True),)


def list_request(
    request: FilteredListRequest, schema: ListingSchema, sortable: Iterable[str]
) -> ListRequest:
    # Custom fields in the filter and order are typed by the handler.
    return common_list_request(
        request, schema.filter_schema, list(sortable), DEFAULT_ORDER, prefixes=[CUSTOM_FIELDS]
    )
