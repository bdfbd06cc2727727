"""Workflow rules (WorkflowService): their CRUD, every action kind, the urgent
ticket that notifies the owners of its organization's open deals, redelivered
events, failing actions and loops stopped by the depth guard.

Contacts, sales and support run together. Each test scopes its rules to its
own records (a unique tag, source or organization in the condition), since
every rule sees every event of its trigger in the module.
"""

import asyncio
import uuid
from collections.abc import Iterator
from datetime import date
from typing import TypeVar

import grpc
import nats
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from google.type.date_pb2 import Date
from google.type.money_pb2 import Money

from crm.contacts.v1 import contacts_service_pb2 as contacts
from crm.contacts.v1 import organization_pb2
from crm.events.v1.event_pb2 import Event
from crm.sales.v1 import close_reason_pb2, lead_pb2, pipeline_pb2
from crm.sales.v1 import events_pb2 as sales_events
from crm.sales.v1 import lead_service_pb2 as leads
from crm.sales.v1 import sales_service_pb2 as sales
from crm.sales.v1 import workflow_rule_pb2 as wr
from crm.sales.v1 import workflow_service_pb2 as ws
from crm.sales.v1.lead_service_pb2_grpc import LeadServiceStub
from crm.sales.v1.opportunity_pb2 import Opportunity
from crm.sales.v1.sales_service_pb2_grpc import SalesServiceStub
from crm.sales.v1.workflow_service_pb2_grpc import WorkflowServiceStub
from crm.support.v1 import support_service_pb2 as support
from crm.support.v1 import ticket_pb2 as tp
from crm_cli.servers import NatsServer
from crm_common.messaging.envelope import subject_for
from tests.integration.harness import (
    Databases,
    Suite,
    eventually,
    field_violations,
    published_events,
    rpc_error,
    running_suite,
)

T = TypeVar("T")
SUBJECT = wr.WORKFLOW_TARGET_SUBJECT
ORGANIZATION_DEALS = wr.WORKFLOW_TARGET_ORGANIZATION_OPEN_OPPORTUNITIES
APPLIED = wr.WORKFLOW_RUN_OUTCOME_APPLIED
SKIPPED = wr.WORKFLOW_RUN_OUTCOME_SKIPPED_BY_CONDITION
STOPPED = wr.WORKFLOW_RUN_OUTCOME_STOPPED_BY_LOOP_GUARD
FAILED = wr.WORKFLOW_RUN_OUTCOME_FAILED


@pytest.fixture(scope="module")
def workflow_suite(
    suite_nats: NatsServer, databases: Databases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Suite]:
    logs = tmp_path_factory.mktemp("logs")
    with running_suite(["contacts", "sales", "support"], suite_nats, databases, logs) as suite:
        yield suite


@pytest.fixture(scope="module")
def workflows(workflow_suite: Suite) -> WorkflowServiceStub:
    return workflow_suite.stub("sales", WorkflowServiceStub)


@pytest.fixture(scope="module")
def deals(workflow_suite: Suite) -> SalesServiceStub:
    return workflow_suite.stub("sales", SalesServiceStub)


# --- helpers -----------------------------------------------------------------------


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def new_pipeline(deals: SalesServiceStub) -> pipeline_pb2.Pipeline:
    stages = [
        pipeline_pb2.Stage(id=stage, display_name=stage.title(), probability=probability)
        for stage, probability in (("lead", 10), ("proposal", 50), ("negotiation", 80))
    ]
    pipeline = pipeline_pb2.Pipeline(display_name="New business", stages=stages)
    return deals.CreatePipeline(
        sales.CreatePipelineRequest(pipeline=pipeline, pipeline_id=unique("p"))
    )


def new_deal(
    deals: SalesServiceStub, pipeline: pipeline_pb2.Pipeline, **fields: object
) -> Opportunity:
    values: dict[str, object] = {
        "display_name": "Analytical Engine",
        "value": Money(currency_code="EUR", units=1000),
        "pipeline": pipeline.name,
        "owner": "ada",
        **fields,
    }
    return deals.CreateOpportunity(
        sales.CreateOpportunityRequest(
            opportunity=Opportunity(**values), opportunity_id=unique("o")
        )
    )


