"""Opportunities through the sales service, on SQLite and PostgreSQL: create,
read, list with filters and pages, edit with etags, move, win, lose, reopen,
exact money, precise errors, and the events each change announces."""

import uuid

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from google.type.date_pb2 import Date
from google.type.money_pb2 import Money

from crm.contacts.v1 import contacts_service_pb2 as contacts
from crm.contacts.v1 import organization_pb2, person_pb2
from crm.events.v1.event_pb2 import Event
from crm.sales.v1 import close_reason_pb2 as crp
from crm.sales.v1 import events_pb2
from crm.sales.v1 import opportunity_pb2 as op
from crm.sales.v1 import pipeline_pb2 as pp
from crm.sales.v1 import sales_service_pb2 as pb
from crm.sales.v1.sales_service_pb2_grpc import SalesServiceStub
from tests.integration.harness import (
    Suite,
    eventually,
    field_violations,
    published_events,
    rpc_error,
)

OPEN, WON, LOST = op.OPPORTUNITY_STATE_OPEN, op.OPPORTUNITY_STATE_WON, op.OPPORTUNITY_STATE_LOST


@pytest.fixture(scope="module")
def sales(sales_suite: Suite) -> SalesServiceStub:
    return sales_suite.stub("sales", SalesServiceStub)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def new_pipeline(sales: SalesServiceStub, *stages: tuple[str, int]) -> pp.Pipeline:
    stages = stages or (("lead", 10), ("proposal", 50), ("negotiation", 80))
    pipeline = pp.Pipeline(
        display_name="New business",
        stages=[pp.Stage(id=i, display_name=i.title(), probability=p) for i, p in stages],
    )
    request = pb.CreatePipelineRequest(pipeline=pipeline, pipeline_id=unique("p"))
    return sales.CreatePipeline(request)


def new_reason(sales: SalesServiceStub, kind: int, **fields: object) -> crp.CloseReason:
    reason = crp.CloseReason(display_name="Price", kind=kind, **fields)
    return sales.CreateCloseReason(
        pb.CreateCloseReasonRequest(close_reason=reason, close_reason_id=unique("r"))
    )


def new_person(suite: Suite) -> str:
    """A person sales has heard of."""
    person = person_pb2.Person(given_name="Ada", family_name=uuid.uuid4().hex[:8])
    name = suite.contacts.CreatePerson(contacts.CreatePersonRequest(person=person)).name
    wait_until_known(suite, person=name)
    return name


def new_organization(suite: Suite) -> str:
    organization = organization_pb2.Organization(display_name=f"Engines {uuid.uuid4().hex[:8]}")
    request = contacts.CreateOrganizationRequest(organization=organization)
    name = suite.contacts.CreateOrganization(request).name
    wait_until_known(suite, organization=name)
    return name


def wait_until_known(suite: Suite, person: str = "", organization: str = "") -> None:
    """Sales learns of contacts from events: a link is accepted once it has."""
    sales = suite.stub("sales", SalesServiceStub)
    pipeline = new_pipeline(sales)
    probe = deal(pipeline, people=[person] if person else [], organization=organization)
    eventually(lambda: sales.CreateOpportunity(pb.CreateOpportunityRequest(opportunity=probe)))


def money(currency: str, units: int, nanos: int = 0) -> Money:
    return Money(currency_code=currency, units=units, nanos=nanos)


def deal(in_pipeline: pp.Pipeline, **fields: object) -> op.Opportunity:
    values: dict[str, object] = {
        "display_name": "Analytical Engine",
        "value": money("EUR", 1000),
        "pipeline": in_pipeline.name,
        "owner": "ada",
        **fields,
    }
    return op.Opportunity(**values)


def create(sales: SalesServiceStub, pipeline: pp.Pipeline, **fields: object) -> op.Opportunity:
    request = pb.CreateOpportunityRequest(
        opportunity=deal(pipeline, **fields), opportunity_id=unique("o")
    )
    return sales.CreateOpportunity(request)


def sales_events(suite: Suite, aggregate_id: str) -> list[Event]:
    """Every event about the aggregate on the sales stream, in stream order."""
    return published_events(suite.nats.url, "sales", aggregate_id)


