"""Converting leads into contacts (over gRPC) and an opportunity: idempotent,
and never half-done when the contacts service is down."""

import os
import subprocess
import sys
import uuid

import grpc
import pytest
from google.type.money_pb2 import Money

from crm.contacts.v1 import contacts_service_pb2 as contacts_pb
from crm.sales.v1 import events_pb2, pipeline_pb2
from crm.sales.v1 import lead_pb2 as lp
from crm.sales.v1 import lead_service_pb2 as pb
from crm.sales.v1 import sales_service_pb2 as sales_pb
from crm.sales.v1.sales_service_pb2_grpc import SalesServiceStub
from tests.integration.harness import Suite, eventually, field_violations, rpc_error
from tests.integration.test_sales_leads import (
    QUALIFIED,
    create_lead,
    get_lead,
    leads,
    sales_events,
    update_lead,
)

CONVERTED = lp.LEAD_STATUS_CONVERTED


def qualified_lead(suite: Suite, **fields: object) -> lp.Lead:
    lead = create_lead(suite, **fields)
    lead.status = QUALIFIED
    return update_lead(suite, lead, "status")


def convert(suite: Suite, lead: lp.Lead, **fields: object) -> pb.ConvertLeadResponse:
    return leads(suite).ConvertLead(pb.ConvertLeadRequest(name=lead.name, **fields))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def pipeline(sales_suite: Suite) -> pipeline_pb2.Pipeline:
    stages = [
        pipeline_pb2.Stage(id="lead-in", display_name="Lead in", probability=10),
        pipeline_pb2.Stage(id="proposal", display_name="Proposal", probability=50),
    ]
    request = sales_pb.CreatePipelineRequest(
        pipeline=pipeline_pb2.Pipeline(display_name="New business", stages=stages)
    )
    return sales_suite.stub("sales", SalesServiceStub).CreatePipeline(request)


def test_conversion_creates_contacts_and_an_opportunity_once(
    sales_suite: Suite, pipeline: pipeline_pb2.Pipeline
) -> None:
    lead = qualified_lead(
        sales_suite,
        email=f"{uuid.uuid4().hex[:8]}@engines.example",
        company_name="Analytical Engines",
        title="CTO",
        owner="u7",
    )
    opportunity = pb.ConvertLeadRequest.OpportunitySpec(
        display_name="Engine, 2 units",
        value=Money(currency_code="EUR", units=1000),
        pipeline=pipeline.name,
        stage=f"{pipeline.name}/stages/proposal",
    )
    first = convert(sales_suite, lead, opportunity=opportunity, request_id="convert-1")
    assert first.person.startswith("people/") and first.organization.startswith("organizations/")
    assert first.opportunity.startswith("opportunities/")
    assert first.lead.status == CONVERTED and first.lead.converted_person == first.person

    person = sales_suite.contacts.GetPerson(contacts_pb.GetPersonRequest(name=first.person))
    assert (person.given_name, person.job_title) == ("Ada", "CTO")
    assert [e.address for e in person.email_addresses] == [lead.email]
    organization = sales_suite.contacts.GetOrganization(
        contacts_pb.GetOrganizationRequest(name=first.organization)
    )
    assert organization.display_name == "Analytical Engines"
    deal = sales_suite.stub("sales", SalesServiceStub).GetOpportunity(
        sales_pb.GetOpportunityRequest(name=first.opportunity)
    )
    assert deal.organization == first.organization and list(deal.people) == [first.person]
    assert deal.owner == "u7" and deal.value.units == 1000

    # A retry answers the same and creates nothing more.
    again = convert(sales_suite, lead, opportunity=opportunity, request_id="convert-1")
    assert (again.person, again.organization, again.opportunity) == (
        first.person,
        first.organization,
        first.opportunity,
    )
    people = sales_suite.contacts.ListPeople(
        contacts_pb.ListPeopleRequest(filter='family_name = "Lovelace" AND owner = "u7"')
    )
    assert [p.name for p in people.people] == [first.person]

    # Another conversion of a converted lead is refused; so is changing it.
    error = rpc_error(lambda: convert(sales_suite, lead, request_id="convert-2"))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    converted = get_lead(sales_suite, lead.name)
    converted.title = "CEO"
    error = rpc_error(lambda: update_lead(sales_suite, converted, "title"))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION

    lead_id = lead.name.removeprefix("leads/")

    def announced() -> None:
        events = [e for e in sales_events(sales_suite, lead_id) if e.type == "lead.converted"]
        assert len(events) == 1
        payload = events_pb2.LeadConverted()
        events[0].payload.Unpack(payload)
        assert payload.lead.converted_opportunity == first.opportunity

    eventually(announced)


