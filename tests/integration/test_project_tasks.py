"""Tasks and their comments through the projects service, on SQLite and
PostgreSQL: CRUD, "my open tasks" across projects, dependencies and cycles,
completion roll-up, precise errors and the events published."""

from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.timestamp_pb2 import Timestamp

from crm.projects.v1 import events_pb2
from crm.projects.v1 import project_pb2 as pp
from crm.projects.v1 import projects_service_pb2 as ppb
from crm.projects.v1 import task_pb2 as tp
from crm.projects.v1 import task_service_pb2 as pb
from crm.projects.v1.projects_service_pb2_grpc import ProjectsServiceStub
from crm.projects.v1.task_service_pb2_grpc import TaskServiceStub
from tests.integration.harness import Suite, eventually, field_violations, rpc_error
from tests.integration.test_projects import new_project, projects_events, unique

TODO = tp.TASK_STATUS_TODO
IN_PROGRESS = tp.TASK_STATUS_IN_PROGRESS
DONE = tp.TASK_STATUS_DONE
CANCELLED = tp.TASK_STATUS_CANCELLED


@pytest.fixture(scope="module")
def projects(projects_suite: Suite) -> ProjectsServiceStub:
    return projects_suite.stub("projects", ProjectsServiceStub)


@pytest.fixture(scope="module")
def tasks(projects_suite: Suite) -> TaskServiceStub:
    return projects_suite.stub("projects", TaskServiceStub)


@pytest.fixture
def project(projects: ProjectsServiceStub) -> pp.Project:
    return new_project(projects)


def new_task(
    tasks: TaskServiceStub, project: pp.Project, task_id: str = "", **fields: object
) -> tp.Task:
    task = tp.Task(**{"title": "Configure the account", **fields})
    request = pb.CreateTaskRequest(parent=project.name, task=task, task_id=task_id or unique("t"))
    return tasks.CreateTask(request)


def set_status(tasks: TaskServiceStub, task: tp.Task, status: int) -> tp.Task:
    return tasks.UpdateTask(
        pb.UpdateTaskRequest(
            task=tp.Task(name=task.name, status=status), update_mask=FieldMask(paths=["status"])
        )
    )


def set_depends_on(tasks: TaskServiceStub, task: tp.Task, *blockers: tp.Task) -> tp.Task:
    return tasks.UpdateTask(
        pb.UpdateTaskRequest(
            task=tp.Task(name=task.name, depends_on=[b.name for b in blockers]),
            update_mask=FieldMask(paths=["depends_on"]),
        )
    )


def at(hours: int) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(datetime(2030, 1, 1, tzinfo=UTC) + timedelta(hours=hours))
    return stamp


def test_create_get_update_and_delete_a_task(tasks: TaskServiceStub, project: pp.Project) -> None:
    created = new_task(
        tasks,
        project,
        description="Set up SSO",
        assignee="users/alice",
        due_time=at(1),
        priority=tp.TASK_PRIORITY_HIGH,
        checklist=[tp.ChecklistItem(text="SAML"), tp.ChecklistItem(text="Test", done=True)],
        contact="organizations/acme",
        opportunity="opportunities/9",
        ticket="tickets/3",
    )
    assert created.name.startswith(f"{project.name}/tasks/")
    assert (created.status, created.completion_percent) == (TODO, 50)
    assert created.due_time == at(1)
    assert tasks.GetTask(pb.GetTaskRequest(name=created.name)) == created
    changed = tasks.UpdateTask(
        pb.UpdateTaskRequest(
            task=tp.Task(name=created.name, title="Set up SSO", etag=created.etag),
            update_mask=FieldMask(paths=["title"]),
        )
    )
    assert (changed.title, changed.description) == ("Set up SSO", "Set up SSO")
    stale = rpc_error(
        lambda: tasks.UpdateTask(
            pb.UpdateTaskRequest(
                task=tp.Task(name=created.name, title="x", etag=created.etag),
                update_mask=FieldMask(paths=["title"]),
            )
        )
    )
    assert stale.code() == grpc.StatusCode.ABORTED
    stale_delete = rpc_error(
        lambda: tasks.DeleteTask(pb.DeleteTaskRequest(name=created.name, etag=created.etag))
    )
    assert stale_delete.code() == grpc.StatusCode.ABORTED
    tasks.DeleteTask(pb.DeleteTaskRequest(name=created.name, etag=changed.etag))
    gone = rpc_error(lambda: tasks.GetTask(pb.GetTaskRequest(name=created.name)))
    assert gone.code() == grpc.StatusCode.NOT_FOUND


