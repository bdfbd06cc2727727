"""Which fields a parsed filter mentions.

A List RPC whose filterable fields are partly defined at run time (custom
fields) needs to know which of them a filter names before it can build the
schema to check it with, without loading every definition on every call.
"""

from crm_common.filtering import And, Comparison, Expr, Has, Not, Or


def field_names(expr: Expr | None) -> set[str]:
    """Every field path restricted anywhere in the tree, e.g. {"tags", "custom_fields.region"}."""
    match expr:
        case None:
            return set()
        case Comparison(field=name) | Has(field=name):
            return {name}
        case Not(inner):
            return field_names(inner)
        case And(terms) | Or(terms):
            return set().union(*(field_names(term) for term in terms))
    raise TypeError(f"not a filter expression: {expr!r}")
