"""Kanban boards through the projects service, on SQLite and PostgreSQL: default
columns, moves with fractional ranks, status columns, WIP limits, column
changes, a person's board across projects, and bad input for every RPC."""

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import update

from crm.projects.v1 import board_pb2, project_pb2, task_pb2
from crm.projects.v1 import board_service_pb2 as pb
from crm.projects.v1 import projects_service_pb2 as projects_pb
from crm.projects.v1 import task_service_pb2 as tasks_pb
from crm.projects.v1.board_service_pb2_grpc import BoardServiceStub
from crm.projects.v1.projects_service_pb2_grpc import ProjectsServiceStub
from crm.projects.v1.task_service_pb2_grpc import TaskServiceStub
from crm_common.storage.db import create_engine
from crm_projects.storage.tasks import tasks
from tests.integration.harness import Suite, field_violations, rpc_error

TODO, DOING, DONE = (
    task_pb2.TASK_STATUS_TODO,
    task_pb2.TASK_STATUS_IN_PROGRESS,
    task_pb2.TASK_STATUS_DONE,
)


def boards(suite: Suite) -> BoardServiceStub:
    return suite.stub("projects", BoardServiceStub)


def new_project(suite: Suite) -> str:
    project = project_pb2.Project(display_name=f"Rollout {uuid.uuid4().hex[:6]}", owner="ada")
    stub = suite.stub("projects", ProjectsServiceStub)
    return stub.CreateProject(projects_pb.CreateProjectRequest(project=project)).name


def new_task(suite: Suite, project: str, title: str, **fields: object) -> task_pb2.Task:
    task = task_pb2.Task(title=title, **fields)  # type: ignore[arg-type]
    stub = suite.stub("projects", TaskServiceStub)
    return stub.CreateTask(tasks_pb.CreateTaskRequest(parent=project, task=task))


def get_task(suite: Suite, name: str) -> task_pb2.Task:
    return suite.stub("projects", TaskServiceStub).GetTask(tasks_pb.GetTaskRequest(name=name))


def board(suite: Suite, name: str, card_limit: int = 0) -> board_pb2.Board:
    return boards(suite).GetBoard(pb.GetBoardRequest(name=name, card_limit=card_limit))


def layout(suite: Suite, project: str) -> dict[str, list[str]]:
    """Column id -> the titles of its cards, top to bottom."""
    return {
        column.name.rpartition("/")[2]: [card.title for card in column.cards]
        for column in board(suite, f"{project}/board").columns
    }


def move(
    suite: Suite, task: str, project: str, column: str, after: str = "", before: str = ""
) -> board_pb2.Card:
    request = pb.MoveCardRequest(
        task=task,
        board_column=f"{project}/board/columns/{column}",
        after_card=after,
        before_card=before,
    )
    return boards(suite).MoveCard(request)


def add_column(
    suite: Suite, project: str, column_id: str = "", **fields: object
) -> board_pb2.BoardColumn:
    column = board_pb2.BoardColumn(**{"display_name": "Review", **fields})  # type: ignore[arg-type]
    request = pb.CreateBoardColumnRequest(
        parent=f"{project}/board", board_column=column, board_column_id=column_id
    )
    return boards(suite).CreateBoardColumn(request)


def test_a_new_project_has_the_default_columns_with_its_tasks(projects_suite: Suite) -> None:
    project = new_project(projects_suite)
    first = new_task(projects_suite, project, "Kick-off")
    new_task(projects_suite, project, "Install", status=DOING, assignee="users/ada")
    shown = board(projects_suite, f"{project}/board")
    assert shown.name == f"{project}/board"
    assert [(c.display_name, c.task_status, c.position) for c in shown.columns] == [
        ("To do", TODO, 0),
        ("In progress", DOING, 1),
        ("Done", DONE, 2),
    ]
    assert [c.name for c in shown.columns] == [
        f"{project}/board/columns/{column}" for column in ("to-do", "in-progress", "done")
    ]
    [card] = shown.columns[0].cards
    assert (card.task, card.title, card.status, card.rank) == (first.name, "Kick-off", TODO, "")
    assert shown.columns[1].cards[0].assignee == "users/ada"
    assert [c.card_count for c in shown.columns] == [1, 1, 0]


