"""Pipelines, their stages and the close reasons, on SQLite and PostgreSQL:
CRUD, stage rename/reorder/archive without losing history, the refusals
that protect deals, and precise errors."""

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from crm.sales.v1 import close_reason_pb2 as crp
from crm.sales.v1 import pipeline_pb2 as pp
from crm.sales.v1 import sales_service_pb2 as pb
from crm.sales.v1.sales_service_pb2_grpc import SalesServiceStub
from tests.integration.harness import Suite, field_violations, rpc_error
from tests.integration.test_sales_opportunities import (
    create,
    new_pipeline,
    new_reason,
    unique,
)
from tests.integration.test_sales_opportunities import (
    deal as deal_message,
)


@pytest.fixture(scope="module")
def sales(sales_suite: Suite) -> SalesServiceStub:
    return sales_suite.stub("sales", SalesServiceStub)


def update(sales: SalesServiceStub, pipeline: pp.Pipeline, *paths: str) -> pp.Pipeline:
    request = pb.UpdatePipelineRequest(pipeline=pipeline, update_mask=FieldMask(paths=list(paths)))
    return sales.UpdatePipeline(request)


def stage(stage_id: str, probability: int, archived: bool = False) -> pp.Stage:
    return pp.Stage(
        id=stage_id, display_name=stage_id.title(), probability=probability, archived=archived
    )


def test_create_get_list_and_retry(sales: SalesServiceStub) -> None:
    pipeline = pp.Pipeline(display_name=" Renewals ", stages=[stage("intro", 10), stage("won", 90)])
    request = pb.CreatePipelineRequest(pipeline=pipeline, pipeline_id=unique("p"))
    created = sales.CreatePipeline(request)
    assert created.display_name == "Renewals"
    assert [s.name for s in created.stages] == [
        f"{created.name}/stages/intro",
        f"{created.name}/stages/won",
    ]
    assert sales.CreatePipeline(request) == created
    assert sales.GetPipeline(pb.GetPipelineRequest(name=created.name)) == created
    listed = sales.ListPipelines(
        pb.ListPipelinesRequest(filter=f'create_time >= "{created.create_time.ToJsonString()}"')
    )
    assert created.name in [p.name for p in listed.pipelines]
    request.pipeline.display_name = "Other"
    assert rpc_error(lambda: sales.CreatePipeline(request)).code() == (
        grpc.StatusCode.ALREADY_EXISTS
    )


def test_create_refuses_bad_input(sales: SalesServiceStub) -> None:
    def violations(request: pb.CreatePipelineRequest) -> set[str]:
        error = rpc_error(lambda: sales.CreatePipeline(request))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        return set(field_violations(error))

    assert violations(pb.CreatePipelineRequest()) == {"pipeline"}
    assert violations(pb.CreatePipelineRequest(pipeline=pp.Pipeline(display_name="x"))) == {
        "pipeline.stages"
    }
    bad = pp.Pipeline(
        display_name="",
        stages=[stage("a", 120), stage("a", 5), pp.Stage(id="Bad Id", display_name="")],
    )
    assert violations(pb.CreatePipelineRequest(pipeline=bad, pipeline_id="No")) == {
        "pipeline_id",
        "pipeline.display_name",
        "pipeline.stages[0].probability",
        "pipeline.stages[1].id",
        "pipeline.stages[2].id",
        "pipeline.stages[2].display_name",
    }