def new_organization(suite: Suite, deals: SalesServiceStub) -> str:
    """An organization sales has heard of (it follows contacts through events)."""
    organization = organization_pb2.Organization(display_name=unique("Engines"))
    name = suite.contacts.CreateOrganization(
        contacts.CreateOrganizationRequest(organization=organization)
    ).name
    pipeline = new_pipeline(deals)
    eventually(lambda: new_deal(deals, pipeline, organization=name, tags=["probe"]))
    return name


def rule(**fields: object) -> wr.WorkflowRule:
    values: dict[str, object] = {
        "display_name": "Follow up",
        "trigger": "opportunity.created",
        "target": SUBJECT,
        "actions": [notify("Look at {target.display_name}")],
        **fields,
    }
    return wr.WorkflowRule(**values)


def notify(message: str, recipient: str = "") -> wr.WorkflowAction:
    return wr.WorkflowAction(notify=wr.NotifyAction(message=message, recipient=recipient))


def create_rule(workflows: WorkflowServiceStub, **fields: object) -> wr.WorkflowRule:
    request = ws.CreateWorkflowRuleRequest(
        workflow_rule=rule(**fields), workflow_rule_id=unique("r")
    )
    return workflows.CreateWorkflowRule(request)


def runs(workflows: WorkflowServiceStub, parent: str, filter: str = "") -> list[wr.WorkflowRun]:
    request = ws.ListWorkflowRunsRequest(parent=parent, filter=filter, page_size=1000)
    return list(workflows.ListWorkflowRuns(request).workflow_runs)


def rule_events(suite: Suite, created: wr.WorkflowRule, event_type: str) -> list[Event]:
    rule_id = created.name.removeprefix("workflowRules/")
    return [e for e in published_events(suite.nats.url, "sales", rule_id) if e.type == event_type]


def notifications(
    suite: Suite, created: wr.WorkflowRule
) -> list[sales_events.WorkflowNotification]:
    found = []
    for event in rule_events(suite, created, "workflow.notification"):
        payload = sales_events.WorkflowNotification()
        event.payload.Unpack(payload)
        found.append(payload)
    return found


def tasks(suite: Suite, created: wr.WorkflowRule) -> list[sales_events.WorkflowTaskRequested]:
    found = []
    for event in rule_events(suite, created, "workflow.task_requested"):
        payload = sales_events.WorkflowTaskRequested()
        event.payload.Unpack(payload)
        found.append(payload)
    return found


def publish_again(suite: Suite, event: Event, copies: int) -> None:
    """Puts the same envelope on the stream again, as a redelivery after a lost
    ack would (a fresh Nats-Msg-Id, or the broker would drop it as a duplicate)."""

    async def run() -> None:
        client = await nats.connect(suite.nats.url)
        try:
            js = client.jetstream()
            for _ in range(copies):
                await js.publish(
                    subject_for(event.source, event.type),
                    event.SerializeToString(),
                    headers={"Nats-Msg-Id": f"{event.id}:{uuid.uuid4().hex}"},
                )
        finally:
            await client.close()

    asyncio.run(run())


# --- CRUD ----------------------------------------------------------------------------


