"""Scoring leads: field conditions tested against one lead in memory.

A rule's condition is an AIP-160 filter over the lead's fields. It must hold
for exactly the leads ListLeads would return for the same filter, so this
mirrors the SQL translation (crm_common/storage/filter_sql.py with the
bindings of storage/leads.py):

- fields are compared in their stored form: email trimmed and lower-cased,
  source and tags lower-cased, status as its number;
- custom fields hold strings, so only a quoted value can match them; a
  missing key or a value of another type makes a comparison false;
- NOT is the exact complement; `field:*` is "set" (not empty).

String ordering (`<`, `>`) is by code point, as on SQLite; PostgreSQL orders
by the database's collation. The evaluation is crm_common/filter_match.py's.
"""

from collections.abc import Iterable, Mapping

from crm_common.errors import InvalidArgument
from crm_common.filter_match import RecordFields, Repeated, Scalar
from crm_common.filtering import Expr, FilterField, FilterSchema, parse_filter
from crm_common.validation import normalise_email
from crm_sales.domain.leads import Lead, LeadStatus
from crm_sales.domain.scoring import RuleKind, Score, ScoringRule, score

STATUS_VALUES = {status.name: int(status) for status in LeadStatus}


def _lower(value: str) -> str:
    return value.strip().lower()


# Each string field in stored form, and how a client's value is put in that form.
_STRINGS: dict[str, Scalar[Lead]] = {
    "given_name": Scalar(lambda lead: lead.details.given_name),
    "family_name": Scalar(lambda lead: lead.details.family_name),
    "email": Scalar(lambda lead: lead.details.email, normalise_email),
    "phone": Scalar(lambda lead: lead.details.phone),
    "company_name": Scalar(lambda lead: lead.details.company_name),
    "title": Scalar(lambda lead: lead.details.title),
    "source": Scalar(lambda lead: lead.details.source, _lower),
    "owner": Scalar(lambda lead: lead.details.owner),
}

LEAD_FIELDS: RecordFields[Lead] = RecordFields(
    scalars={**_STRINGS, "status": Scalar(lambda lead: int(lead.status))},
    repeated={"tags": Repeated(lambda lead: lead.details.tags, _lower)},
    custom={"custom_fields": lambda lead: lead.details.custom_fields},
)

# What a rule's condition may test: a lead's own data, not its score (a rule
# depending on the score would depend on itself) nor its times.
CONDITION_SCHEMA = FilterSchema(
    {
        **{name: FilterField.string() for name in _STRINGS},
        "status": FilterField.enum(STATUS_VALUES),
        "tags": FilterField.repeated_string(),
    },
    custom_prefixes=("custom_fields",),
)


def parse_condition(text: str) -> Expr | None:
    return parse_filter(text, CONDITION_SCHEMA)


def condition_problem(text: str) -> str | None:
    """What is wrong with a rule's condition, or None when it is a valid filter."""
    try:
        parse_condition(text)
    except InvalidArgument as error:
        return "; ".join(violation.description for violation in error.violations)
    return None


def matches(expr: Expr | None, lead: Lead) -> bool:
    """Whether `lead` satisfies a condition checked against CONDITION_SCHEMA."""
    return LEAD_FIELDS.matches(expr, lead)


class Scorer:
    """Scores leads under one set of rules, parsing each condition once."""

    def __init__(self, rules: Iterable[ScoringRule]) -> None:
        self._rules = [rule for rule in rules if rule.active]
        self._conditions = {
            rule.condition: parse_condition(rule.condition)
            for rule in self._rules
            if rule.kind is RuleKind.FIELD
        }

    @property
    def activities(self) -> frozenset[str]:
        """The activity kinds some rule counts."""
        return frozenset(r.activity for r in self._rules if r.kind is RuleKind.ACTIVITY)

    def score(self, lead: Lead, activity_counts: Mapping[str, int]) -> Score:
        return score(
            self._rules,
            lambda condition: matches(self._conditions[condition], lead),
            activity_counts,
        )
