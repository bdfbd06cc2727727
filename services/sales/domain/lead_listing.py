"""What ListLeads filters and sorts on."""

from crm_common.filtering import FilterField, FilterSchema
from crm_common.pagination import SortKey
from crm_sales.domain.lead_scoring import CONDITION_SCHEMA

# A rule's condition fields, plus the score and the times.
LEAD_FILTER_SCHEMA = FilterSchema(
    {
        **CONDITION_SCHEMA.fields,
        "score": FilterField.integer(),
        "create_time": FilterField.timestamp(),
        "update_time": FilterField.timestamp(),
    },
    custom_prefixes=CONDITION_SCHEMA.custom_prefixes,
)
LEAD_SORTABLE = ("score", "create_time", "update_time", "family_name", "company_name", "id")
NEWEST_FIRST = (SortKey("create_time", descending=True),)
RULE_ORDER = (SortKey("display_name"), SortKey("id"))
