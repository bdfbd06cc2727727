"""Won deals become projects: templates (TemplateService), the `opportunity.won`
consumer (one project per opportunity, however often the win arrives), and the
flow end to end from sales' WinOpportunity.

Some events are published onto the real sales stream exactly as sales' outbox
relay would (envelope on `crm.events.sales.opportunity.won`, event id as
`Nats-Msg-Id`), to drive redeliveries and wins the sales service would not
produce on demand.
"""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import grpc
import nats
from google.protobuf.field_mask_pb2 import FieldMask
from google.type.money_pb2 import Money

from crm.contacts.v1 import contacts_service_pb2 as contacts
from crm.contacts.v1 import organization_pb2, person_pb2
from crm.events.v1.event_pb2 import Event
from crm.projects.v1 import project_pb2, task_pb2, template_pb2
from crm.projects.v1 import projects_service_pb2 as projects
from crm.projects.v1 import task_service_pb2 as tasks
from crm.projects.v1 import template_service_pb2 as templates
from crm.projects.v1.projects_service_pb2_grpc import ProjectsServiceStub
from crm.projects.v1.task_service_pb2_grpc import TaskServiceStub
from crm.projects.v1.template_service_pb2_grpc import TemplateServiceStub
from crm.sales.v1 import close_reason_pb2, pipeline_pb2
from crm.sales.v1 import events_pb2 as sales_events
from crm.sales.v1 import sales_service_pb2 as sales
from crm.sales.v1.opportunity_pb2 import Opportunity
from crm.sales.v1.sales_service_pb2_grpc import SalesServiceStub
from crm_common.messaging.broker import ensure_stream, event_stream_config
from crm_common.messaging.envelope import subject_for
from tests.integration.harness import Suite, eventually, field_violations, rpc_error

WON_AT = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
OWNER = template_pb2.DefaultAssignee(role=template_pb2.DEAL_ROLE_OWNER)


# --- helpers -----------------------------------------------------------------------


def template_service(suite: Suite) -> TemplateServiceStub:
    return suite.stub("projects", TemplateServiceStub)


def project_service(suite: Suite) -> ProjectsServiceStub:
    return suite.stub("projects", ProjectsServiceStub)


def task_service(suite: Suite) -> TaskServiceStub:
    return suite.stub("projects", TaskServiceStub)


def new_pipeline() -> str:
    return f"pipelines/{uuid.uuid4().hex[:12]}"


def onboarding(*pipelines: str, **fields: object) -> template_pb2.ProjectTemplate:
    """A kick-off call, an installation that waits for it, and training in the
    "Live" milestone that waits for the installation."""
    values: dict[str, object] = {
        "display_name": "Onboarding",
        "description": "From signature to first run.",
        "pipelines": pipelines,
        "milestones": [
            template_pb2.TemplateMilestone(key="live", display_name="Live", due_offset_days=21)
        ],
        "tasks": [
            template_pb2.TemplateTask(
                key="train",
                title="Train the operators",
                milestone="live",
                due_offset_days=14,
                depends_on=["install"],
                default_assignee=OWNER,
            ),
            template_pb2.TemplateTask(
                key="install",
                title="Install the engine",
                due_offset_days=7,
                depends_on=["kickoff"],
                default_assignee=template_pb2.DefaultAssignee(user="users/grace"),
                priority=task_pb2.TASK_PRIORITY_HIGH,
                checklist=["Ship", "Assemble"],
            ),
            template_pb2.TemplateTask(key="kickoff", title="Kick-off call", default_assignee=OWNER),
        ],
        **fields,
    }
    return template_pb2.ProjectTemplate(**values)  # type: ignore[arg-type]


def create_template(
    suite: Suite, template: template_pb2.ProjectTemplate, template_id: str = ""
) -> template_pb2.ProjectTemplate:
    request = templates.CreateProjectTemplateRequest(
        project_template=template, project_template_id=template_id
    )
    return template_service(suite).CreateProjectTemplate(request)


def won_event(
    pipeline: str, opportunity_id: str = "", won_at: datetime = WON_AT, owner: str = "ada"
) -> Event:
    opportunity = Opportunity(
        name=f"opportunities/{opportunity_id or uuid.uuid4().hex}",
        display_name="Analytical Engine, 2 units",
        organization="organizations/babbage-and-co",
        people=["people/ada", "people/charles"],
        owner=owner,
        pipeline=pipeline,
    )
    event = Event(
        id=str(uuid.uuid4()),
        type="opportunity.won",
        source="sales",
        aggregate_type="opportunity",
        aggregate_id=opportunity.name.removeprefix("opportunities/"),
        aggregate_version=3,
    )
    event.occurred_at.FromDatetime(won_at)
    event.payload.Pack(sales_events.OpportunityWon(opportunity=opportunity, reason="price"))
    return event