def test_stages_rename_reorder_add_and_follow_defaults(sales: SalesServiceStub) -> None:
    pipeline = new_pipeline(sales)
    deal = create(sales, pipeline)
    overridden = create(sales, pipeline, probability=33)
    lead, proposal, negotiation = pipeline.stages
    lead.display_name, lead.probability = "Qualified lead", 20
    changed = pp.Pipeline(
        name=pipeline.name,
        etag=pipeline.etag,
        stages=[proposal, lead, stage("demo", 40), negotiation],
    )
    updated = update(sales, changed, "stages")
    assert [s.id for s in updated.stages] == ["proposal", "lead", "demo", "negotiation"]
    assert updated.stages[1].display_name == "Qualified lead"
    refreshed = sales.GetOpportunity(pb.GetOpportunityRequest(name=deal.name))
    assert refreshed.effective_probability == 20 and refreshed.etag != deal.etag
    kept = sales.GetOpportunity(pb.GetOpportunityRequest(name=overridden.name))
    assert kept.effective_probability == 33
    assert rpc_error(lambda: update(sales, changed, "stages")).code() == grpc.StatusCode.ABORTED
    renamed = update(sales, pp.Pipeline(name=pipeline.name, display_name="Renamed"), "display_name")
    assert renamed.display_name == "Renamed" and len(renamed.stages) == 4


def test_stages_are_archived_not_removed(sales: SalesServiceStub) -> None:
    pipeline = new_pipeline(sales)
    deal = create(sales, pipeline)
    lead, proposal, negotiation = pipeline.stages
    dropped = pp.Pipeline(name=pipeline.name, stages=[proposal, negotiation])
    error = rpc_error(lambda: update(sales, dropped, "stages"))
    assert set(field_violations(error)) == {"pipeline.stages"}
    lead.archived = True
    archiving = pp.Pipeline(name=pipeline.name, stages=[lead, proposal, negotiation])
    error = rpc_error(lambda: update(sales, archiving, "stages"))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    moved = sales.MoveOpportunity(
        pb.MoveOpportunityRequest(name=deal.name, stage=f"{pipeline.name}/stages/proposal")
    )
    archived = update(sales, archiving, "stages")
    assert archived.stages[0].archived
    history = sales.GetOpportunity(pb.GetOpportunityRequest(name=deal.name)).stage_history
    assert [v.stage for v in history] == [v.stage for v in moved.stage_history]
    back = pb.MoveOpportunityRequest(name=deal.name, stage=f"{pipeline.name}/stages/lead")
    assert rpc_error(lambda: sales.MoveOpportunity(back)).code() == (
        grpc.StatusCode.FAILED_PRECONDITION
    )
    into_archived = pb.CreateOpportunityRequest(
        opportunity=deal_message(pipeline, stage=f"{pipeline.name}/stages/lead")
    )
    assert rpc_error(lambda: sales.CreateOpportunity(into_archived)).code() == (
        grpc.StatusCode.FAILED_PRECONDITION
    )
    default_stage = sales.CreateOpportunity(
        pb.CreateOpportunityRequest(opportunity=deal_message(pipeline))
    )
    assert default_stage.stage == f"{pipeline.name}/stages/proposal"


def test_update_refuses_bad_input(sales: SalesServiceStub) -> None:
    pipeline = new_pipeline(sales)
    for request, field in (
        (pb.UpdatePipelineRequest(), "pipeline"),
        (pb.UpdatePipelineRequest(pipeline=pp.Pipeline(name="x")), "pipeline.name"),
        (
            pb.UpdatePipelineRequest(
                pipeline=pp.Pipeline(name=pipeline.name), update_mask=FieldMask(paths=["etag"])
            ),
            "update_mask",
        ),
        (
            pb.UpdatePipelineRequest(
                pipeline=pp.Pipeline(name=pipeline.name, display_name=" "),
                update_mask=FieldMask(paths=["display_name"]),
            ),
            "pipeline.display_name",
        ),
    ):
        error = rpc_error(lambda: sales.UpdatePipeline(request))  # noqa: B023
        assert set(field_violations(error)) == {field}
    missing = pp.Pipeline(name="pipelines/none", display_name="x")
    assert rpc_error(lambda: update(sales, missing, "display_name")).code() == (
        grpc.StatusCode.NOT_FOUND
    )