def test_only_qualified_leads_with_a_name_convert(sales_suite: Suite) -> None:
    new = create_lead(sales_suite)
    assert rpc_error(lambda: convert(sales_suite, new)).code() == (
        grpc.StatusCode.FAILED_PRECONDITION
    )
    nameless = qualified_lead(sales_suite, given_name="", family_name="", company_name="Acme")
    assert rpc_error(lambda: convert(sales_suite, nameless)).code() == (
        grpc.StatusCode.FAILED_PRECONDITION
    )


def test_a_bad_opportunity_fails_before_any_contact_is_created(
    sales_suite: Suite, pipeline: pipeline_pb2.Pipeline
) -> None:
    family = f"Nobody{uuid.uuid4().hex[:8]}"
    lead = qualified_lead(sales_suite, family_name=family)
    bad_value = pb.ConvertLeadRequest.OpportunitySpec(
        display_name="Deal", value=Money(currency_code="euro", units=5), pipeline=pipeline.name
    )
    error = rpc_error(lambda: convert(sales_suite, lead, opportunity=bad_value))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "opportunity.value.currency_code" in field_violations(error)
    unknown_pipeline = pb.ConvertLeadRequest.OpportunitySpec(
        display_name="Deal", value=Money(currency_code="EUR", units=5), pipeline="pipelines/missing"
    )
    error = rpc_error(lambda: convert(sales_suite, lead, opportunity=unknown_pipeline))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    people = sales_suite.contacts.ListPeople(
        contacts_pb.ListPeopleRequest(filter=f'family_name = "{family}"')
    )
    assert list(people.people) == []
    assert get_lead(sales_suite, lead.name).status == QUALIFIED


def test_a_contacts_outage_fails_cleanly_and_a_retry_then_converts(
    sales_suite: Suite, pipeline: pipeline_pb2.Pipeline
) -> None:
    family = f"Outage{uuid.uuid4().hex[:8]}"
    lead = qualified_lead(sales_suite, family_name=family, company_name="Down Ltd")
    opportunity = pb.ConvertLeadRequest.OpportunitySpec(
        display_name="Deal", value=Money(currency_code="EUR", units=10), pipeline=pipeline.name
    )
    contacts = sales_suite.processes["contacts"]
    contacts.stop()
    try:
        error = rpc_error(lambda: convert(sales_suite, lead, opportunity=opportunity))
        assert error.code() == grpc.StatusCode.UNAVAILABLE, error.details()
        unchanged = get_lead(sales_suite, lead.name)
        assert unchanged.status == QUALIFIED and unchanged.etag == lead.etag
        assert unchanged.converted_person == ""
    finally:
        contacts.start()

    converted = eventually(lambda: convert(sales_suite, lead, opportunity=opportunity))
    assert converted.lead.status == CONVERTED and converted.opportunity
    again = convert(sales_suite, lead, opportunity=opportunity)
    assert again.person == converted.person
    people = sales_suite.contacts.ListPeople(
        contacts_pb.ListPeopleRequest(filter=f'family_name = "{family}"')
    )
    assert [p.name for p in people.people] == [converted.person]


def test_crm_sales_lead_convert_prints_what_it_created(
    sales_suite: Suite, pipeline: pipeline_pb2.Pipeline
) -> None:
    lead = qualified_lead(sales_suite, family_name="Cli", company_name="Terminal Ltd")
    command = [
        sys.executable,
        "-m",
        "crm_cli.main",
        "sales",
        "lead",
        "convert",
        lead.name.removeprefix("leads/"),
        "--opportunity",
        "Console deal",
        "--value",
        "1000.50",
        "EUR",
        "--pipeline",
        pipeline.name.removeprefix("pipelines/"),
    ]
    env = {**os.environ, "CRM_SALES_TARGET": sales_suite.processes["sales"].address}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    converted = get_lead(sales_suite, lead.name)
    assert converted.status == CONVERTED
    for name in (
        converted.converted_person,
        converted.converted_organization,
        converted.converted_opportunity,
    ):
        assert name and name in done.stdout
    deal = sales_suite.stub("sales", SalesServiceStub).GetOpportunity(
        sales_pb.GetOpportunityRequest(name=converted.converted_opportunity)
    )
    assert (deal.value.units, deal.value.nanos) == (1000, 500_000_000)