def publish(suite: Suite, *events: Event) -> None:
    """Publishes as sales' relay does; a second copy of one event gets its own
    Nats-Msg-Id so that the broker delivers it again, as after a lost ack."""

    async def run() -> None:
        client = await nats.connect(suite.nats.url)
        try:
            js = client.jetstream()
            await ensure_stream(js, event_stream_config("sales", 1))
            for event in events:
                await js.publish(
                    subject_for(event.source, event.type),
                    event.SerializeToString(),
                    headers={"Nats-Msg-Id": f"{event.id}:{uuid.uuid4().hex}"},
                )
        finally:
            await client.close()

    asyncio.run(run())


def opportunity_of(event: Event) -> str:
    payload = sales_events.OpportunityWon()
    event.payload.Unpack(payload)
    return payload.opportunity.name


def projects_of(suite: Suite, opportunity: str) -> list[project_pb2.Project]:
    request = projects.ListProjectsRequest(filter=f'opportunity = "{opportunity}"')
    return list(project_service(suite).ListProjects(request).projects)


def the_project_of(suite: Suite, opportunity: str) -> project_pb2.Project:
    def made() -> project_pb2.Project:
        found = projects_of(suite, opportunity)
        assert len(found) == 1, found
        return found[0]

    return eventually(made)


def tasks_of(suite: Suite, project: str) -> list[task_pb2.Task]:
    request = tasks.ListTasksRequest(parent=project, order_by="due_time")
    return list(task_service(suite).ListTasks(request).tasks)


# --- templates ---------------------------------------------------------------------


def test_templates_are_created_read_listed_updated_and_deleted(projects_suite: Suite) -> None:
    stub = template_service(projects_suite)
    template_id = f"t-{uuid.uuid4().hex[:8]}"
    created = create_template(projects_suite, onboarding(new_pipeline()), template_id)
    assert created.name == f"projectTemplates/{template_id}"
    assert [t.key for t in created.tasks] == ["train", "install", "kickoff"]
    assert created.tasks[1].default_assignee.user == "users/grace"
    assert created.tasks[0].default_assignee.role == template_pb2.DEAL_ROLE_OWNER
    assert created.tasks[2].priority == task_pb2.TASK_PRIORITY_NORMAL
    assert created.etag

    # A retried create returns what the first one made; other content under the id does not.
    assert create_template(projects_suite, onboarding(*created.pipelines), template_id) == created
    clash = rpc_error(lambda: create_template(projects_suite, onboarding(), template_id))
    assert clash.code() == grpc.StatusCode.ALREADY_EXISTS

    assert (
        stub.GetProjectTemplate(templates.GetProjectTemplateRequest(name=created.name)) == created
    )

    changed = stub.UpdateProjectTemplate(
        templates.UpdateProjectTemplateRequest(
            project_template=template_pb2.ProjectTemplate(
                name=created.name, display_name="Onboarding v2", etag=created.etag
            ),
            update_mask=FieldMask(paths=["display_name"]),
        )
    )
    assert changed.display_name == "Onboarding v2"
    assert list(changed.tasks) == list(created.tasks)
    assert changed.etag != created.etag
    stale = rpc_error(
        lambda: stub.UpdateProjectTemplate(
            templates.UpdateProjectTemplateRequest(
                project_template=template_pb2.ProjectTemplate(
                    name=created.name, display_name="Lost update", etag=created.etag
                ),
                update_mask=FieldMask(paths=["display_name"]),
            )
        )
    )
    assert stale.code() == grpc.StatusCode.ABORTED

    listed: list[str] = []
    token = ""
    while True:
        page = stub.ListProjectTemplates(
            templates.ListProjectTemplatesRequest(page_size=1, page_token=token)
        )
        listed += [t.name for t in page.project_templates]
        if not (token := page.next_page_token):
            break
    assert created.name in listed
    assert listed == sorted(listed)

    stale_delete = rpc_error(
        lambda: stub.DeleteProjectTemplate(
            templates.DeleteProjectTemplateRequest(name=created.name, etag=created.etag)
        )
    )
    assert stale_delete.code() == grpc.StatusCode.ABORTED
    stub.DeleteProjectTemplate(
        templates.DeleteProjectTemplateRequest(name=created.name, etag=changed.etag)
    )
    gone = rpc_error(
        lambda: stub.GetProjectTemplate(templates.GetProjectTemplateRequest(name=created.name))
    )
    assert gone.code() == grpc.StatusCode.NOT_FOUND
    # Its pipeline is free again.
    create_template(projects_suite, onboarding(*created.pipelines))