def test_delete_refused_while_opportunities_use_it(sales: SalesServiceStub) -> None:
    pipeline = new_pipeline(sales)
    deal = create(sales, pipeline)
    request = pb.DeletePipelineRequest(name=pipeline.name)
    assert rpc_error(lambda: sales.DeletePipeline(request)).code() == (
        grpc.StatusCode.FAILED_PRECONDITION
    )
    sales.DeleteOpportunity(pb.DeleteOpportunityRequest(name=deal.name))
    stale = pb.DeletePipelineRequest(name=pipeline.name, etag='W/"77"')
    assert rpc_error(lambda: sales.DeletePipeline(stale)).code() == grpc.StatusCode.ABORTED
    sales.DeletePipeline(request)
    assert rpc_error(
        lambda: sales.GetPipeline(pb.GetPipelineRequest(name=pipeline.name))
    ).code() == (grpc.StatusCode.NOT_FOUND)
    assert set(
        field_violations(rpc_error(lambda: sales.DeletePipeline(pb.DeletePipelineRequest())))
    ) == {"name"}
    for bad in (
        pb.ListPipelinesRequest(filter="stages = 1"),
        pb.ListPipelinesRequest(order_by="stages"),
        pb.ListPipelinesRequest(page_size=5000),
    ):
        assert rpc_error(lambda: sales.ListPipelines(bad)).code() == (  # noqa: B023
            grpc.StatusCode.INVALID_ARGUMENT
        )


def test_close_reasons(sales: SalesServiceStub) -> None:
    reason = new_reason(sales, crp.CLOSE_REASON_KIND_LOST)
    assert reason.name.startswith("closeReasons/") and not reason.archived
    assert sales.GetCloseReason(pb.GetCloseReasonRequest(name=reason.name)) == reason
    archived = sales.UpdateCloseReason(
        pb.UpdateCloseReasonRequest(
            close_reason=crp.CloseReason(
                name=reason.name, etag=reason.etag, archived=True, kind=crp.CLOSE_REASON_KIND_WON
            ),
            update_mask=FieldMask(paths=["archived"]),
        )
    )
    assert archived.archived and archived.kind == crp.CLOSE_REASON_KIND_LOST
    stale = pb.UpdateCloseReasonRequest(
        close_reason=crp.CloseReason(name=reason.name, etag=reason.etag, display_name="x"),
        update_mask=FieldMask(paths=["display_name"]),
    )
    assert rpc_error(lambda: sales.UpdateCloseReason(stale)).code() == grpc.StatusCode.ABORTED
    listed = sales.ListCloseReasons(
        pb.ListCloseReasonsRequest(filter="kind = LOST AND archived = true", page_size=1000)
    )
    assert reason.name in [r.name for r in listed.close_reasons]
    assert all(r.kind == crp.CLOSE_REASON_KIND_LOST for r in listed.close_reasons)
    for call, request, fields in (
        (sales.CreateCloseReason, pb.CreateCloseReasonRequest(), {"close_reason"}),
        (
            sales.CreateCloseReason,
            pb.CreateCloseReasonRequest(close_reason=crp.CloseReason(display_name=" ")),
            {"close_reason.kind", "close_reason.display_name"},
        ),
        (sales.GetCloseReason, pb.GetCloseReasonRequest(name="reasons/1"), {"name"}),
        (sales.UpdateCloseReason, pb.UpdateCloseReasonRequest(), {"close_reason"}),
        (
            sales.UpdateCloseReason,
            pb.UpdateCloseReasonRequest(
                close_reason=crp.CloseReason(name=reason.name),
                update_mask=FieldMask(paths=["kind"]),
            ),
            {"update_mask"},
        ),
        (sales.ListCloseReasons, pb.ListCloseReasonsRequest(filter="kind = MAYBE"), {"filter"}),
    ):
        error = rpc_error(lambda: call(request))  # noqa: B023
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert set(field_violations(error)) == fields
    missing = pb.GetCloseReasonRequest(name="closeReasons/none")
    assert rpc_error(lambda: sales.GetCloseReason(missing)).code() == grpc.StatusCode.NOT_FOUND
