"""Sales follows the contacts service's events, on SQLite and PostgreSQL:
links only to contacts it knows, deals re-pointed on a merge, people removed
from deals on erasure, each change announced."""

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from crm.contacts.v1 import contacts_service_pb2 as contacts
from crm.sales.v1 import events_pb2
from crm.sales.v1 import opportunity_pb2 as op
from crm.sales.v1 import sales_service_pb2 as pb
from crm.sales.v1.sales_service_pb2_grpc import SalesServiceStub
from tests.integration.harness import Suite, eventually, rpc_error
from tests.integration.test_sales_opportunities import (
    create,
    deal,
    new_organization,
    new_person,
    new_pipeline,
    opportunity_id,
    sales_events,
)


@pytest.fixture(scope="module")
def sales(sales_suite: Suite) -> SalesServiceStub:
    return sales_suite.stub("sales", SalesServiceStub)


def test_a_merge_repoints_deals_to_the_survivor(
    sales_suite: Suite, sales: SalesServiceStub
) -> None:
    survivor, merged, other = (new_person(sales_suite) for _ in range(3))
    pipeline = new_pipeline(sales)
    both = create(sales, pipeline, people=[merged, survivor, other])
    only_merged = create(sales, pipeline, people=[merged])
    sales_suite.contacts.MergePeople(
        contacts.MergePeopleRequest(person=survivor, merged_people=[merged])
    )

    def repointed() -> None:
        first = sales.GetOpportunity(pb.GetOpportunityRequest(name=both.name))
        assert list(first.people) == [survivor, other]
        assert first.etag != both.etag
        second = sales.GetOpportunity(pb.GetOpportunityRequest(name=only_merged.name))
        assert list(second.people) == [survivor]

    eventually(repointed)
    relink = pb.CreateOpportunityRequest(opportunity=deal(pipeline, people=[merged]))
    assert rpc_error(lambda: sales.CreateOpportunity(relink)).code() == (
        grpc.StatusCode.FAILED_PRECONDITION
    )

    def announced() -> None:
        events = sales_events(sales_suite, opportunity_id(only_merged))
        assert [e.type for e in events] == ["opportunity.created", "opportunity.updated"]
        payload = events_pb2.OpportunityUpdated()
        assert events[-1].payload.Unpack(payload)
        assert list(payload.changed_fields) == ["people"]

    eventually(announced)


def test_an_erased_person_leaves_every_deal(sales_suite: Suite, sales: SalesServiceStub) -> None:
    erased, kept = new_person(sales_suite), new_person(sales_suite)
    organization = new_organization(sales_suite)
    pipeline = new_pipeline(sales)
    linked = create(sales, pipeline, people=[erased, kept], organization=organization)
    sales_suite.contacts.ErasePerson(contacts.ErasePersonRequest(name=erased))

    def scrubbed() -> None:
        current = sales.GetOpportunity(pb.GetOpportunityRequest(name=linked.name))
        assert list(current.people) == [kept]
        assert current.organization == organization

    eventually(scrubbed)
    relink = pb.UpdateOpportunityRequest(
        opportunity=op.Opportunity(name=linked.name, people=[kept, erased]),
        update_mask=FieldMask(paths=["people"]),
    )
    assert rpc_error(lambda: sales.UpdateOpportunity(relink)).code() == (
        grpc.StatusCode.FAILED_PRECONDITION
    )


def test_deleted_organizations_cannot_be_linked(
    sales_suite: Suite, sales: SalesServiceStub
) -> None:
    organization = new_organization(sales_suite)
    pipeline = new_pipeline(sales)
    sales_suite.contacts.DeleteOrganization(contacts.DeleteOrganizationRequest(name=organization))
    request = pb.CreateOpportunityRequest(opportunity=deal(pipeline, organization=organization))

    def refused() -> None:
        error = rpc_error(lambda: sales.CreateOpportunity(request))
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION

    eventually(refused)
