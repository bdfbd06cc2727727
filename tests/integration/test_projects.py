"""Projects and milestones through the projects service, on SQLite and
PostgreSQL: CRUD, listing, etags, precise errors and the events published."""

import uuid

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from google.type.date_pb2 import Date

from crm.events.v1.event_pb2 import Event
from crm.projects.v1 import events_pb2
from crm.projects.v1 import project_pb2 as pp
from crm.projects.v1 import projects_service_pb2 as pb
from crm.projects.v1.projects_service_pb2_grpc import ProjectsServiceStub
from tests.integration.harness import (
    Suite,
    eventually,
    field_violations,
    published_events,
    rpc_error,
)

IN_PROGRESS = pp.PROJECT_STATUS_IN_PROGRESS
COMPLETED = pp.PROJECT_STATUS_COMPLETED
NOT_STARTED = pp.PROJECT_STATUS_NOT_STARTED


@pytest.fixture(scope="module")
def projects(projects_suite: Suite) -> ProjectsServiceStub:
    return projects_suite.stub("projects", ProjectsServiceStub)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def new_project(
    projects: ProjectsServiceStub, project_id: str = "", **fields: object
) -> pp.Project:
    project = pp.Project(**{"display_name": "Acme rollout", **fields})
    request = pb.CreateProjectRequest(project=project, project_id=project_id or unique("p"))
    return projects.CreateProject(request)


def project_id(project: pp.Project) -> str:
    return project.name.removeprefix("projects/")


def projects_events(suite: Suite, aggregate_id: str) -> list[Event]:
    """Every event about the project or task on the projects stream, in order."""
    return published_events(suite.nats.url, "projects", aggregate_id)


def test_create_get_and_list_a_project(projects: ProjectsServiceStub) -> None:
    created = new_project(
        projects,
        description="Onboard Acme",
        owner="alice",
        organization="organizations/acme",
        people=["people/1", "people/2"],
        opportunity="opportunities/9",
        start_date=Date(year=2025, month=3, day=1),
        due_date=Date(year=2025, month=6, day=30),
        tags=["Onboarding"],
        custom_fields={"region": "emea"},
    )
    assert created.status == NOT_STARTED
    assert created.tags == ["onboarding"]
    assert created.completion_percent == 0
    assert created.etag
    assert created.due_date == Date(year=2025, month=6, day=30)
    assert projects.GetProject(pb.GetProjectRequest(name=created.name)) == created
    listed = projects.ListProjects(
        pb.ListProjectsRequest(filter='opportunity = "opportunities/9" AND tags:"onboarding"')
    )
    assert created.name in [p.name for p in listed.projects]


def test_a_retried_create_returns_the_same_project(projects: ProjectsServiceStub) -> None:
    project_id_ = unique("p")
    first = new_project(projects, project_id_)
    assert new_project(projects, project_id_) == first
    error = rpc_error(lambda: new_project(projects, project_id_, display_name="Other"))
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS


def test_list_filters_orders_and_pages(projects: ProjectsServiceStub) -> None:
    owner = unique("owner")
    names = [
        new_project(projects, display_name=f"P{index}", owner=owner).name for index in range(5)
    ]
    seen: list[str] = []
    token = ""
    while True:
        page = projects.ListProjects(
            pb.ListProjectsRequest(
                filter=f'owner = "{owner}"',
                order_by="display_name desc",
                page_size=2,
                page_token=token,
            )
        )
        seen.extend(p.name for p in page.projects)
        token = page.next_page_token
        if not token:
            break
    assert seen == list(reversed(names))
    in_progress = projects.ListProjects(
        pb.ListProjectsRequest(filter=f'owner = "{owner}" AND status = IN_PROGRESS')
    )
    assert list(in_progress.projects) == []


def test_update_with_mask_and_etag(projects: ProjectsServiceStub) -> None:
    created = new_project(projects, description="old")
    changed = projects.UpdateProject(
        pb.UpdateProjectRequest(
            project=pp.Project(
                name=created.name, description="new", status=IN_PROGRESS, etag=created.etag
            ),
            update_mask=FieldMask(paths=["description", "status"]),
        )
    )
    assert (changed.description, changed.status) == ("new", IN_PROGRESS)
    assert changed.display_name == created.display_name
    assert changed.etag != created.etag
    stale = rpc_error(
        lambda: projects.UpdateProject(
            pb.UpdateProjectRequest(
                project=pp.Project(name=created.name, description="x", etag=created.etag),
                update_mask=FieldMask(paths=["description"]),
            )
        )
    )
    assert stale.code() == grpc.StatusCode.ABORTED