def test_a_pipeline_belongs_to_one_template_and_one_template_is_the_fallback(
    projects_suite: Suite,
) -> None:
    stub = template_service(projects_suite)
    shared = new_pipeline()
    first = create_template(projects_suite, onboarding(shared))
    taken = rpc_error(lambda: create_template(projects_suite, onboarding(new_pipeline(), shared)))
    assert taken.code() == grpc.StatusCode.ALREADY_EXISTS
    assert shared in (taken.details() or "")

    fallback = create_template(projects_suite, onboarding(fallback=True))
    try:
        second = rpc_error(lambda: create_template(projects_suite, onboarding(fallback=True)))
        assert second.code() == grpc.StatusCode.ALREADY_EXISTS
        made_fallback = rpc_error(
            lambda: stub.UpdateProjectTemplate(
                templates.UpdateProjectTemplateRequest(
                    project_template=template_pb2.ProjectTemplate(name=first.name, fallback=True)
                )
            )
        )
        assert made_fallback.code() == grpc.StatusCode.ALREADY_EXISTS
    finally:
        stub.DeleteProjectTemplate(templates.DeleteProjectTemplateRequest(name=fallback.name))


def test_a_dependency_cycle_is_refused_on_create_and_update(projects_suite: Suite) -> None:
    stub = template_service(projects_suite)
    circular = onboarding(
        tasks=[
            template_pb2.TemplateTask(key="a", title="A", depends_on=["c"]),
            template_pb2.TemplateTask(key="b", title="B", depends_on=["a"]),
            template_pb2.TemplateTask(key="c", title="C", depends_on=["b"]),
        ]
    )
    error = rpc_error(lambda: create_template(projects_suite, circular))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "a -> c -> b -> a" in field_violations(error)["project_template.tasks[0].depends_on"]

    created = create_template(projects_suite, onboarding())
    error = rpc_error(
        lambda: stub.UpdateProjectTemplate(
            templates.UpdateProjectTemplateRequest(
                project_template=circular, update_mask=FieldMask(paths=["tasks"])
            )
        )
    )
    assert list(field_violations(error)) == ["project_template.name"]
    circular.name = created.name
    error = rpc_error(
        lambda: stub.UpdateProjectTemplate(
            templates.UpdateProjectTemplateRequest(
                project_template=circular, update_mask=FieldMask(paths=["tasks"])
            )
        )
    )
    assert "project_template.tasks[0].depends_on" in field_violations(error)
    unchanged = stub.GetProjectTemplate(templates.GetProjectTemplateRequest(name=created.name))
    assert unchanged == created