def opportunity_id(opportunity: op.Opportunity) -> str:
    return opportunity.name.removeprefix("opportunities/")


def test_create_get_and_exact_money(sales_suite: Suite, sales: SalesServiceStub) -> None:
    pipeline = new_pipeline(sales)
    person, organization = new_person(sales_suite), new_organization(sales_suite)
    created = create(
        sales,
        pipeline,
        value=money("USD", 1234, 560_000_000),
        people=[person],
        organization=organization,
        expected_close_date=Date(year=2031, month=3, day=31),
        tags=["VIP", "vip", "Q1"],
        custom_fields={"region": "emea"},
    )
    assert created.state == OPEN
    assert created.stage == f"{pipeline.name}/stages/lead"
    assert created.effective_probability == 10
    assert not created.HasField("probability")
    assert created.effective_forecast_category == op.FORECAST_CATEGORY_PIPELINE
    assert (created.value.units, created.value.nanos) == (1234, 560_000_000)
    assert list(created.tags) == ["vip", "q1"]
    assert [v.stage for v in created.stage_history] == [created.stage]
    assert not created.stage_history[0].HasField("leave_time")
    fetched = sales.GetOpportunity(pb.GetOpportunityRequest(name=created.name))
    assert fetched == created

    def announced() -> None:
        events = sales_events(sales_suite, opportunity_id(created))
        assert [e.type for e in events] == ["opportunity.created"]
        event = events[0]
        payload = events_pb2.OpportunityCreated()
        assert event.payload.Unpack(payload)
        assert payload.opportunity.owner == "ada"
        assert payload.opportunity.value == created.value

    eventually(announced)


def test_a_retried_create_returns_the_same_opportunity(sales: SalesServiceStub) -> None:
    pipeline = new_pipeline(sales)
    request = pb.CreateOpportunityRequest(opportunity=deal(pipeline), opportunity_id=unique("o"))
    first = sales.CreateOpportunity(request)
    assert sales.CreateOpportunity(request) == first
    request.opportunity.display_name = "Something else"
    assert rpc_error(lambda: sales.CreateOpportunity(request)).code() == (
        grpc.StatusCode.ALREADY_EXISTS
    )


def test_create_refuses_bad_input(sales: SalesServiceStub) -> None:
    pipeline = new_pipeline(sales)

    def violations(**fields: object) -> dict[str, str]:
        request = pb.CreateOpportunityRequest(opportunity=deal(pipeline, **fields))
        error = rpc_error(lambda: sales.CreateOpportunity(request))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
        return field_violations(error)

    assert set(violations(display_name=" ")) == {"opportunity.display_name"}
    assert set(violations(value=money("euro", 1))) == {"opportunity.value.currency_code"}
    assert set(violations(value=money("EUR", -5))) == {"opportunity.value"}
    assert set(violations(value=money("EUR", 1, -5))) == {"opportunity.value.nanos"}
    assert set(violations(value=Money())) == {"opportunity.value"}
    assert set(violations(probability=101)) == {"opportunity.probability"}
    assert set(violations(people=["nobody"])) == {"opportunity.people[0]"}
    assert set(violations(organization="people/1")) == {"opportunity.organization"}
    assert set(violations(custom_fields={"Bad Key": "x"})) == {
        "opportunity.custom_fields['Bad Key']"
    }
    assert set(violations(expected_close_date=Date(year=2031, month=2, day=30))) == {
        "opportunity.expected_close_date"
    }
    assert set(violations(pipeline="boards/1")) == {"opportunity.pipeline"}
    assert set(violations(stage="pipelines/other/stages/lead")) == {"opportunity.stage"}
    assert set(violations(stage=f"{pipeline.name}/stages/nowhere")) == {"opportunity.stage"}
    assert set(violations(forecast_category=op.FORECAST_CATEGORY_CLOSED)) == {
        "opportunity.forecast_category"
    }
    missing = pb.CreateOpportunityRequest()
    assert set(field_violations(rpc_error(lambda: sales.CreateOpportunity(missing)))) == {
        "opportunity"
    }
    bad_id = pb.CreateOpportunityRequest(opportunity=deal(pipeline), opportunity_id="Not An Id")
    assert set(field_violations(rpc_error(lambda: sales.CreateOpportunity(bad_id)))) == {
        "opportunity_id"
    }


