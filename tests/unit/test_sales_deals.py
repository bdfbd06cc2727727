"""Close reasons, contact re-linking and stage history across pipelines: pure domain."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from crm_common.errors import FailedPrecondition, InvalidArgument
from crm_sales.domain.close_reasons import CloseReason, CloseReasonDetails, ReasonKind
from crm_sales.domain.money import Money
from crm_sales.domain.opportunities import Deal, Opportunity, OpportunityDetails, State
from crm_sales.domain.pipelines import Pipeline, Stage

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def pipeline(pipeline_id: str = "new") -> Pipeline:
    stages = (Stage("lead", "Lead", 10), Stage("won", "Almost", 90))
    return Pipeline.create(pipeline_id, "New business", stages, NOW)


def opportunity(**details: object) -> Opportunity:
    values = {"display_name": "Engine", "value": Money("EUR", Decimal("1.5")), **details}
    return Opportunity.create("d1", OpportunityDetails(**values), pipeline(), "lead", NOW)  # type: ignore[arg-type]


def test_a_reason_closes_only_deals_of_its_kind_and_only_while_current() -> None:
    reason = CloseReason.create("price", ReasonKind.LOST, CloseReasonDetails(" Price "), NOW)
    assert reason.details.display_name == "Price" and reason.name == "closeReasons/price"
    reason.check_closes(State.LOST, "close_reason")
    with pytest.raises(InvalidArgument) as wrong_kind:
        reason.check_closes(State.WON, "close_reason")
    assert [v.field for v in wrong_kind.value.violations] == ["close_reason"]
    assert reason.update({"archived": True}, NOW) == ["archived"]
    assert reason.version == 2
    with pytest.raises(FailedPrecondition, match="archived"):
        reason.check_closes(State.LOST, "close_reason")


def test_a_reason_needs_a_kind_a_name_and_an_id() -> None:
    with pytest.raises(InvalidArgument) as error:
        CloseReason.create("Bad Id", None, CloseReasonDetails(""), NOW)
    assert {v.field for v in error.value.violations} == {
        "close_reason_id",
        "close_reason.kind",
        "close_reason.display_name",
    }


def test_a_merge_repoints_people_and_organization_without_duplicates() -> None:
    deal = opportunity(
        people=("people/a", "people/b", "people/c"), organization="organizations/old"
    )
    assert deal.repoint_contacts({"people/a", "people/c"}, "people/b", NOW)
    assert deal.details.people == ("people/b",)
    assert deal.version == 2
    assert deal.repoint_contacts({"organizations/old"}, "organizations/new", NOW)
    assert deal.details.organization == "organizations/new"
    assert not deal.repoint_contacts({"people/zzz"}, "people/b", NOW)
    assert deal.version == 3


def test_erasure_forgets_the_contact_even_on_closed_deals() -> None:
    deal = opportunity(people=("people/a", "people/b"))
    deal.close(State.LOST, "price", NOW)
    assert deal.forget_contact("people/a", NOW + timedelta(hours=1))
    assert deal.details.people == ("people/b",)
    assert not deal.forget_contact("people/a", NOW)


def test_history_names_the_pipeline_of_every_stage() -> None:
    deal = opportunity()
    other = pipeline("renewals")
    assert deal.move_to(other, "won", NOW + timedelta(days=1))
    deal.close(State.WON, "price", NOW + timedelta(days=2))
    deal.reopen(NOW + timedelta(days=3))
    assert [(v.pipeline_id, v.stage_id) for v in deal.stage_history] == [
        ("new", "lead"),
        ("renewals", "won"),
        ("renewals", "won"),
    ]
    assert Deal(deal, other).probability == 90


def test_custom_fields_are_checked_and_sorted() -> None:
    with pytest.raises(InvalidArgument) as error:
        opportunity(custom_fields={"Region": "x", "ok": "y" * 1001})
    assert {v.field for v in error.value.violations} == {
        "opportunity.custom_fields['Region']",
        "opportunity.custom_fields['ok']",
    }
    assert list(opportunity(custom_fields={"b": "1", "a": "2"}).details.custom_fields) == ["a", "b"]