def test_a_finished_project_reopens_only_to_in_progress(projects: ProjectsServiceStub) -> None:
    created = new_project(projects, status=COMPLETED)
    error = rpc_error(
        lambda: projects.UpdateProject(
            pb.UpdateProjectRequest(
                project=pp.Project(name=created.name, status=NOT_STARTED),
                update_mask=FieldMask(paths=["status"]),
            )
        )
    )
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "COMPLETED to NOT_STARTED" in (error.details() or "")


def test_completing_a_project_announces_it(
    projects_suite: Suite, projects: ProjectsServiceStub
) -> None:
    created = new_project(projects)
    projects.UpdateProject(
        pb.UpdateProjectRequest(
            project=pp.Project(name=created.name, status=COMPLETED),
            update_mask=FieldMask(paths=["status"]),
        )
    )

    def announced() -> list[Event]:
        events = projects_events(projects_suite, project_id(created))
        assert [e.type for e in events] == [
            "project.created",
            "project.updated",
            "project.completed",
        ]
        return events

    events = eventually(announced)
    updated = events_pb2.ProjectUpdated()
    events[1].payload.Unpack(updated)
    assert list(updated.changed_fields) == ["status"]
    completed = events_pb2.ProjectCompleted()
    events[2].payload.Unpack(completed)
    assert completed.project.status == COMPLETED
    assert events[2].aggregate_version == 2


def test_delete_with_etag(projects: ProjectsServiceStub) -> None:
    created = new_project(projects)
    stale = rpc_error(
        lambda: projects.DeleteProject(pb.DeleteProjectRequest(name=created.name, etag='W/"9"'))
    )
    assert stale.code() == grpc.StatusCode.ABORTED
    projects.DeleteProject(pb.DeleteProjectRequest(name=created.name, etag=created.etag))
    missing = rpc_error(lambda: projects.GetProject(pb.GetProjectRequest(name=created.name)))
    assert missing.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    ("project", "project_id_", "fields"),
    [
        (pp.Project(display_name=" "), "", {"project.display_name"}),
        (pp.Project(display_name="x", owner="a b"), "", {"project.owner"}),
        (pp.Project(display_name="x", organization="people/1"), "", {"project.organization"}),
        (pp.Project(display_name="x", people=["orgs/1"]), "", {"project.people[0]"}),
        (pp.Project(display_name="x", opportunity="deals/1"), "", {"project.opportunity"}),
        (pp.Project(display_name="x", status=99), "", {"project.status"}),
        (
            pp.Project(display_name="x", start_date=Date(year=2025, month=2, day=30)),
            "",
            {"project.start_date"},
        ),
        (
            pp.Project(
                display_name="x",
                start_date=Date(year=2025, month=3, day=2),
                due_date=Date(year=2025, month=3, day=1),
            ),
            "",
            {"project.due_date"},
        ),
        (pp.Project(display_name="x", tags=["a,b"]), "", {"project.tags[0]"}),
        (
            pp.Project(display_name="x", custom_fields={"Bad": "1"}),
            "",
            {"project.custom_fields['Bad']"},
        ),
        (pp.Project(display_name="x"), "Not An Id", {"project_id"}),
    ],
)
def test_create_project_bad_input(
    projects: ProjectsServiceStub, project: pp.Project, project_id_: str, fields: set[str]
) -> None:
    error = rpc_error(
        lambda: projects.CreateProject(
            pb.CreateProjectRequest(project=project, project_id=project_id_)
        )
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(error)) == fields


def test_project_rpcs_refuse_bad_names_and_requests(projects: ProjectsServiceStub) -> None:
    calls = {
        "project": lambda: projects.CreateProject(pb.CreateProjectRequest()),
        "name": lambda: projects.GetProject(pb.GetProjectRequest(name="project/1")),
        "project.name": lambda: projects.UpdateProject(
            pb.UpdateProjectRequest(project=pp.Project(name="x"))
        ),
        "update_mask": lambda: projects.UpdateProject(
            pb.UpdateProjectRequest(
                project=pp.Project(name="projects/x"), update_mask=FieldMask(paths=["etag"])
            )
        ),
        "filter": lambda: projects.ListProjects(pb.ListProjectsRequest(filter="nope = 1")),
        "order_by": lambda: projects.ListProjects(pb.ListProjectsRequest(order_by="etag")),
        "page_size": lambda: projects.ListProjects(pb.ListProjectsRequest(page_size=-1)),
        "page_token": lambda: projects.ListProjects(pb.ListProjectsRequest(page_token="zz")),
    }
    for field, call in calls.items():
        error = rpc_error(call)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, field
        assert field in field_violations(error), (field, field_violations(error))
    for call in (
        lambda: projects.GetProject(pb.GetProjectRequest(name="projects/nope")),
        lambda: projects.DeleteProject(pb.DeleteProjectRequest(name="projects/nope")),
        lambda: projects.UpdateProject(
            pb.UpdateProjectRequest(
                project=pp.Project(name="projects/nope", description="x"),
                update_mask=FieldMask(paths=["description"]),
            )
        ),
    ):
        assert rpc_error(call).code() == grpc.StatusCode.NOT_FOUND