def test_links_to_unknown_contacts_are_refused(sales: SalesServiceStub) -> None:
    pipeline = new_pipeline(sales)
    for fields in ({"people": ["people/never-heard-of"]}, {"organization": "organizations/no"}):
        request = pb.CreateOpportunityRequest(opportunity=deal(pipeline, **fields))
        error = rpc_error(lambda: sales.CreateOpportunity(request))  # noqa: B023
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    gone = pb.CreateOpportunityRequest(opportunity=deal(pp.Pipeline(name="pipelines/gone")))
    assert rpc_error(lambda: sales.CreateOpportunity(gone)).code() == (
        grpc.StatusCode.FAILED_PRECONDITION
    )


def test_update_with_mask_and_etag(sales_suite: Suite, sales: SalesServiceStub) -> None:
    pipeline = new_pipeline(sales)
    created = create(sales, pipeline)
    change = op.Opportunity(
        name=created.name, etag=created.etag, probability=75, owner="bob", display_name="ignored"
    )
    updated = sales.UpdateOpportunity(
        pb.UpdateOpportunityRequest(
            opportunity=change, update_mask=FieldMask(paths=["probability", "owner"])
        )
    )
    assert (updated.owner, updated.probability, updated.effective_probability) == ("bob", 75, 75)
    assert updated.display_name == "Analytical Engine"
    assert updated.effective_forecast_category == op.FORECAST_CATEGORY_BEST_CASE
    stale = pb.UpdateOpportunityRequest(
        opportunity=op.Opportunity(name=created.name, etag=created.etag, owner="eve"),
        update_mask=FieldMask(paths=["owner"]),
    )
    assert rpc_error(lambda: sales.UpdateOpportunity(stale)).code() == grpc.StatusCode.ABORTED
    cleared = sales.UpdateOpportunity(
        pb.UpdateOpportunityRequest(
            opportunity=op.Opportunity(name=created.name),
            update_mask=FieldMask(paths=["probability"]),
        )
    )
    assert not cleared.HasField("probability") and cleared.effective_probability == 10

    def announced() -> None:
        types = [e.type for e in sales_events(sales_suite, opportunity_id(created))]
        assert types == ["opportunity.created", "opportunity.updated", "opportunity.updated"]

    eventually(announced)


def test_update_refuses_bad_input(sales: SalesServiceStub) -> None:
    created = create(sales, new_pipeline(sales))

    def error(opportunity: op.Opportunity, *paths: str) -> grpc.RpcError:
        request = pb.UpdateOpportunityRequest(
            opportunity=opportunity, update_mask=FieldMask(paths=list(paths))
        )
        return rpc_error(lambda: sales.UpdateOpportunity(request))

    assert set(field_violations(error(op.Opportunity(name="x/1"), "owner"))) == {"opportunity.name"}
    assert set(field_violations(error(op.Opportunity(name=created.name), "stage"))) == {
        "update_mask"
    }
    assert set(field_violations(error(op.Opportunity(name=created.name), "value"))) == {
        "opportunity.value"
    }
    missing = error(op.Opportunity(name="opportunities/none"), "owner")
    assert missing.code() == grpc.StatusCode.NOT_FOUND
    assert set(
        field_violations(rpc_error(lambda: sales.UpdateOpportunity(pb.UpdateOpportunityRequest())))
    ) == {"opportunity"}


