"""`crm projects ...` as a real process against the projects service, on SQLite
and PostgreSQL."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

from google.protobuf.timestamp_pb2 import Timestamp

from crm.projects.v1 import board_pb2, project_pb2, task_pb2
from crm.projects.v1 import board_service_pb2 as boards_pb
from crm.projects.v1 import projects_service_pb2 as projects_pb
from crm.projects.v1 import task_service_pb2 as tasks_pb
from crm.projects.v1.board_service_pb2_grpc import BoardServiceStub
from crm.projects.v1.projects_service_pb2_grpc import ProjectsServiceStub
from crm.projects.v1.task_service_pb2_grpc import TaskServiceStub
from tests.integration.harness import Suite

CRM = Path(sys.executable).with_name("crm")


def crm(
    suite: Suite | None, *args: str, user: str = "users/ada"
) -> subprocess.CompletedProcess[str]:
    target = suite.processes["projects"].address if suite else "127.0.0.1:1"
    return subprocess.run(
        [str(CRM), "projects", *args],
        env={**os.environ, "CRM_PROJECTS_TARGET": target, "CRM_USER": user},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def new_project(suite: Suite) -> str:
    project = project_pb2.Project(display_name="Website relaunch")
    stub = suite.stub("projects", ProjectsServiceStub)
    return stub.CreateProject(projects_pb.CreateProjectRequest(project=project)).name


def new_task(suite: Suite, project: str, title: str, **fields: object) -> task_pb2.Task:
    task = task_pb2.Task(title=title, **fields)  # type: ignore[arg-type]
    stub = suite.stub("projects", TaskServiceStub)
    return stub.CreateTask(tasks_pb.CreateTaskRequest(parent=project, task=task))


def status_of(suite: Suite, task: task_pb2.Task) -> int:
    stub = suite.stub("projects", TaskServiceStub)
    return stub.GetTask(tasks_pb.GetTaskRequest(name=task.name)).status


def short(task: task_pb2.Task) -> str:
    parts = task.name.split("/")
    return f"{parts[1]}/{parts[3]}"


def test_board_shows_columns_with_their_cards_in_order(projects_suite: Suite) -> None:
    project = new_project(projects_suite)
    design = new_task(
        projects_suite,
        project,
        "Design the landing page",
        assignee="users/ada",
        due_time=Timestamp(seconds=1_900_000_000),
        priority=task_pb2.TASK_PRIORITY_HIGH,
    )
    copy = new_task(projects_suite, project, "Write the copy")
    build = new_task(projects_suite, project, "Build it", status=task_pb2.TASK_STATUS_IN_PROGRESS)
    boards = projects_suite.stub("projects", BoardServiceStub)
    boards.MoveCard(
        boards_pb.MoveCardRequest(
            task=copy.name, board_column=f"{project}/board/columns/to-do", before_card=design.name
        )
    )
    boards.UpdateBoardColumn(
        boards_pb.UpdateBoardColumnRequest(
            board_column=board_pb2.BoardColumn(
                name=f"{project}/board/columns/in-progress", wip_limit=3
            )
        )
    )

    shown = crm(projects_suite, "board", project.removeprefix("projects/"))
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert out.startswith(f"Board of {project}\n")
    todo = out.index("== To do (2 card(s), sets TODO)")
    doing = out.index("== In progress (1 card(s), WIP limit 3, sets IN_PROGRESS)")
    done = out.index("== Done (0 card(s), sets DONE)")
    assert todo < out.index("Write the copy") < out.index("Design the landing page") < doing
    assert doing < out.index("Build it") < done
    assert "(no cards)" in out[done:]
    row = next(line for line in out.splitlines() if "Design the landing page" in line)
    assert row.split()[-5:] == ["users/ada", "2030-03-17", "17:46", "HIGH", short(design)]
    assert short(build) in out


def titles_in(row: str, *titles: str) -> list[str]:
    return [title for title in titles if title in row.split()]


def test_my_tasks_then_done(projects_suite: Suite) -> None:
    me = f"users/u{uuid.uuid4().hex[:8]}"
    project = new_project(projects_suite)
    later = new_task(
        projects_suite, project, "Later", assignee=me, due_time=Timestamp(seconds=2_000_000_000)
    )
    sooner = new_task(
        projects_suite, project, "Sooner", assignee=me, due_time=Timestamp(seconds=1_900_000_000)
    )
    blocked = new_task(projects_suite, project, "Blocked", assignee=me, depends_on=[later.name])
    new_task(projects_suite, project, "Someone else's", assignee="users/bob")

    mine = crm(projects_suite, "tasks", "--mine", user=me)
    assert mine.returncode == 0, mine.stderr
    header, *rows = mine.stdout.splitlines()
    assert header.split() == ["DUE", "STATUS", "PRIORITY", "TITLE", "ASSIGNEE", "TASK"]
    assert [titles_in(row, "Sooner", "Later", "Blocked") for row in rows] == [
        ["Sooner"],
        ["Later"],
        ["Blocked"],
    ]
    assert rows[0].split()[-1] == short(sooner)

    refused = crm(projects_suite, "task", "done", blocked.name)
    assert refused.returncode == 1
    assert "FAILED_PRECONDITION" in refused.stderr and later.name in refused.stderr
    assert status_of(projects_suite, blocked) == task_pb2.TASK_STATUS_TODO

    finished = crm(projects_suite, "task", "done", short(sooner))
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip() == "Done: 'Sooner' (was TODO)."
    assert status_of(projects_suite, sooner) == task_pb2.TASK_STATUS_DONE
    again = crm(projects_suite, "task", "done", sooner.name)
    assert again.stdout.strip() == "'Sooner' was already done."

    by_flag = crm(projects_suite, "tasks", "--mine", "--user", me.removeprefix("users/"))
    rows = by_flag.stdout.splitlines()[1:]
    assert [titles_in(row, "Sooner", "Later", "Blocked") for row in rows] == [
        ["Later"],
        ["Blocked"],
    ]
    nobody = crm(projects_suite, "tasks", "--mine", user="users/nobody-at-all")
    assert nobody.stdout.strip() == "No open tasks assigned to users/nobody-at-all."
    of_project = crm(projects_suite, "tasks", "--project", project)
    assert len(of_project.stdout.splitlines()) == 1 + 3


def test_mistakes_are_reported_in_one_line(projects_suite: Suite) -> None:
    missing = crm(projects_suite, "board", "projects/nope")
    assert missing.returncode == 1
    assert missing.stderr.startswith("crm projects: NOT_FOUND")
    assert "Traceback" not in missing.stderr
    unknown = crm(projects_suite, "task", "done", "nope/nope")
    assert unknown.returncode == 1 and "NOT_FOUND" in unknown.stderr
    bad = crm(projects_suite, "task", "done", "not-a-task")
    assert bad.returncode == 2 and "not like projects/P/tasks/T" in bad.stderr
    whose = crm(projects_suite, "tasks")
    assert whose.returncode == 1 and "--mine" in whose.stderr


def test_an_unreachable_service_is_named() -> None:
    result = crm(None, "tasks", "--mine")
    assert result.returncode == 1
    assert "cannot reach the projects service at 127.0.0.1:1" in result.stderr
    assert "CRM_PROJECTS_TARGET" in result.stderr