def test_create_get_list_update_delete(workflows: WorkflowServiceStub) -> None:
    trigger = "lead.updated"
    created = create_rule(
        workflows, trigger=trigger, condition='source = "web"', display_name=" Web leads "
    )
    assert created.display_name == "Web leads"
    assert created.enabled and created.etag
    assert workflows.GetWorkflowRule(ws.GetWorkflowRuleRequest(name=created.name)) == created

    listed = workflows.ListWorkflowRules(
        ws.ListWorkflowRulesRequest(filter=f'trigger = "{trigger}"', order_by="create_time desc")
    )
    assert created.name in [r.name for r in listed.workflow_rules]

    request = ws.UpdateWorkflowRuleRequest(
        workflow_rule=wr.WorkflowRule(name=created.name, enabled=False, etag=created.etag),
        update_mask=FieldMask(paths=["enabled"]),
    )
    updated = workflows.UpdateWorkflowRule(request)
    assert not updated.enabled and updated.etag != created.etag
    assert updated.actions == created.actions
    stale = rpc_error(lambda: workflows.UpdateWorkflowRule(request))
    assert stale.code() is grpc.StatusCode.ABORTED

    retried = ws.CreateWorkflowRuleRequest(
        workflow_rule=rule(display_name="Same"), workflow_rule_id=unique("r")
    )
    first = workflows.CreateWorkflowRule(retried)
    assert workflows.CreateWorkflowRule(retried) == first
    retried.workflow_rule.display_name = "Other"
    conflict = rpc_error(lambda: workflows.CreateWorkflowRule(retried))
    assert conflict.code() is grpc.StatusCode.ALREADY_EXISTS

    workflows.DeleteWorkflowRule(ws.DeleteWorkflowRuleRequest(name=created.name, etag=updated.etag))
    gone = rpc_error(
        lambda: workflows.GetWorkflowRule(ws.GetWorkflowRuleRequest(name=created.name))
    )
    assert gone.code() is grpc.StatusCode.NOT_FOUND