def test_move_win_lose_reopen(sales_suite: Suite, sales: SalesServiceStub) -> None:
    pipeline, other = new_pipeline(sales), new_pipeline(sales, ("intro", 20), ("deal", 90))
    won_reason, lost_reason = (
        new_reason(sales, crp.CLOSE_REASON_KIND_WON),
        new_reason(sales, crp.CLOSE_REASON_KIND_LOST),
    )
    created = create(sales, pipeline)
    moved = sales.MoveOpportunity(
        pb.MoveOpportunityRequest(name=created.name, stage=f"{pipeline.name}/stages/proposal")
    )
    assert moved.effective_probability == 50
    across = sales.MoveOpportunity(
        pb.MoveOpportunityRequest(name=created.name, stage=f"{other.name}/stages/deal")
    )
    assert across.pipeline == other.name and across.effective_probability == 90
    assert [v.stage for v in across.stage_history] == [
        f"{pipeline.name}/stages/lead",
        f"{pipeline.name}/stages/proposal",
        f"{other.name}/stages/deal",
    ]
    assert all(v.HasField("leave_time") for v in across.stage_history[:2])
    wrong_kind = pb.WinOpportunityRequest(name=created.name, close_reason=lost_reason.name)
    assert set(field_violations(rpc_error(lambda: sales.WinOpportunity(wrong_kind)))) == {
        "close_reason"
    }
    won = sales.WinOpportunity(
        pb.WinOpportunityRequest(name=created.name, close_reason=won_reason.name, etag=across.etag)
    )
    assert won.state == WON and won.close_reason == won_reason.name
    assert won.effective_probability == 100
    assert won.effective_forecast_category == op.FORECAST_CATEGORY_CLOSED
    assert won.HasField("close_time")
    again = pb.LoseOpportunityRequest(name=created.name, close_reason=lost_reason.name)
    assert rpc_error(lambda: sales.LoseOpportunity(again)).code() == (
        grpc.StatusCode.FAILED_PRECONDITION
    )
    reopened = sales.ReopenOpportunity(pb.ReopenOpportunityRequest(name=created.name))
    assert reopened.state == OPEN and not reopened.close_reason
    assert not reopened.HasField("close_time")
    lost = sales.LoseOpportunity(again)
    assert lost.state == LOST and lost.effective_probability == 0

    def announced() -> None:
        events = sales_events(sales_suite, opportunity_id(created))
        assert [e.type for e in events] == [
            "opportunity.created",
            "opportunity.stage_changed",
            "opportunity.stage_changed",
            "opportunity.won",
            "opportunity.reopened",
            "opportunity.lost",
        ]
        payload = events_pb2.OpportunityLost()
        assert events[-1].payload.Unpack(payload)
        assert payload.reason == lost_reason.name
        assert payload.opportunity.value == created.value
        changed = events_pb2.OpportunityStageChanged()
        assert events[2].payload.Unpack(changed)
        assert changed.previous_stage == f"{pipeline.name}/stages/proposal"

    eventually(announced)


def test_closing_and_moving_refuse_bad_input(sales: SalesServiceStub) -> None:
    pipeline = new_pipeline(sales)
    created = create(sales, pipeline)
    archived = new_reason(sales, crp.CLOSE_REASON_KIND_WON, archived=True)
    no_reason = pb.WinOpportunityRequest(name=created.name)
    assert set(field_violations(rpc_error(lambda: sales.WinOpportunity(no_reason)))) == {
        "close_reason"
    }
    bad_reason = pb.LoseOpportunityRequest(name=created.name, close_reason="reasons/1")
    assert set(field_violations(rpc_error(lambda: sales.LoseOpportunity(bad_reason)))) == {
        "close_reason"
    }
    for call, request in (
        (
            sales.WinOpportunity,
            pb.WinOpportunityRequest(name=created.name, close_reason=archived.name),
        ),
        (
            sales.LoseOpportunity,
            pb.LoseOpportunityRequest(name=created.name, close_reason="closeReasons/none"),
        ),
        (sales.ReopenOpportunity, pb.ReopenOpportunityRequest(name=created.name)),
    ):
        error = rpc_error(lambda: call(request))  # noqa: B023
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION, error.details()
    for stage in ("lead", "pipelines/x", f"{pipeline.name}/stages/nowhere"):
        request = pb.MoveOpportunityRequest(name=created.name, stage=stage)
        assert set(field_violations(rpc_error(lambda: sales.MoveOpportunity(request)))) == {  # noqa: B023
            "stage"
        }
    stale = pb.MoveOpportunityRequest(
        name=created.name, stage=f"{pipeline.name}/stages/proposal", etag='W/"0"'
    )
    assert rpc_error(lambda: sales.MoveOpportunity(stale)).code() == grpc.StatusCode.ABORTED
    for call, request in (
        (sales.GetOpportunity, pb.GetOpportunityRequest(name="opportunities/none")),
        (sales.ReopenOpportunity, pb.ReopenOpportunityRequest(name="opportunities/none")),
        (sales.DeleteOpportunity, pb.DeleteOpportunityRequest(name="opportunities/none")),
    ):
        assert rpc_error(lambda: call(request)).code() == grpc.StatusCode.NOT_FOUND  # noqa: B023
    for call, request in (
        (sales.GetOpportunity, pb.GetOpportunityRequest(name="deals/1")),
        (sales.WinOpportunity, pb.WinOpportunityRequest(name="", close_reason=archived.name)),
        (sales.DeleteOpportunity, pb.DeleteOpportunityRequest(name="opportunities/")),
    ):
        assert set(field_violations(rpc_error(lambda: call(request)))) == {"name"}  # noqa: B023