def test_a_retried_create_returns_the_same_task(
    tasks: TaskServiceStub, project: pp.Project
) -> None:
    task_id = unique("t")
    first = new_task(tasks, project, task_id)
    assert new_task(tasks, project, task_id) == first
    other = rpc_error(lambda: new_task(tasks, project, task_id, title="Other"))
    assert other.code() == grpc.StatusCode.ALREADY_EXISTS


def test_my_open_tasks_across_projects_soonest_first(
    tasks: TaskServiceStub, projects: ProjectsServiceStub
) -> None:
    me = f"users/{unique('u')}"
    first, second = new_project(projects), new_project(projects)
    undated = new_task(tasks, first, assignee=me)
    later = new_task(tasks, second, assignee=me, due_time=at(5))
    sooner = new_task(tasks, first, assignee=me, due_time=at(2))
    done = new_task(tasks, second, assignee=me, due_time=at(1), status=DONE)
    new_task(tasks, first, assignee="users/someone-else", due_time=at(1))
    query = f'assignee = "{me}" AND status != DONE'
    seen: list[str] = []
    token = ""
    while True:
        page = tasks.ListTasks(
            pb.ListTasksRequest(parent="projects/-", filter=query, page_size=2, page_token=token)
        )
        seen.extend(task.name for task in page.tasks)
        token = page.next_page_token
        if not token:
            break
    assert seen == [sooner.name, later.name, undated.name]
    assert done.name not in seen
    in_first = tasks.ListTasks(pb.ListTasksRequest(parent=first.name, filter=query))
    assert [task.name for task in in_first.tasks] == [sooner.name, undated.name]


def test_a_task_cannot_start_before_what_it_depends_on_is_done(
    tasks: TaskServiceStub, project: pp.Project
) -> None:
    design = new_task(tasks, project, title="Design")
    build = new_task(tasks, project, title="Build", depends_on=[design.name])
    assert list(build.depends_on) == [design.name]
    for status in (IN_PROGRESS, DONE):
        error = rpc_error(lambda status=status: set_status(tasks, build, status))
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert design.name in (error.details() or "")
    blocked_create = rpc_error(
        lambda: new_task(tasks, project, depends_on=[design.name], status=IN_PROGRESS)
    )
    assert blocked_create.code() == grpc.StatusCode.FAILED_PRECONDITION
    set_status(tasks, design, DONE)
    assert set_status(tasks, build, IN_PROGRESS).status == IN_PROGRESS
    reopen = rpc_error(lambda: set_status(tasks, design, TODO))
    assert reopen.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert build.name in (reopen.details() or "")
    delete = rpc_error(lambda: tasks.DeleteTask(pb.DeleteTaskRequest(name=design.name)))
    assert delete.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert build.name in (delete.details() or "")


def test_dependency_cycles_are_refused_naming_the_cycle(
    tasks: TaskServiceStub, project: pp.Project
) -> None:
    first = new_task(tasks, project, title="A")
    second = new_task(tasks, project, title="B", depends_on=[first.name])
    third = new_task(tasks, project, title="C", depends_on=[second.name])
    error = rpc_error(lambda: set_depends_on(tasks, first, third))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert f"{first.name} -> {third.name} -> {second.name} -> {first.name}" in (
        error.details() or ""
    )
    assert tasks.GetTask(pb.GetTaskRequest(name=first.name)).depends_on == []
    itself = rpc_error(lambda: set_depends_on(tasks, first, first))
    assert itself.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "task.depends_on" in field_violations(itself)


def test_dependencies_stay_within_the_project(
    tasks: TaskServiceStub, projects: ProjectsServiceStub, project: pp.Project
) -> None:
    elsewhere = new_task(tasks, new_project(projects))
    error = rpc_error(lambda: new_task(tasks, project, depends_on=[elsewhere.name]))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "task.depends_on[0]" in field_violations(error)
    missing = rpc_error(lambda: new_task(tasks, project, depends_on=[f"{project.name}/tasks/nope"]))
    assert missing.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert f"{project.name}/tasks/nope" in (missing.details() or "")