def test_bad_input_for_every_rpc(workflows: WorkflowServiceStub) -> None:
    def create_violations(**fields: object) -> dict[str, str]:
        request = ws.CreateWorkflowRuleRequest(workflow_rule=rule(**fields))
        error = rpc_error(lambda: workflows.CreateWorkflowRule(request))
        assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
        return field_violations(error)

    error = rpc_error(lambda: workflows.CreateWorkflowRule(ws.CreateWorkflowRuleRequest()))
    assert "workflow_rule" in field_violations(error)
    everything_wrong = create_violations(
        display_name=" ",
        trigger="opportunity.exploded",
        target=wr.WORKFLOW_TARGET_UNSPECIFIED,
        actions=[],
    )
    assert {
        "workflow_rule.display_name",
        "workflow_rule.trigger",
        "workflow_rule.target",
        "workflow_rule.actions",
    } <= set(everything_wrong)
    assert "workflow_rule.condition" in create_violations(condition="nonsense = 1")
    assert "workflow_rule.condition" in create_violations(condition='expected_close_date < "soon"')
    assert "workflow_rule.target" in create_violations(trigger="ticket.updated", target=SUBJECT)
    assert "workflow_rule.target" in create_violations(
        trigger="lead.created", target=ORGANIZATION_DEALS
    )
    assert "workflow_rule.actions[0]" in create_violations(actions=[wr.WorkflowAction()])
    bad_actions = create_violations(
        actions=[
            wr.WorkflowAction(move_stage=wr.MoveStageAction(stage="proposal")),
            wr.WorkflowAction(create_task=wr.CreateTaskAction(title="Call", due_in_days=400)),
            notify("Hello {target.shoe_size}"),
            wr.WorkflowAction(add_tag=wr.AddTagAction(tag="a,b")),
            wr.WorkflowAction(change_owner=wr.ChangeOwnerAction(owner="")),
        ]
    )
    assert {
        "workflow_rule.actions[0].move_stage.stage",
        "workflow_rule.actions[1].create_task.due_in_days",
        "workflow_rule.actions[2].notify.message",
        "workflow_rule.actions[3].add_tag.tag",
        "workflow_rule.actions[4].change_owner.owner",
    } <= set(bad_actions)
    assert "workflow_rule.actions[0]" in create_violations(
        trigger="lead.created",
        actions=[wr.WorkflowAction(add_tag=wr.AddTagAction(tag="hot"))],
    )
    assert "workflow_rule.actions" in create_violations(actions=[notify("x")] * 11)
    bad_id = ws.CreateWorkflowRuleRequest(workflow_rule=rule(), workflow_rule_id="Not An Id")
    assert "workflow_rule_id" in field_violations(
        rpc_error(lambda: workflows.CreateWorkflowRule(bad_id))
    )

    for name in ("", "rules/1", "workflowRules/"):
        get = ws.GetWorkflowRuleRequest(name=name)
        error = rpc_error(lambda get=get: workflows.GetWorkflowRule(get))
        assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    missing = ws.GetWorkflowRuleRequest(name="workflowRules/nope")
    assert rpc_error(lambda: workflows.GetWorkflowRule(missing)).code() is grpc.StatusCode.NOT_FOUND

    for request, field in (
        (ws.ListWorkflowRulesRequest(filter="colour = 1"), "filter"),
        (ws.ListWorkflowRulesRequest(order_by="trigger"), "order_by"),
        (ws.ListWorkflowRulesRequest(page_size=-1), "page_size"),
        (ws.ListWorkflowRulesRequest(page_token="garbage"), "page_token"),
    ):
        error = rpc_error(lambda request=request: workflows.ListWorkflowRules(request))
        assert field in field_violations(error)

    created = create_rule(workflows)
    for update, field in (
        (ws.UpdateWorkflowRuleRequest(), "workflow_rule"),
        (
            ws.UpdateWorkflowRuleRequest(workflow_rule=wr.WorkflowRule(name="x", display_name="y")),
            "workflow_rule.name",
        ),
        (
            ws.UpdateWorkflowRuleRequest(
                workflow_rule=wr.WorkflowRule(name=created.name),
                update_mask=FieldMask(paths=["create_time"]),
            ),
            "update_mask",
        ),
        (
            ws.UpdateWorkflowRuleRequest(
                workflow_rule=wr.WorkflowRule(name=created.name, trigger="nope"),
                update_mask=FieldMask(paths=["trigger"]),
            ),
            "workflow_rule.trigger",
        ),
    ):
        error = rpc_error(lambda update=update: workflows.UpdateWorkflowRule(update))
        assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert field in field_violations(error)
    missing_update = ws.UpdateWorkflowRuleRequest(
        workflow_rule=wr.WorkflowRule(name="workflowRules/nope", display_name="y")
    )
    assert rpc_error(lambda: workflows.UpdateWorkflowRule(missing_update)).code() is (
        grpc.StatusCode.NOT_FOUND
    )

    bad_delete = ws.DeleteWorkflowRuleRequest(name="nope")
    assert "name" in field_violations(rpc_error(lambda: workflows.DeleteWorkflowRule(bad_delete)))
    stale = ws.DeleteWorkflowRuleRequest(name=created.name, etag='W/"99"')
    assert rpc_error(lambda: workflows.DeleteWorkflowRule(stale)).code() is grpc.StatusCode.ABORTED

    for request, field in (
        (ws.ListWorkflowRunsRequest(parent=""), "parent"),
        (ws.ListWorkflowRunsRequest(parent="rules/-"), "parent"),
        (ws.ListWorkflowRunsRequest(parent="workflowRules/-", filter="outcome = MAYBE"), "filter"),
        (ws.ListWorkflowRunsRequest(parent="workflowRules/-", order_by="subject"), "order_by"),
    ):
        error = rpc_error(lambda request=request: workflows.ListWorkflowRuns(request))
        assert field in field_violations(error)
    missing_runs = ws.ListWorkflowRunsRequest(parent="workflowRules/nope")
    assert rpc_error(lambda: workflows.ListWorkflowRuns(missing_runs)).code() is (
        grpc.StatusCode.NOT_FOUND
    )


# --- Actions ---------------------------------------------------------------------------