def test_milestones_crud(projects: ProjectsServiceStub) -> None:
    parent = new_project(projects)
    milestone = projects.CreateMilestone(
        pb.CreateMilestoneRequest(
            parent=parent.name,
            milestone=pp.Milestone(
                display_name="Kick-off", due_date=Date(year=2025, month=4, day=1)
            ),
            milestone_id=unique("m"),
        )
    )
    assert milestone.name.startswith(f"{parent.name}/milestones/")
    assert (milestone.completion_percent, milestone.completed) == (0, False)
    assert projects.GetMilestone(pb.GetMilestoneRequest(name=milestone.name)) == milestone
    listed = projects.ListMilestones(pb.ListMilestonesRequest(parent=parent.name))
    assert [m.name for m in listed.milestones] == [milestone.name]
    changed = projects.UpdateMilestone(
        pb.UpdateMilestoneRequest(
            milestone=pp.Milestone(
                name=milestone.name, display_name="Go-live", etag=milestone.etag
            ),
            update_mask=FieldMask(paths=["display_name"]),
        )
    )
    assert changed.display_name == "Go-live"
    stale = rpc_error(
        lambda: projects.UpdateMilestone(
            pb.UpdateMilestoneRequest(
                milestone=pp.Milestone(name=milestone.name, display_name="x", etag=milestone.etag),
                update_mask=FieldMask(paths=["display_name"]),
            )
        )
    )
    assert stale.code() == grpc.StatusCode.ABORTED
    projects.DeleteMilestone(pb.DeleteMilestoneRequest(name=milestone.name))
    gone = rpc_error(lambda: projects.GetMilestone(pb.GetMilestoneRequest(name=milestone.name)))
    assert gone.code() == grpc.StatusCode.NOT_FOUND


def test_milestone_rpcs_refuse_bad_input(projects: ProjectsServiceStub) -> None:
    parent = new_project(projects)
    calls = {
        "parent": lambda: projects.CreateMilestone(
            pb.CreateMilestoneRequest(parent="projects", milestone=pp.Milestone(display_name="x"))
        ),
        "milestone": lambda: projects.CreateMilestone(
            pb.CreateMilestoneRequest(parent=parent.name)
        ),
        "milestone.display_name": lambda: projects.CreateMilestone(
            pb.CreateMilestoneRequest(parent=parent.name, milestone=pp.Milestone())
        ),
        "milestone.due_date": lambda: projects.CreateMilestone(
            pb.CreateMilestoneRequest(
                parent=parent.name,
                milestone=pp.Milestone(display_name="x", due_date=Date(year=2025, month=13)),
            )
        ),
        "milestone_id": lambda: projects.CreateMilestone(
            pb.CreateMilestoneRequest(
                parent=parent.name, milestone=pp.Milestone(display_name="x"), milestone_id="A B"
            )
        ),
        "name": lambda: projects.GetMilestone(
            pb.GetMilestoneRequest(name=f"{parent.name}/tasks/1")
        ),
        "milestone.name": lambda: projects.UpdateMilestone(
            pb.UpdateMilestoneRequest(milestone=pp.Milestone(name="x", display_name="y"))
        ),
        "filter": lambda: projects.ListMilestones(
            pb.ListMilestonesRequest(parent=parent.name, filter="status = 1")
        ),
    }
    for field, call in calls.items():
        error = rpc_error(call)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, field
        assert field in field_violations(error), (field, field_violations(error))
    for call in (
        lambda: projects.CreateMilestone(
            pb.CreateMilestoneRequest(
                parent="projects/nope", milestone=pp.Milestone(display_name="x")
            )
        ),
        lambda: projects.ListMilestones(pb.ListMilestonesRequest(parent="projects/nope")),
        lambda: projects.DeleteMilestone(
            pb.DeleteMilestoneRequest(name=f"{parent.name}/milestones/nope")
        ),
    ):
        assert rpc_error(call).code() == grpc.StatusCode.NOT_FOUND