def test_completion_rolls_up_to_milestone_and_project(
    tasks: TaskServiceStub, projects: ProjectsServiceStub, project: pp.Project
) -> None:
    milestone = projects.CreateMilestone(
        ppb.CreateMilestoneRequest(
            parent=project.name, milestone=pp.Milestone(display_name="Launch")
        )
    )
    checklist = [tp.ChecklistItem(text="a", done=True), tp.ChecklistItem(text="b")]
    new_task(tasks, project, milestone=milestone.name, status=DONE)
    half = new_task(tasks, project, milestone=milestone.name, checklist=checklist)
    new_task(tasks, project)
    new_task(tasks, project, status=CANCELLED)
    got = projects.GetMilestone(ppb.GetMilestoneRequest(name=milestone.name))
    assert (got.completion_percent, got.completed) == (75, False)
    # (1 + 0.5 + 0) of 3 counted tasks.
    assert projects.GetProject(ppb.GetProjectRequest(name=project.name)).completion_percent == 50
    set_status(tasks, half, DONE)
    got = projects.GetMilestone(ppb.GetMilestoneRequest(name=milestone.name))
    assert (got.completion_percent, got.completed) == (100, True)
    listed = projects.ListProjects(
        ppb.ListProjectsRequest(filter=f'display_name = "{project.display_name}"', page_size=1000)
    )
    assert {p.name: p.completion_percent for p in listed.projects}[project.name] == 66
    in_use = rpc_error(
        lambda: projects.DeleteMilestone(ppb.DeleteMilestoneRequest(name=milestone.name))
    )
    assert in_use.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_a_task_milestone_must_exist_in_its_project(
    tasks: TaskServiceStub, project: pp.Project
) -> None:
    error = rpc_error(lambda: new_task(tasks, project, milestone=f"{project.name}/milestones/no"))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "task.milestone" in (error.details() or "")


def test_task_events_are_published(
    projects_suite: Suite, tasks: TaskServiceStub, project: pp.Project
) -> None:
    created = new_task(tasks, project, assignee="users/alice")
    tasks.UpdateTask(
        pb.UpdateTaskRequest(
            task=tp.Task(name=created.name, assignee="users/bob", status=DONE),
            update_mask=FieldMask(paths=["assignee", "status"]),
        )
    )
    task_id = created.name.rpartition("/")[2]

    def published() -> list:
        events = projects_events(projects_suite, task_id)
        assert [e.type for e in events] == [
            "task.created",
            "task.assigned",
            "task.updated",
            "task.assigned",
            "task.completed",
        ]
        return events

    events = eventually(published)
    updated = events_pb2.TaskUpdated()
    events[2].payload.Unpack(updated)
    assert list(updated.changed_fields) == ["assignee", "status"]
    assigned = events_pb2.TaskAssigned()
    events[3].payload.Unpack(assigned)
    assert (assigned.task.assignee, assigned.previous_assignee) == ("users/bob", "users/alice")
    completed = events_pb2.TaskCompleted()
    events[4].payload.Unpack(completed)
    assert completed.task.status == DONE


def test_comments(tasks: TaskServiceStub, project: pp.Project) -> None:
    task = new_task(tasks, project)
    written = [
        tasks.CreateTaskComment(
            pb.CreateTaskCommentRequest(
                parent=task.name,
                task_comment=tp.TaskComment(author="users/alice", body=f"note {index}"),
            )
        )
        for index in range(3)
    ]
    assert written[0].name.startswith(f"{task.name}/comments/")
    page = tasks.ListTaskComments(pb.ListTaskCommentsRequest(parent=task.name, page_size=2))
    rest = tasks.ListTaskComments(
        pb.ListTaskCommentsRequest(parent=task.name, page_token=page.next_page_token)
    )
    assert [c.body for c in [*page.task_comments, *rest.task_comments]] == [
        "note 0",
        "note 1",
        "note 2",
    ]
    assert rest.next_page_token == ""