def test_every_action_on_an_opportunity(
    workflow_suite: Suite, workflows: WorkflowServiceStub, deals: SalesServiceStub
) -> None:
    marker = unique("big")
    pipeline = new_pipeline(deals)
    created = create_rule(
        workflows,
        condition=f'tags:"{marker}" AND value.units > 5000',
        actions=[
            wr.WorkflowAction(add_tag=wr.AddTagAction(tag=" Big-Deal ")),
            wr.WorkflowAction(change_owner=wr.ChangeOwnerAction(owner="grace")),
            wr.WorkflowAction(
                move_stage=wr.MoveStageAction(stage=f"{pipeline.name}/stages/proposal")
            ),
            wr.WorkflowAction(
                create_task=wr.CreateTaskAction(
                    title="Call about {target.display_name}", due_in_days=3
                )
            ),
            notify("{target.owner} now owns {target.display_name} ({event.type})"),
        ],
    )
    small = new_deal(deals, pipeline, tags=[marker])
    big = new_deal(deals, pipeline, tags=[marker], value=Money(currency_code="EUR", units=9000))

    def acted() -> Opportunity:
        now = deals.GetOpportunity(sales.GetOpportunityRequest(name=big.name))
        assert list(now.tags) == [marker, "big-deal"]
        assert now.owner == "grace"
        assert now.stage == f"{pipeline.name}/stages/proposal"
        return now

    eventually(acted)
    untouched = deals.GetOpportunity(sales.GetOpportunityRequest(name=small.name))
    assert untouched.owner == "ada" and list(untouched.tags) == [marker]

    def ran() -> None:
        by_subject = {run.subject: run for run in runs(workflows, created.name)}
        assert by_subject[big.name].outcome == APPLIED
        assert list(by_subject[big.name].targets) == [big.name]
        assert by_subject[small.name].outcome == SKIPPED

    eventually(ran)
    (task,) = eventually(lambda: _one(tasks(workflow_suite, created)))
    assert task.title == "Call about Analytical Engine"
    assert task.assignee == "grace"  # the owner when the task was requested
    assert task.regarding == big.name and task.subject == big.name
    assert task.request_id.startswith(f"{created.name}/runs/")
    created_day = big.create_time.ToDatetime().date()
    due = task.due_date
    assert (due.year, due.month, due.day) != (0, 0, 0)
    assert (created_day.toordinal() + 3) == _ordinal(due)
    (note,) = eventually(lambda: _one(notifications(workflow_suite, created)))
    assert note.recipient == "grace"
    assert note.message == "grace now owns Analytical Engine (opportunity.created)"


def _one(items: list[T]) -> list[T]:
    assert len(items) == 1, items
    return items


def _only(items: list[T]) -> T:
    (item,) = _one(items)
    return item


def _ordinal(day: Date) -> int:
    return date(day.year, day.month, day.day).toordinal()


def test_a_failing_action_undoes_the_run_and_says_why(
    workflows: WorkflowServiceStub, deals: SalesServiceStub
) -> None:
    marker = unique("won")
    pipeline = new_pipeline(deals)
    created = create_rule(
        workflows,
        trigger="opportunity.won",
        condition=f'tags:"{marker}"',
        actions=[
            notify("Won!"),
            wr.WorkflowAction(move_stage=wr.MoveStageAction(stage=f"{pipeline.name}/stages/lead")),
        ],
    )
    reason = deals.CreateCloseReason(
        sales.CreateCloseReasonRequest(
            close_reason=close_reason_pb2.CloseReason(
                display_name="Fit", kind=close_reason_pb2.CLOSE_REASON_KIND_WON
            ),
            close_reason_id=unique("fit"),
        )
    )
    opportunity = new_deal(deals, pipeline, tags=[marker])
    deals.WinOpportunity(
        sales.WinOpportunityRequest(name=opportunity.name, close_reason=reason.name)
    )

    def failed() -> None:
        run = _only(runs(workflows, created.name, f'subject = "{opportunity.name}"'))
        assert run.outcome == FAILED
        assert "won" in run.detail and run.event_type == "opportunity.won"

    eventually(failed)