def test_delete_with_etag(sales: SalesServiceStub) -> None:
    created = create(sales, new_pipeline(sales))
    stale = pb.DeleteOpportunityRequest(name=created.name, etag='W/"99"')
    assert rpc_error(lambda: sales.DeleteOpportunity(stale)).code() == grpc.StatusCode.ABORTED
    sales.DeleteOpportunity(pb.DeleteOpportunityRequest(name=created.name, etag=created.etag))
    gone = pb.GetOpportunityRequest(name=created.name)
    assert rpc_error(lambda: sales.GetOpportunity(gone)).code() == grpc.StatusCode.NOT_FOUND


def test_list_filters_orders_and_pages(sales_suite: Suite, sales: SalesServiceStub) -> None:
    pipeline = new_pipeline(sales)
    owner = unique("owner")
    organization = new_organization(sales_suite)
    made = [
        create(
            sales,
            pipeline,
            owner=owner,
            value=money(currency, units),
            tags=tags,
            expected_close_date=Date(year=2030, month=month, day=1),
            organization=organization if units > 100 else "",
            custom_fields={"region": region},
        )
        for currency, units, tags, month, region in (
            ("EUR", 100, ["a"], 1, "emea"),
            ("USD", 300, ["a", "b"], 2, "apac"),
            ("EUR", 200, [], 3, "emea"),
        )
    ]

    def names(text: str, order_by: str = "") -> list[str]:
        request = pb.ListOpportunitiesRequest(
            filter=f'owner = "{owner}" AND {text}', order_by=order_by
        )
        return [o.name for o in sales.ListOpportunities(request).opportunities]

    first, second, third = (m.name for m in made)
    assert names('value.currency_code = "EUR"', "value") == [first, third]
    assert names('tags:"A"', "value desc") == [second, first]
    assert names(f'pipeline = "{pipeline.name}" AND state = OPEN', "create_time") == [
        first,
        second,
        third,
    ]
    assert names(f'stage = "{pipeline.name}/stages/lead" AND value.units > 150', "value") == [
        third,
        second,
    ]
    assert names('expected_close_date < "2030-02-15"', "value") == [first, second]
    assert names(f'organization = "{organization}"', "value") == [third, second]
    assert names('custom_fields.region = "emea"', "value") == [first, third]
    assert names('create_time > "2000-01-01T00:00:00Z"', "value") == [first, third, second]
    pages: list[str] = []
    token = ""
    while True:
        request = pb.ListOpportunitiesRequest(
            filter=f'owner = "{owner}"', order_by="value desc", page_size=2, page_token=token
        )
        response = sales.ListOpportunities(request)
        pages.extend(o.name for o in response.opportunities)
        token = response.next_page_token
        if not token:
            break
    assert pages == [second, third, first]
    for bad in (
        pb.ListOpportunitiesRequest(filter="colour = 1"),
        pb.ListOpportunitiesRequest(filter='expected_close_date < "soon"'),
        pb.ListOpportunitiesRequest(order_by="colour"),
        pb.ListOpportunitiesRequest(page_size=-1),
        pb.ListOpportunitiesRequest(page_token="garbage"),
    ):
        error = rpc_error(lambda: sales.ListOpportunities(bad))  # noqa: B023
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, bad
        assert field_violations(error)