def test_bad_input_to_every_template_rpc(projects_suite: Suite) -> None:
    stub = template_service(projects_suite)

    def violations(call: object) -> dict[str, str]:
        error = rpc_error(call)  # type: ignore[arg-type]
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
        return field_violations(error)

    assert "project_template" in violations(
        lambda: stub.CreateProjectTemplate(templates.CreateProjectTemplateRequest())
    )
    bad = template_pb2.ProjectTemplate(
        display_name="",
        pipelines=["stages/1"],
        milestones=[template_pb2.TemplateMilestone(key="m", display_name="M", due_offset_days=-1)],
        tasks=[
            template_pb2.TemplateTask(
                key="Bad Key",
                title="",
                milestone="nope",
                due_offset_days=99999,
                default_assignee=template_pb2.DefaultAssignee(user="grace"),
                priority=99,  # type: ignore[arg-type]
                checklist=[""],
                depends_on=["ghost"],
            ),
            template_pb2.TemplateTask(
                key="x",
                title="X",
                default_assignee=template_pb2.DefaultAssignee(role=42),  # type: ignore[arg-type]
            ),
        ],
    )
    found = violations(
        lambda: stub.CreateProjectTemplate(
            templates.CreateProjectTemplateRequest(project_template=bad, project_template_id="No!")
        )
    )
    assert set(found) == {
        "project_template_id",
        "project_template.display_name",
        "project_template.pipelines[0]",
        "project_template.milestones[0].due_offset_days",
        "project_template.tasks[0].key",
        "project_template.tasks[0].title",
        "project_template.tasks[0].milestone",
        "project_template.tasks[0].due_offset_days",
        "project_template.tasks[0].default_assignee.user",
        "project_template.tasks[0].priority",
        "project_template.tasks[0].checklist[0]",
        "project_template.tasks[0].depends_on[0]",
        "project_template.tasks[1].default_assignee.role",
    }

    for name in ("", "projectTemplates/", "projects/x", "projectTemplates/a/b"):
        assert "name" in violations(
            lambda name=name: stub.GetProjectTemplate(
                templates.GetProjectTemplateRequest(name=name)
            )
        )
        assert "name" in violations(
            lambda name=name: stub.DeleteProjectTemplate(
                templates.DeleteProjectTemplateRequest(name=name)
            )
        )
    missing = "projectTemplates/never-made"
    for call in (
        lambda: stub.GetProjectTemplate(templates.GetProjectTemplateRequest(name=missing)),
        lambda: stub.DeleteProjectTemplate(templates.DeleteProjectTemplateRequest(name=missing)),
        lambda: stub.UpdateProjectTemplate(
            templates.UpdateProjectTemplateRequest(
                project_template=template_pb2.ProjectTemplate(name=missing, display_name="X")
            )
        ),
    ):
        assert rpc_error(call).code() == grpc.StatusCode.NOT_FOUND

    assert "page_size" in violations(
        lambda: stub.ListProjectTemplates(templates.ListProjectTemplatesRequest(page_size=-1))
    )
    assert "page_token" in violations(
        lambda: stub.ListProjectTemplates(templates.ListProjectTemplatesRequest(page_token="!!"))
    )

    assert "project_template" in violations(
        lambda: stub.UpdateProjectTemplate(templates.UpdateProjectTemplateRequest())
    )
    created = create_template(projects_suite, onboarding())
    for paths in (["name"], ["create_time"], ["nonsense"]):
        assert "update_mask" in violations(
            lambda paths=paths: stub.UpdateProjectTemplate(
                templates.UpdateProjectTemplateRequest(
                    project_template=template_pb2.ProjectTemplate(name=created.name),
                    update_mask=FieldMask(paths=paths),
                )
            )
        )
    assert "project_template.display_name" in violations(
        lambda: stub.UpdateProjectTemplate(
            templates.UpdateProjectTemplateRequest(
                project_template=template_pb2.ProjectTemplate(name=created.name),
                update_mask=FieldMask(paths=["display_name"]),
            )
        )
    )


# --- opportunity.won -> project ----------------------------------------------------


def test_a_won_deal_gets_its_project_from_the_matching_template(projects_suite: Suite) -> None:
    pipeline = new_pipeline()
    create_template(projects_suite, onboarding(pipeline))
    event = won_event(pipeline)
    publish(projects_suite, event)

    opportunity = opportunity_of(event)
    project = the_project_of(projects_suite, opportunity)
    assert project.display_name == "Analytical Engine, 2 units"
    assert project.description == "From signature to first run."
    assert project.opportunity == opportunity
    assert project.organization == "organizations/babbage-and-co"
    assert list(project.people) == ["people/ada", "people/charles"]
    assert project.owner == "ada"

    milestones = project_service(projects_suite).ListMilestones(
        projects.ListMilestonesRequest(parent=project.name)
    )
    [live] = milestones.milestones
    assert live.display_name == "Live"
    assert (live.due_date.year, live.due_date.month, live.due_date.day) == (2026, 3, 31)

    kickoff, install, train = tasks_of(projects_suite, project.name)
    assert [t.title for t in (kickoff, install, train)] == [
        "Kick-off call",
        "Install the engine",
        "Train the operators",
    ]
    assert [t.due_time.ToDatetime(tzinfo=UTC) for t in (kickoff, install, train)] == [
        WON_AT,
        WON_AT + timedelta(days=7),
        WON_AT + timedelta(days=14),
    ]
    assert [t.assignee for t in (kickoff, install, train)] == [
        "users/ada",
        "users/grace",
        "users/ada",
    ]
    assert list(install.depends_on) == [kickoff.name]
    assert list(train.depends_on) == [install.name]
    assert train.milestone == live.name
    assert install.priority == task_pb2.TASK_PRIORITY_HIGH
    assert [item.text for item in install.checklist] == ["Ship", "Assemble"]


def test_a_redelivered_or_repeated_win_makes_no_second_project(projects_suite: Suite) -> None:
    pipeline = new_pipeline()
    create_template(projects_suite, onboarding(pipeline))
    event = won_event(pipeline)
    publish(projects_suite, event, event)
    project = the_project_of(projects_suite, opportunity_of(event))

    # Reopened and won again: a new event about the same opportunity.
    again = won_event(pipeline, opportunity_of(event).removeprefix("opportunities/"))
    again.occurred_at.FromDatetime(WON_AT + timedelta(days=30))
    # Events of one source are applied in order: once the project of a later
    # deal exists, the repeated win has been handled.
    later = won_event(pipeline)
    publish(projects_suite, again, event, later)
    the_project_of(projects_suite, opportunity_of(later))

    assert projects_of(projects_suite, opportunity_of(event)) == [project]
    assert len(tasks_of(projects_suite, project.name)) == 3