def test_a_lead_rule_requests_a_task_for_the_lead_owner(
    workflow_suite: Suite, workflows: WorkflowServiceStub
) -> None:
    source = unique("fair")
    created = create_rule(
        workflows,
        trigger="lead.created",
        condition=f'source = "{source}"',
        actions=[wr.WorkflowAction(create_task=wr.CreateTaskAction(title="Call {subject.name}"))],
    )
    lead = workflow_suite.stub("sales", LeadServiceStub).CreateLead(
        leads.CreateLeadRequest(
            lead=lead_pb2.Lead(given_name="Ada", family_name="King", source=source, owner="joan")
        )
    )
    (task,) = eventually(lambda: _one(tasks(workflow_suite, created)))
    assert (task.assignee, task.regarding, task.title) == ("joan", lead.name, f"Call {lead.name}")


# --- The example ------------------------------------------------------------------


def test_an_urgent_ticket_notifies_the_owners_of_its_organizations_open_deals(
    workflow_suite: Suite, workflows: WorkflowServiceStub, deals: SalesServiceStub
) -> None:
    organization = new_organization(workflow_suite, deals)
    pipeline = new_pipeline(deals)
    open_deal = new_deal(deals, pipeline, organization=organization, owner="ada")
    other = new_deal(deals, pipeline, organization=new_organization(workflow_suite, deals))
    created = create_rule(
        workflows,
        display_name="Urgent tickets alert the deal owner",
        trigger="ticket.updated",
        condition=f'priority = URGENT AND organization = "{organization}"',
        target=ORGANIZATION_DEALS,
        actions=[notify("Urgent ticket {subject.display_name} at your deal {target.display_name}")],
    )
    ticket = workflow_suite.support.CreateTicket(
        support.CreateTicketRequest(
            ticket=tp.Ticket(
                subject="Engine halts",
                requester=f"people/{uuid.uuid4().hex}",
                organization=organization,
                priority=tp.TICKET_PRIORITY_NORMAL,
            )
        )
    )
    workflow_suite.support.UpdateTicket(
        support.UpdateTicketRequest(
            ticket=tp.Ticket(name=ticket.name, priority=tp.TICKET_PRIORITY_URGENT),
            update_mask=FieldMask(paths=["priority"]),
        )
    )

    def notified() -> None:
        by_regarding = {n.regarding: n for n in notifications(workflow_suite, created)}
        assert by_regarding.keys() >= {open_deal.name}
        assert other.name not in by_regarding
        note = by_regarding[open_deal.name]
        assert note.recipient == "ada" and note.subject == ticket.name
        assert note.message == "Urgent ticket Engine halts at your deal Analytical Engine"

    eventually(notified)
    applied = runs(workflows, created.name, "outcome = APPLIED")
    assert [run.subject for run in applied] == [ticket.name]
    assert open_deal.name in applied[0].targets


def test_a_ticket_without_organization_reaches_no_deal(
    workflow_suite: Suite, workflows: WorkflowServiceStub
) -> None:
    subject = unique("Lonely")
    created = create_rule(
        workflows,
        trigger="ticket.created",
        condition=f'subject = "{subject}"',
        target=ORGANIZATION_DEALS,
    )
    ticket = workflow_suite.support.CreateTicket(
        support.CreateTicketRequest(
            ticket=tp.Ticket(subject=subject, requester=f"people/{uuid.uuid4().hex}")
        )
    )

    def ran() -> None:
        run = _only(runs(workflows, created.name, "outcome = SKIPPED_NO_TARGET"))
        assert run.subject == ticket.name and "no organization" in run.detail

    eventually(ran)
    assert not notifications(workflow_suite, created)


# --- Redelivery and loops ----------------------------------------------------------------