def test_moves_order_cards_by_rank_and_set_the_column_status(projects_suite: Suite) -> None:
    project = new_project(projects_suite)
    a, b, c = (new_task(projects_suite, project, title).name for title in "abc")
    assert layout(projects_suite, project)["to-do"] == ["a", "b", "c"]

    moved = move(projects_suite, c, project, "to-do", before=a)
    assert moved.rank and moved.status == TODO
    assert layout(projects_suite, project)["to-do"] == ["c", "a", "b"]
    move(projects_suite, a, project, "to-do")  # to the bottom
    assert layout(projects_suite, project)["to-do"] == ["c", "b", "a"]
    move(projects_suite, b, project, "to-do", after=a)
    assert layout(projects_suite, project)["to-do"] == ["c", "a", "b"]

    started = move(projects_suite, a, project, "in-progress")
    assert started.status == DOING
    assert get_task(projects_suite, a).status == DOING
    assert layout(projects_suite, project) == {
        "to-do": ["c", "b"],
        "in-progress": ["a"],
        "done": [],
    }


def test_many_moves_to_one_spot_keep_the_order(projects_suite: Suite) -> None:
    project = new_project(projects_suite)
    top, bottom = (new_task(projects_suite, project, title).name for title in ("top", "bottom"))
    move(projects_suite, top, project, "to-do")
    move(projects_suite, bottom, project, "to-do")
    titles = []
    for index in range(40):
        title = f"n{index:02}"
        task = new_task(projects_suite, project, title).name
        card = move(projects_suite, task, project, "to-do", after=top)
        assert len(card.rank) <= 48
        titles.insert(0, title)
    assert layout(projects_suite, project)["to-do"] == ["top", *titles, "bottom"]


def test_moving_to_done_keeps_the_dependency_rules(projects_suite: Suite) -> None:
    project = new_project(projects_suite)
    first = new_task(projects_suite, project, "first")
    second = new_task(projects_suite, project, "second", depends_on=[first.name])
    error = rpc_error(lambda: move(projects_suite, second.name, project, "done"))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert first.name in error.details()
    assert layout(projects_suite, project)["to-do"] == ["first", "second"]
    assert get_task(projects_suite, second.name).status == TODO

    move(projects_suite, first.name, project, "done")
    move(projects_suite, second.name, project, "done", before=first.name)
    assert layout(projects_suite, project)["done"] == ["second", "first"]


def test_a_status_changed_elsewhere_moves_the_card(projects_suite: Suite) -> None:
    project = new_project(projects_suite)
    task = new_task(projects_suite, project, "ship")
    move(projects_suite, task.name, project, "in-progress")
    current = get_task(projects_suite, task.name)
    current.status = DONE
    request = tasks_pb.UpdateTaskRequest(task=current, update_mask=FieldMask(paths=["status"]))
    projects_suite.stub("projects", TaskServiceStub).UpdateTask(request)
    assert layout(projects_suite, project) == {"to-do": [], "in-progress": [], "done": ["ship"]}


def test_wip_limit_refuses_arrivals_only(projects_suite: Suite) -> None:
    project = new_project(projects_suite)
    limited = f"{project}/board/columns/in-progress"
    column = board_pb2.BoardColumn(name=limited, wip_limit=2)
    updated = boards(projects_suite).UpdateBoardColumn(
        pb.UpdateBoardColumnRequest(board_column=column, update_mask=FieldMask(paths=["wip_limit"]))
    )
    assert updated.wip_limit == 2 and updated.display_name == "In progress"
    x, y, z = (new_task(projects_suite, project, title).name for title in "xyz")
    move(projects_suite, x, project, "in-progress")
    move(projects_suite, y, project, "in-progress")
    error = rpc_error(lambda: move(projects_suite, z, project, "in-progress"))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "WIP limit of 2" in error.details()
    assert get_task(projects_suite, z).status == TODO
    move(projects_suite, y, project, "in-progress", before=x)  # within the column: fine
    assert layout(projects_suite, project)["in-progress"] == ["y", "x"]