def test_no_matching_template_means_no_project_and_the_fallback_catches_the_rest(
    projects_suite: Suite,
) -> None:
    claimed = new_pipeline()
    create_template(projects_suite, onboarding(claimed))
    unmatched = won_event(new_pipeline())
    matched = won_event(claimed)
    publish(projects_suite, unmatched, matched)
    the_project_of(projects_suite, opportunity_of(matched))
    assert projects_of(projects_suite, opportunity_of(unmatched)) == []

    stub = template_service(projects_suite)
    fallback = create_template(
        projects_suite,
        template_pb2.ProjectTemplate(
            display_name="Anything else",
            fallback=True,
            tasks=[template_pb2.TemplateTask(key="call", title="Call the customer")],
        ),
    )
    try:
        caught = won_event(new_pipeline(), owner="")
        publish(projects_suite, caught)
        project = the_project_of(projects_suite, opportunity_of(caught))
        [call] = tasks_of(projects_suite, project.name)
        assert (call.title, call.assignee) == ("Call the customer", "")
        assert project.owner == ""
    finally:
        stub.DeleteProjectTemplate(templates.DeleteProjectTemplateRequest(name=fallback.name))


# --- end to end: winning a deal in sales -------------------------------------------


def test_winning_a_deal_in_sales_starts_its_project_once(projects_suite: Suite) -> None:
    """Sales' WinOpportunity, its outbox and relay, NATS, the projects consumer."""
    sales_stub = projects_suite.stub("sales", SalesServiceStub)
    pipeline = sales_stub.CreatePipeline(
        sales.CreatePipelineRequest(
            pipeline=pipeline_pb2.Pipeline(
                display_name="New business",
                stages=[
                    pipeline_pb2.Stage(id="qualify", display_name="Qualify", probability=20),
                    pipeline_pb2.Stage(id="propose", display_name="Propose", probability=60),
                ],
            )
        )
    )
    reason = sales_stub.CreateCloseReason(
        sales.CreateCloseReasonRequest(
            close_reason=close_reason_pb2.CloseReason(
                display_name="Best price", kind=close_reason_pb2.CLOSE_REASON_KIND_WON
            )
        )
    )
    create_template(projects_suite, onboarding(pipeline.name))
    ada = projects_suite.contacts.CreatePerson(
        contacts.CreatePersonRequest(person=person_pb2.Person(given_name="Ada"))
    ).name
    company = projects_suite.contacts.CreateOrganization(
        contacts.CreateOrganizationRequest(
            organization=organization_pb2.Organization(display_name="Babbage & Co")
        )
    ).name

    # Sales links only contacts its read model knows: retried until it does.
    opportunity = eventually(
        lambda: sales_stub.CreateOpportunity(
            sales.CreateOpportunityRequest(
                opportunity=Opportunity(
                    display_name="Difference engine",
                    value=Money(currency_code="GBP", units=17_000),
                    pipeline=pipeline.name,
                    organization=company,
                    people=[ada],
                    owner="ada",
                )
            )
        )
    )
    won = sales_stub.WinOpportunity(
        sales.WinOpportunityRequest(name=opportunity.name, close_reason=reason.name)
    )

    project = the_project_of(projects_suite, opportunity.name)
    assert (project.display_name, project.organization, list(project.people), project.owner) == (
        "Difference engine",
        company,
        [ada],
        "ada",
    )
    kickoff, install, train = tasks_of(projects_suite, project.name)
    assert [t.assignee for t in (kickoff, install, train)] == [
        "users/ada",
        "users/grace",
        "users/ada",
    ]
    won_at = kickoff.due_time.ToDatetime(tzinfo=UTC)
    assert install.due_time.ToDatetime(tzinfo=UTC) == won_at + timedelta(days=7)
    assert abs(won_at - won.update_time.ToDatetime(tzinfo=UTC)) < timedelta(minutes=1)

    # Reopened and won again: the deal keeps its one project.
    reopened = sales_stub.ReopenOpportunity(sales.ReopenOpportunityRequest(name=opportunity.name))
    sales_stub.WinOpportunity(
        sales.WinOpportunityRequest(
            name=opportunity.name, close_reason=reason.name, etag=reopened.etag
        )
    )
    later = won_event(pipeline.name)
    publish(projects_suite, later)
    the_project_of(projects_suite, opportunity_of(later))
    assert projects_of(projects_suite, opportunity.name) == [project]