@pytest.mark.parametrize(
    ("task", "fields"),
    [
        (tp.Task(), {"task.title"}),
        (tp.Task(title="x", assignee="alice"), {"task.assignee"}),
        (tp.Task(title="x", status=99), {"task.status"}),
        (tp.Task(title="x", priority=99), {"task.priority"}),
        (tp.Task(title="x", checklist=[tp.ChecklistItem()]), {"task.checklist[0].text"}),
        (tp.Task(title="x", contact="tickets/1"), {"task.contact"}),
        (tp.Task(title="x", opportunity="people/1"), {"task.opportunity"}),
        (tp.Task(title="x", ticket="opportunities/1"), {"task.ticket"}),
        (tp.Task(title="x", milestone="milestones/1"), {"task.milestone"}),
        (tp.Task(title="x", depends_on=["tasks/1"]), {"task.depends_on[0]"}),
        (
            tp.Task(title="x", due_time=Timestamp(seconds=10**12)),
            {"task.due_time"},
        ),
    ],
)
def test_create_task_bad_input(
    tasks: TaskServiceStub, project: pp.Project, task: tp.Task, fields: set[str]
) -> None:
    error = rpc_error(
        lambda: tasks.CreateTask(pb.CreateTaskRequest(parent=project.name, task=task))
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(error)) == fields


def test_task_rpcs_refuse_bad_names_and_requests(
    tasks: TaskServiceStub, project: pp.Project
) -> None:
    task = new_task(tasks, project)
    calls = {
        "parent": lambda: tasks.CreateTask(pb.CreateTaskRequest(parent="p/1", task=tp.Task())),
        "task": lambda: tasks.CreateTask(pb.CreateTaskRequest(parent=project.name)),
        "task_id": lambda: tasks.CreateTask(
            pb.CreateTaskRequest(parent=project.name, task=tp.Task(title="x"), task_id="A!")
        ),
        "name": lambda: tasks.GetTask(pb.GetTaskRequest(name=project.name)),
        "task.name": lambda: tasks.UpdateTask(pb.UpdateTaskRequest(task=tp.Task(name="x"))),
        "update_mask": lambda: tasks.UpdateTask(
            pb.UpdateTaskRequest(task=tp.Task(name=task.name), update_mask=FieldMask(paths=["x"]))
        ),
        "task.status": lambda: set_status(tasks, task, 0),
        "filter": lambda: tasks.ListTasks(pb.ListTasksRequest(parent="projects/-", filter="x=")),
        "order_by": lambda: tasks.ListTasks(
            pb.ListTasksRequest(parent="projects/-", order_by="assignee")
        ),
        "page_token": lambda: tasks.ListTasks(
            pb.ListTasksRequest(parent="projects/-", page_token="nope")
        ),
        "comment.body": lambda: tasks.CreateTaskComment(
            pb.CreateTaskCommentRequest(parent=task.name, task_comment=tp.TaskComment(body=" "))
        ),
        "comment.author": lambda: tasks.CreateTaskComment(
            pb.CreateTaskCommentRequest(
                parent=task.name, task_comment=tp.TaskComment(author="bob", body="x")
            )
        ),
        "task_comment": lambda: tasks.CreateTaskComment(
            pb.CreateTaskCommentRequest(parent=task.name)
        ),
    }
    for field, call in calls.items():
        error = rpc_error(call)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, field
        assert field in field_violations(error), (field, field_violations(error))
    elsewhere = f"projects/{unique('p')}/tasks/{task.name.rpartition('/')[2]}"
    for call in (
        lambda: tasks.GetTask(pb.GetTaskRequest(name=elsewhere)),
        lambda: tasks.DeleteTask(pb.DeleteTaskRequest(name=elsewhere)),
        lambda: tasks.CreateTask(
            pb.CreateTaskRequest(parent="projects/nope", task=tp.Task(title="x"))
        ),
        lambda: tasks.ListTasks(pb.ListTasksRequest(parent="projects/nope")),
        lambda: tasks.ListTaskComments(pb.ListTaskCommentsRequest(parent=elsewhere)),
        lambda: tasks.CreateTaskComment(
            pb.CreateTaskCommentRequest(parent=elsewhere, task_comment=tp.TaskComment(body="x"))
        ),
    ):
        assert rpc_error(call).code() == grpc.StatusCode.NOT_FOUND