def test_column_lifecycle(projects_suite: Suite) -> None:
    project = new_project(projects_suite)
    task = new_task(projects_suite, project, "review me").name
    review = add_column(projects_suite, project, "review", wip_limit=3)
    assert review.name == f"{project}/board/columns/review"
    assert (review.position, review.task_status, review.etag) == (3, 0, 'W/"1"')
    again = add_column(projects_suite, project, "review", wip_limit=3)
    assert again == review
    error = rpc_error(lambda: add_column(projects_suite, project, "review", wip_limit=4))
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS
    generated = add_column(projects_suite, project, display_name="Blocked")
    assert generated.position == 4

    moved = move(projects_suite, task, project, "review")
    assert moved.status == TODO  # a column of any status leaves it alone
    assert layout(projects_suite, project)["review"] == ["review me"]

    renamed = board_pb2.BoardColumn(name=review.name, display_name="QA", etag=review.etag)
    updated = boards(projects_suite).UpdateBoardColumn(
        pb.UpdateBoardColumnRequest(
            board_column=renamed, update_mask=FieldMask(paths=["display_name"])
        )
    )
    assert (updated.display_name, updated.wip_limit, updated.etag) == ("QA", 3, 'W/"2"')
    stale = rpc_error(
        lambda: boards(projects_suite).UpdateBoardColumn(
            pb.UpdateBoardColumnRequest(
                board_column=renamed, update_mask=FieldMask(paths=["display_name"])
            )
        )
    )
    assert stale.code() == grpc.StatusCode.ABORTED

    names = [c.name for c in board(projects_suite, f"{project}/board").columns]
    wanted = [names[3], names[0], names[4], names[1], names[2]]
    reordered = boards(projects_suite).ReorderBoardColumns(
        pb.ReorderBoardColumnsRequest(parent=f"{project}/board", board_columns=wanted)
    )
    assert [c.name for c in reordered.columns] == wanted
    assert [c.position for c in reordered.columns] == [0, 1, 2, 3, 4]

    boards(projects_suite).DeleteBoardColumn(pb.DeleteBoardColumnRequest(name=review.name))
    shown = layout(projects_suite, project)
    assert "review" not in shown and shown["to-do"] == ["review me"]  # back to its status column
    for column in board(projects_suite, f"{project}/board").columns[:-1]:
        boards(projects_suite).DeleteBoardColumn(pb.DeleteBoardColumnRequest(name=column.name))
    [last] = board(projects_suite, f"{project}/board").columns
    error = rpc_error(
        lambda: boards(projects_suite).DeleteBoardColumn(
            pb.DeleteBoardColumnRequest(name=last.name)
        )
    )
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert [c.title for c in last.cards] == ["review me"]  # every status lands in the last one


def test_a_persons_board_spans_projects(projects_suite: Suite) -> None:
    user = f"users/u{uuid.uuid4().hex[:8]}"
    first, second = new_project(projects_suite), new_project(projects_suite)
    late = Timestamp(seconds=2_000_000_000)
    soon = Timestamp(seconds=1_900_000_000)
    new_task(projects_suite, first, "later", assignee=user, due_time=late)
    new_task(projects_suite, second, "sooner", assignee=user, due_time=soon)
    new_task(projects_suite, second, "undated", assignee=user)
    new_task(projects_suite, second, "busy", assignee=user, status=DOING)
    new_task(projects_suite, first, "not mine", assignee="users/someone-else")
    shown = board(projects_suite, f"{user}/board")
    assert shown.name == f"{user}/board"
    assert [(c.name, c.display_name, c.task_status) for c in shown.columns] == [
        (f"{user}/board/columns/to-do", "Todo", TODO),
        (f"{user}/board/columns/in-progress", "In progress", DOING),
        (f"{user}/board/columns/done", "Done", DONE),
    ]
    assert [c.title for c in shown.columns[0].cards] == ["sooner", "later", "undated"]
    assert shown.columns[0].cards[0].task.startswith(f"{second}/tasks/")
    assert [c.title for c in shown.columns[1].cards] == ["busy"]
    limited = board(projects_suite, f"{user}/board", card_limit=1)
    assert [len(c.cards) for c in limited.columns] == [1, 1, 0]
    assert [c.card_count for c in limited.columns] == [3, 1, 0]


async def _last_changed(database_url: str, task_ids: list[str], when: datetime) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                update(tasks).where(tasks.c.id.in_(task_ids)).values(update_time=when)
            )
    finally:
        await engine.dispose()


def test_a_persons_done_column_shows_recently_done_work(projects_suite: Suite) -> None:
    user = f"users/u{uuid.uuid4().hex[:8]}"
    project = new_project(projects_suite)
    done = [
        new_task(projects_suite, project, title, assignee=user, status=DONE)
        for title in ("long ago", "last week", "today")
    ]
    ids = [task.name.rpartition("/")[2] for task in done]
    now = datetime.now(UTC)
    asyncio.run(
        _last_changed(projects_suite.database_urls["projects"], ids[:1], now - timedelta(days=20))
    )
    asyncio.run(
        _last_changed(projects_suite.database_urls["projects"], ids[1:2], now - timedelta(days=7))
    )
    shown = board(projects_suite, f"{user}/board").columns[2]
    assert [c.title for c in shown.cards] == ["today", "last week"]
    assert shown.card_count == 2
    limited = board(projects_suite, f"{user}/board", card_limit=1).columns[2]
    assert ([c.title for c in limited.cards], limited.card_count) == (["today"], 2)
    # The project's own board keeps all of its done work.
    assert sorted(layout(projects_suite, project)["done"]) == ["last week", "long ago", "today"]


