"""Who may change an opportunity: its owner (the token's subject), or anyone
holding sales.manage. Everyone with sales.read may read them all, so a refusal
names the owner; a missing opportunity stays NOT_FOUND."""

from dataclasses import replace
from typing import Any

from crm_common.auth.principal import Principal
from crm_common.auth.roles import Permission
from crm_common.errors import PermissionDenied
from crm_sales.domain.opportunities import Opportunity, OpportunityDraft


def check_may_change(caller: Principal, opportunity: Opportunity) -> None:
    if caller.may(Permission.SALES_MANAGE) or opportunity.details.owner == caller.subject:
        return
    owner = opportunity.details.owner or "no one"
    raise PermissionDenied(
        f"{opportunity.name} belongs to {owner}; only its owner or a sales manager may change it"
    )


def check_owner_change(caller: Principal, changes: dict[str, Any]) -> None:
    """Giving an opportunity to someone else is a manager's decision."""
    if "owner" not in changes or caller.may(Permission.SALES_MANAGE):
        return
    if changes["owner"] != caller.subject:
        raise PermissionDenied("only a sales manager may give an opportunity to someone else")


def owned_draft(caller: Principal, draft: OpportunityDraft) -> OpportunityDraft:
    """The draft as the caller may create it: a salesperson's own (owner
    defaults to them); a manager's for anyone, as written."""
    if caller.may(Permission.SALES_MANAGE):
        return draft
    owner = draft.details.owner or caller.subject
    if owner != caller.subject:
        raise PermissionDenied("only a sales manager may create an opportunity for someone else")
    return replace(draft, details=replace(draft.details, owner=owner))