def test_a_redelivered_event_runs_nothing_twice(
    workflow_suite: Suite, workflows: WorkflowServiceStub, deals: SalesServiceStub
) -> None:
    marker = unique("again")
    pipeline = new_pipeline(deals)
    created = create_rule(
        workflows,
        condition=f'tags:"{marker}"',
        actions=[
            wr.WorkflowAction(create_task=wr.CreateTaskAction(title="Once")),
            wr.WorkflowAction(add_tag=wr.AddTagAction(tag="seen")),
        ],
    )
    opportunity = new_deal(deals, pipeline, tags=[marker])
    eventually(lambda: _one(tasks(workflow_suite, created)))
    original = next(
        e
        for e in published_events(workflow_suite.nats.url, "sales", opportunity.name.split("/")[1])
        if e.type == "opportunity.created"
    )
    publish_again(workflow_suite, original, copies=2)
    # A later event on the same stream shows the copies were consumed before it.
    later = new_deal(deals, pipeline, tags=[marker])
    eventually(lambda: _has_run(workflows, created.name, later.name))

    assert len(tasks(workflow_suite, created)) == 2  # one per opportunity
    run = _only(runs(workflows, created.name, f'subject = "{opportunity.name}"'))
    assert run.outcome == APPLIED and run.event_id == original.id
    now = deals.GetOpportunity(sales.GetOpportunityRequest(name=opportunity.name))
    assert list(now.tags) == [marker, "seen"]


def _has_run(workflows: WorkflowServiceStub, rule_name: str, subject: str) -> None:
    assert runs(workflows, rule_name, f'subject = "{subject}"')


def test_a_rule_never_triggers_itself(
    workflows: WorkflowServiceStub, deals: SalesServiceStub
) -> None:
    marker = unique("self")
    pipeline = new_pipeline(deals)
    created = create_rule(
        workflows,
        trigger="opportunity.updated",
        condition=f'tags:"{marker}"',  # holds for every update of this deal
        actions=[wr.WorkflowAction(add_tag=wr.AddTagAction(tag="touched"))],
    )
    opportunity = new_deal(deals, pipeline, tags=[marker])
    deals.UpdateOpportunity(
        sales.UpdateOpportunityRequest(
            opportunity=Opportunity(name=opportunity.name, display_name="Difference Engine"),
            update_mask=FieldMask(paths=["display_name"]),
        )
    )
    eventually(
        lambda: _assert_tags(deals, opportunity.name, [marker, "touched"]),
    )
    # The tag's own `opportunity.updated` does not run the rule again.
    later = new_deal(deals, pipeline)
    eventually(lambda: deals.GetOpportunity(sales.GetOpportunityRequest(name=later.name)))
    run = _only(runs(workflows, created.name, f'subject = "{opportunity.name}"'))
    assert run.outcome == APPLIED and run.depth == 0


def _assert_tags(deals: SalesServiceStub, name: str, tags: list[str]) -> None:
    assert list(deals.GetOpportunity(sales.GetOpportunityRequest(name=name)).tags) == tags


def test_rules_feeding_each_other_stop_at_the_depth_limit(
    workflows: WorkflowServiceStub, deals: SalesServiceStub
) -> None:
    marker = unique("loop")
    pipeline = new_pipeline(deals)
    rules = [
        create_rule(
            workflows,
            trigger="opportunity.updated",
            condition=f'tags:"{marker}"',
            actions=[wr.WorkflowAction(change_owner=wr.ChangeOwnerAction(owner=owner))],
        )
        for owner in ("alice", "bob")
    ]
    opportunity = new_deal(deals, pipeline, tags=[marker], owner="carol")
    deals.UpdateOpportunity(
        sales.UpdateOpportunityRequest(
            opportunity=Opportunity(name=opportunity.name, display_name="Ping-pong"),
            update_mask=FieldMask(paths=["display_name"]),
        )
    )
    subject = f'subject = "{opportunity.name}"'

    def stopped() -> wr.WorkflowRun:
        run = _only(
            runs(workflows, "workflowRules/-", f"{subject} AND outcome = STOPPED_BY_LOOP_GUARD")
        )
        return run

    guard = eventually(stopped)
    assert guard.depth == 5 and "limit is 5" in guard.detail
    every = [run for rule in rules for run in runs(workflows, rule.name, subject)]
    assert max(run.depth for run in every) == 5
    assert len(every) <= 2 * 6  # two rules, depths 0 to 5