def test_unknown_things_are_not_found(projects_suite: Suite) -> None:
    project = new_project(projects_suite)
    task = new_task(projects_suite, project, "t").name
    missing_project = f"projects/missing-{uuid.uuid4().hex[:6]}"
    stub = boards(projects_suite)
    calls: list[Callable[[], object]] = [
        lambda: board(projects_suite, f"{missing_project}/board"),
        lambda: add_column(projects_suite, missing_project),
        lambda: stub.DeleteBoardColumn(
            pb.DeleteBoardColumnRequest(name=f"{project}/board/columns/nope")
        ),
        lambda: stub.UpdateBoardColumn(
            pb.UpdateBoardColumnRequest(
                board_column=board_pb2.BoardColumn(
                    name=f"{project}/board/columns/nope", display_name="x"
                )
            )
        ),
        lambda: move(projects_suite, task, project, "nope"),
        lambda: move(projects_suite, f"{project}/tasks/nope", project, "to-do"),
    ]
    for call in calls:
        assert rpc_error(call).code() == grpc.StatusCode.NOT_FOUND
    error = rpc_error(
        lambda: move(projects_suite, task, project, "to-do", after=f"{project}/tasks/x")
    )
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION


BAD_REQUESTS: list[tuple[str, str, Callable[[str, str], object], str]] = [
    ("GetBoard", "no name", lambda p, t: pb.GetBoardRequest(), "name"),
    ("GetBoard", "a project", lambda p, t: pb.GetBoardRequest(name=p), "name"),
    ("GetBoard", "bad user", lambda p, t: pb.GetBoardRequest(name="users//board"), "name"),
    (
        "GetBoard",
        "limit",
        lambda p, t: pb.GetBoardRequest(name=f"{p}/board", card_limit=-1),
        "card_limit",
    ),
    (
        "GetBoard",
        "limit",
        lambda p, t: pb.GetBoardRequest(name=f"{p}/board", card_limit=1001),
        "card_limit",
    ),
    (
        "CreateBoardColumn",
        "no column",
        lambda p, t: pb.CreateBoardColumnRequest(parent=f"{p}/board"),
        "board_column",
    ),
    (
        "CreateBoardColumn",
        "bad parent",
        lambda p, t: pb.CreateBoardColumnRequest(
            parent=p, board_column=board_pb2.BoardColumn(display_name="x")
        ),
        "parent",
    ),
    (
        "CreateBoardColumn",
        "no display name",
        lambda p, t: pb.CreateBoardColumnRequest(
            parent=f"{p}/board", board_column=board_pb2.BoardColumn()
        ),
        "board_column.display_name",
    ),
    (
        "CreateBoardColumn",
        "long display name",
        lambda p, t: pb.CreateBoardColumnRequest(
            parent=f"{p}/board", board_column=board_pb2.BoardColumn(display_name="x" * 101)
        ),
        "board_column.display_name",
    ),
    (
        "CreateBoardColumn",
        "negative wip",
        lambda p, t: pb.CreateBoardColumnRequest(
            parent=f"{p}/board", board_column=board_pb2.BoardColumn(display_name="x", wip_limit=-1)
        ),
        "board_column.wip_limit",
    ),
    (
        "CreateBoardColumn",
        "unknown status",
        lambda p, t: pb.CreateBoardColumnRequest(
            parent=f"{p}/board",
            board_column=board_pb2.BoardColumn(display_name="x", task_status=99),  # type: ignore[arg-type]
        ),
        "board_column.task_status",
    ),
    (
        "CreateBoardColumn",
        "bad id",
        lambda p, t: pb.CreateBoardColumnRequest(
            parent=f"{p}/board",
            board_column=board_pb2.BoardColumn(display_name="x"),
            board_column_id="Not An Id",
        ),
        "board_column_id",
    ),
    ("UpdateBoardColumn", "no column", lambda p, t: pb.UpdateBoardColumnRequest(), "board_column"),
    (
        "UpdateBoardColumn",
        "bad name",
        lambda p, t: pb.UpdateBoardColumnRequest(
            board_column=board_pb2.BoardColumn(name=f"{p}/columns/x", display_name="x")
        ),
        "board_column.name",
    ),
    (
        "UpdateBoardColumn",
        "bad mask",
        lambda p, t: pb.UpdateBoardColumnRequest(
            board_column=board_pb2.BoardColumn(name=f"{p}/board/columns/to-do", display_name="x"),
            update_mask=FieldMask(paths=["position"]),
        ),
        "update_mask",
    ),
    (
        "UpdateBoardColumn",
        "empty display name",
        lambda p, t: pb.UpdateBoardColumnRequest(
            board_column=board_pb2.BoardColumn(name=f"{p}/board/columns/to-do"),
            update_mask=FieldMask(paths=["display_name"]),
        ),
        "board_column.display_name",
    ),
    (
        "UpdateBoardColumn",
        "huge wip",
        lambda p, t: pb.UpdateBoardColumnRequest(
            board_column=board_pb2.BoardColumn(name=f"{p}/board/columns/to-do", wip_limit=10_001),
        ),
        "board_column.wip_limit",
    ),
    ("DeleteBoardColumn", "no name", lambda p, t: pb.DeleteBoardColumnRequest(), "name"),
    (
        "DeleteBoardColumn",
        "bad name",
        lambda p, t: pb.DeleteBoardColumnRequest(name=f"{p}/board/columns/a/b"),
        "name",
    ),
    ("ReorderBoardColumns", "no parent", lambda p, t: pb.ReorderBoardColumnsRequest(), "parent"),
    (
        "ReorderBoardColumns",
        "no columns",
        lambda p, t: pb.ReorderBoardColumnsRequest(parent=f"{p}/board"),
        "board_columns",
    ),
    (
        "ReorderBoardColumns",
        "bad column",
        lambda p, t: pb.ReorderBoardColumnsRequest(parent=f"{p}/board", board_columns=["x"]),
        "board_columns[0]",
    ),
    (
        "ReorderBoardColumns",
        "other board",
        lambda p, t: pb.ReorderBoardColumnsRequest(
            parent=f"{p}/board", board_columns=["projects/other/board/columns/to-do"]
        ),
        "board_columns[0]",
    ),
    (
        "ReorderBoardColumns",
        "missing columns",
        lambda p, t: pb.ReorderBoardColumnsRequest(
            parent=f"{p}/board", board_columns=[f"{p}/board/columns/to-do"] * 2
        ),
        "board_columns[1]",
    ),
    (
        "MoveCard",
        "no task",
        lambda p, t: pb.MoveCardRequest(board_column=f"{p}/board/columns/to-do"),
        "task",
    ),
    ("MoveCard", "no column", lambda p, t: pb.MoveCardRequest(task=t), "board_column"),
    (
        "MoveCard",
        "other project",
        lambda p, t: pb.MoveCardRequest(task=t, board_column="projects/other/board/columns/to-do"),
        "board_column",
    ),
    (
        "MoveCard",
        "bad neighbour",
        lambda p, t: pb.MoveCardRequest(
            task=t, board_column=f"{p}/board/columns/to-do", after_card="x"
        ),
        "after_card",
    ),
    (
        "MoveCard",
        "both neighbours",
        lambda p, t: pb.MoveCardRequest(
            task=t,
            board_column=f"{p}/board/columns/to-do",
            after_card=f"{p}/tasks/a",
            before_card=f"{p}/tasks/b",
        ),
        "before_card",
    ),
    (
        "MoveCard",
        "next to itself",
        lambda p, t: pb.MoveCardRequest(
            task=t, board_column=f"{p}/board/columns/to-do", before_card=t
        ),
        "before_card",
    ),
]


@pytest.fixture(scope="module")
def fixture_task(projects_suite: Suite) -> tuple[str, str]:
    """A project and one of its tasks that the bad requests name."""
    project = new_project(projects_suite)
    return project, new_task(projects_suite, project, "fixture").name


@pytest.mark.parametrize(
    ("method", "case", "build", "field"),
    BAD_REQUESTS,
    ids=[f"{method}-{case}" for method, case, _, _ in BAD_REQUESTS],
)
def test_bad_input_names_the_field(
    projects_suite: Suite,
    fixture_task: tuple[str, str],
    method: str,
    case: str,
    build: Callable[[str, str], object],
    field: str,
) -> None:
    request = build(*fixture_task)
    error = rpc_error(lambda: getattr(boards(projects_suite), method)(request))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert field in field_violations(error), field_violations(error)
