"""`python -m bench.projects_scale [--projects N] [--quick] [--keep]`: projects at scale.

Seeds N projects (default 100,000; `--quick` 5,000) with 20 tasks each into a
fresh PostgreSQL database, then measures, through gRPC against the projects
service running as its own process: a project's board (BoardService.GetBoard
on `projects/{p}/board`), a person's board (`users/{u}/board`), "my open
tasks" (TaskService.ListTasks on `projects/-` with `assignee = "users/x" AND
status != DONE`), and how soon a deal won through sales' WinOpportunity shows
up as a project (sales and projects as their own processes, NATS between),
and a run of the reminder job (its scan and the reminders then owed).
The targets (p99 <= 20 ms for the board and "my open tasks") come from the issue.

The won-deal template, and the sales pipeline and close reason, are created
through the services' APIs. Projects, milestones, tasks (with checklists,
dependencies, board placements and the reminders already announced) are built
by the domain and turned into rows by the repositories' own functions, then
COPYed in batches with secondary indexes dropped and rebuilt afterwards, then
VACUUM ANALYZE. That is set-up, not the create path.

The table goes to stdout, progress to stderr, everything (raw samples, plans,
sizes, machine) to bench/projects_results.json.
"""

import argparse
import asyncio
import contextlib
import itertools
import os
import random
import signal
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from google.type.money_pb2 import Money

import crm_projects
import crm_sales
from bench.cpu import CpuMeter, one, with_children
from bench.load import Latencies, Load, drive
from bench.machine import machine
from bench.processes import admin_channel
from bench.report import Row
from bench.scale import (
    Plan,
    PlanRecorder,
    ScaleRun,
    Servers,
    copy_rows,
    drop_secondary_indexes,
    finish_load,
    found_note,
    info,
    interrupt,
    latency_rows,
    mb,
    record,
    report,
    run_alone,
    sayer,
    sizes_note,
    start_service,
    table_figures,
)
from crm.projects.v1 import board_service_pb2 as board_pb
from crm.projects.v1 import projects_service_pb2 as projects_pb
from crm.projects.v1 import task_service_pb2 as task_pb
from crm.projects.v1 import template_pb2
from crm.projects.v1 import template_service_pb2 as template_service_pb
from crm.projects.v1.board_service_pb2_grpc import BoardServiceStub
from crm.projects.v1.projects_service_pb2_grpc import ProjectsServiceStub
from crm.projects.v1.task_service_pb2_grpc import TaskServiceStub
from crm.projects.v1.template_service_pb2_grpc import TemplateServiceStub
from crm.sales.v1 import close_reason_pb2, pipeline_pb2
from crm.sales.v1 import sales_service_pb2 as sales_pb
from crm.sales.v1.opportunity_pb2 import Opportunity
from crm.sales.v1.sales_service_pb2_grpc import SalesServiceStub
from crm_common.listing import list_request
from crm_common.messaging.uow import UnitOfWork
from crm_common.storage.db import create_engine, session_factory
from crm_common.storage.migrations import upgrade_to_head
from crm_projects.api.tasks import BY_DUE_TIME
from crm_projects.domain.boards import DEFAULT_COLUMNS, BoardColumn, ColumnDraft
from crm_projects.domain.milestones import Milestone, MilestoneDraft
from crm_projects.domain.projects import Project, ProjectDraft, ProjectStatus
from crm_projects.domain.ranking import keys_after
from crm_projects.domain.reminders import DUE_SOON_WINDOW, Announced
from crm_projects.domain.tasks import (
    OPEN,
    TASK_FILTER_SCHEMA,
    TASK_SORTABLE,
    ChecklistItem,
    Priority,
    Task,
    TaskDraft,
    TaskStatus,
)
from crm_projects.handlers import boards as board_handlers
from crm_projects.handlers import tasks as task_handlers
from crm_projects.handlers.reminders import BATCH_SIZE as REMINDER_BATCH
from crm_projects.handlers.reminders import send_task_reminders
from crm_projects.storage.boards import _column_row, board_columns, boards, task_placements
from crm_projects.storage.milestones import _row as milestone_row
from crm_projects.storage.milestones import milestones
from crm_projects.storage.projects import _row as project_row
from crm_projects.storage.projects import project_people, project_tags, projects
from crm_projects.storage.reminders import task_reminders, tasks_owed_reminders
from crm_projects.storage.tasks import _row as task_row
from crm_projects.storage.tasks import task_checklist_items, task_dependencies, tasks

RESULTS = Path(__file__).parent / "projects_results.json"
PROJECTS_MIGRATIONS = Path(crm_projects.__file__).parent / "storage" / "migrations"
SALES_MIGRATIONS = Path(crm_sales.__file__).parent / "storage" / "migrations"
FULL_PROJECTS = 100_000
QUICK_PROJECTS = 5_000
TASKS_PER_PROJECT = 20
MILESTONES_PER_PROJECT = 3
BATCH = 1_000  # projects, so 20,000 tasks
SEED = 20261127
TARGET_P99_MS = 20.0
CALL_TIMEOUT = 60.0
PAGE_SIZE = 50
# The seeded projects were started over the three years before the run.
HISTORY = timedelta(days=1095)
VISIBLE_POLL = 0.0005
REMINDER_RUN = "reminder job run (scan + reminders owed)"
PROJECT_BOARD = "GetBoard project board"
PERSONAL_BOARD = "GetBoard person's board (users/x/board)"
MY_OPEN_TASKS = "ListTasks my open tasks"
WON_TO_PROJECT = "opportunity.won -> project visible"
VISIBLE_TIMEOUT = 30.0
WON_PIPELINE = "new-business"


@dataclass(frozen=True)
class Counts:
    calls: int
    won: int
    warmup: int
    reminder_runs: int


FULL = Counts(calls=500, won=200, warmup=30, reminder_runs=20)
QUICK = Counts(calls=150, won=30, warmup=10, reminder_runs=10)
# bench.scale_suite measures only the figures the issue judges (boards, my tasks).
SUITE = Counts(calls=300, won=0, warmup=30, reminder_runs=0)
SUITE_QUICK = Counts(calls=60, won=0, warmup=5, reminder_runs=0)


say = sayer("projects")


# ------------------------------------------------------------------ the data

USERS = 1_000
# A project runs for about this long; its tasks fall due over that span.
DURATION = timedelta(days=120)
TAGS = (("onboarding", 0.4), ("migration", 0.15), ("priority", 0.05))
PRIORITIES = (Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.URGENT)
PRIORITY_WEIGHTS = (20, 55, 18, 7)
UNASSIGNED_SHARE = 0.1
CHECKLIST_SHARE = 0.3
DEPENDENCY_SHARE = 0.3
# Projects whose board someone rearranged: rows for columns and placements.
ARRANGED_BOARD_SHARE = 0.2
TITLES = (
    "Kick-off call",
    "Collect requirements",
    "Install the engine",
    "Configure accounts",
    "Import data",
    "Train the operators",
    "Acceptance test",
    "Go-live review",
)


def user(index: int) -> str:
    return f"u{index:04d}"


def _project_status(rng: random.Random, age: timedelta) -> ProjectStatus:
    if age < timedelta(days=14):
        return ProjectStatus.NOT_STARTED if rng.random() < 0.5 else ProjectStatus.IN_PROGRESS
    if age < DURATION:
        return ProjectStatus.IN_PROGRESS if rng.random() < 0.9 else ProjectStatus.DEFERRED
    # Most older projects are finished; some run late or were abandoned.
    return rng.choices(
        (ProjectStatus.COMPLETED, ProjectStatus.CANCELLED, ProjectStatus.IN_PROGRESS),
        (85, 7, 8),
    )[0]


def _task_status(
    rng: random.Random, project: ProjectStatus, due: datetime, now: datetime
) -> TaskStatus:
    if project is ProjectStatus.COMPLETED:
        return TaskStatus.DONE if rng.random() < 0.95 else TaskStatus.CANCELLED
    if project is ProjectStatus.CANCELLED:
        return TaskStatus.CANCELLED if rng.random() < 0.7 else TaskStatus.DONE
    if project is ProjectStatus.NOT_STARTED:
        return TaskStatus.TODO
    # In progress or deferred: what fell due is mostly done.
    if due < now:
        return rng.choices(
            (TaskStatus.DONE, TaskStatus.IN_PROGRESS, TaskStatus.TODO, TaskStatus.CANCELLED),
            (80, 8, 8, 4),
        )[0]
    return rng.choices((TaskStatus.TODO, TaskStatus.IN_PROGRESS, TaskStatus.DONE), (70, 20, 10))[0]


def build_project(
    number: int, created: datetime, now: datetime, rng: random.Random, rows: dict[str, list[Any]]
) -> None:
    """A project as the service would hold it: milestones, tasks (checklists,
    dependencies on earlier tasks), reminders already announced, and for some a
    rearranged board. Appends to `rows` (table name -> records)."""
    status = _project_status(rng, now - created)
    project_id = uuid.UUID(int=rng.getrandbits(128), version=4).hex
    start = created.date()
    project = Project.create(
        project_id,
        ProjectDraft(
            display_name=f"Project {number}",
            description="Delivery of the signed scope.",
            status=status,
            owner=user(rng.randrange(USERS)),
            start_date=start,
            due_date=start + DURATION,
            organization=f"organizations/o{rng.randrange(20_000)}",
            people=(f"people/c{rng.randrange(100_000)}",),
            opportunity=f"opportunities/{uuid.UUID(int=rng.getrandbits(128), version=4).hex}",
            tags=tuple(tag for tag, share in TAGS if rng.random() < share),
        ),
        created,
    )
    rows["projects"].append(record(projects, project_row(project)))
    rows["project_people"] += [(project.id, person) for person in project.draft.people]
    rows["project_tags"] += [(project.id, tag) for tag in project.draft.tags]
    milestone_ids = []
    for index in range(MILESTONES_PER_PROJECT):
        milestone = Milestone.create(
            uuid.UUID(int=rng.getrandbits(128), version=4).hex,
            MilestoneDraft(
                project_id,
                f"Phase {index + 1}",
                "",
                start + DURATION * (index + 1) / MILESTONES_PER_PROJECT,
            ),
            created,
        )
        milestone_ids.append(milestone.id)
        rows["milestones"].append(record(milestones, milestone_row(milestone)))
    task_ids: list[str] = []
    statuses: list[TaskStatus] = []
    for index in range(TASKS_PER_PROJECT):
        due = created + DURATION * (index + rng.random()) / TASKS_PER_PROJECT
        task_status = _task_status(rng, status, due, now)
        task_id = uuid.UUID(int=rng.getrandbits(128), version=4).hex
        checklist: tuple[ChecklistItem, ...] = ()
        if rng.random() < CHECKLIST_SHARE:
            done = task_status is TaskStatus.DONE
            checklist = tuple(
                ChecklistItem(f"Step {n + 1}", done or rng.random() < 0.3) for n in range(3)
            )
        depends_on = (task_ids[-1],) if task_ids and rng.random() < DEPENDENCY_SHARE else ()
        assigned = rng.random() >= UNASSIGNED_SHARE
        draft = TaskDraft(
            project=project_id,
            title=TITLES[index % len(TITLES)],
            description="",
            milestone=milestone_ids[index * MILESTONES_PER_PROJECT // TASKS_PER_PROJECT],
            assignee=f"users/{user(rng.randrange(USERS))}" if assigned else "",
            due_time=due,
            priority=rng.choices(PRIORITIES, PRIORITY_WEIGHTS)[0],
            status=task_status,
            checklist=checklist,
            depends_on=depends_on,
        )
        task = Task.create(task_id, draft, created)
        if task_status is TaskStatus.DONE:
            # Last changed when it was done, about when it fell due.
            task.update_time = min(due, now)
        # The scheduler has announced what was owed before the run; the row's
        # next reminder time follows from that, as the service keeps it.
        announced = Announced()
        if task_status in OPEN and due <= now + DUE_SOON_WINDOW:
            announced = Announced(due_soon=due, overdue=due if due <= now else None)
            rows["task_reminders"].append((task_id, announced.due_soon, announced.overdue))
        rows["tasks"].append(record(tasks, task_row(task, announced)))
        # As TaskRepository writes a task's children.
        rows["task_checklist_items"] += [
            (task_id, position, item.text, item.done) for position, item in enumerate(checklist)
        ]
        rows["task_dependencies"] += [
            (task_id, other, position, project_id) for position, other in enumerate(depends_on)
        ]
        task_ids.append(task_id)
        statuses.append(task_status)
    if rng.random() < ARRANGED_BOARD_SHARE:
        _arranged_board(project, task_ids, statuses, rows)


REVIEW = ("review", ColumnDraft("Review", wip_limit=5))


def _arranged_board(
    project: Project, task_ids: list[str], statuses: list[TaskStatus], rows: dict[str, list[Any]]
) -> None:
    """The default columns plus a review column, every card placed and ranked."""
    created = project.create_time
    rows["boards"].append((project.id, created))
    columns = [*DEFAULT_COLUMNS[:2], REVIEW, DEFAULT_COLUMNS[2]]
    by_status = {}
    for position, (column_id, draft) in enumerate(columns):
        column = BoardColumn(project.id, column_id, draft, position, created, created)
        rows["board_columns"].append(record(board_columns, _column_row(column)))
        if draft.task_status is not None:
            by_status[draft.task_status] = column_id
    for status in set(statuses):
        placed = [t for t, s in zip(task_ids, statuses, strict=True) if s is status]
        column_id = by_status.get(status, "done")
        ranks = keys_after(None, len(placed))
        rows["task_placements"] += [
            (task_id, project.id, column_id, rank)
            for task_id, rank in zip(placed, ranks, strict=True)
        ]


SEEDED = (
    projects,
    project_people,
    project_tags,
    milestones,
    tasks,
    task_checklist_items,
    task_dependencies,
    task_reminders,
    boards,
    board_columns,
    task_placements,
)


def build_batch(
    first: int, count: int, total: int, start: datetime, now: datetime
) -> dict[str, list[tuple[Any, ...]]]:
    """Projects first..first+count-1, oldest first (the heap is in creation order)."""
    rng = random.Random(SEED * 1_000_003 + first)
    step = HISTORY / total
    rows: dict[str, list[Any]] = {t.name: [] for t in SEEDED}
    for index in range(first, first + count):
        build_project(index + 1, start + step * (index + rng.random()), now, rng, rows)
    return rows


@dataclass
class Seeded:
    projects: int
    rows: int
    seconds: dict[str, float]
    table_rows: dict[str, int] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    task_statuses: dict[str, int] = field(default_factory=dict)
    # Projects people look at (in progress), with a board of rows or without.
    active: list[str] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.projects / self.seconds["load"]


ACTIVE_SAMPLE = 2_000


async def seed(dsn: str, total: int, now: datetime) -> Seeded:
    start = now - HISTORY
    connection = await asyncpg.connect(dsn)
    seconds: dict[str, float] = {}
    names = [t.name for t in SEEDED]
    try:
        indexes = await drop_secondary_indexes(connection, names)
        say(f"dropped {len(indexes)} secondary indexes until the load is done")
        began = time.perf_counter()
        rows = 0

        def build(first: int) -> dict[str, list[tuple[Any, ...]]]:
            return build_batch(first, min(BATCH, total - first), total, start, now)

        firsts = list(range(0, total, BATCH))
        pending = asyncio.ensure_future(asyncio.to_thread(build, firsts[0]))
        for position, first in enumerate(firsts):
            batch = await pending
            if position + 1 < len(firsts):
                pending = asyncio.ensure_future(asyncio.to_thread(build, firsts[position + 1]))
            rows += await copy_rows(connection, SEEDED, batch)
            done = first + len(batch["projects"])
            if position % 10 == 9 or done == total:
                rate = done / (time.perf_counter() - began)
                say(f"seeded {done:,} of {total:,} projects ({rate:,.0f}/s)")
        seconds["load"] = time.perf_counter() - began
        await finish_load(connection, names, indexes, seconds, say)
        result = Seeded(total, rows, seconds)
        result.table_rows, result.sizes = await table_figures(connection, names)
        for row in await connection.fetch("SELECT status, count(*) FROM tasks GROUP BY status"):
            result.task_statuses[TaskStatus(row["status"]).name] = row["count"]
        result.active = [
            row["id"]
            for row in await connection.fetch(
                "SELECT id FROM projects WHERE status = $1 ORDER BY md5(id) LIMIT $2",
                int(ProjectStatus.IN_PROGRESS),
                ACTIVE_SAMPLE,
            )
        ]
    finally:
        await connection.close()
    return result


# ------------------------------------------------------------------ won deals


def onboarding_template() -> template_pb2.ProjectTemplate:
    owner = template_pb2.DefaultAssignee(role=template_pb2.DEAL_ROLE_OWNER)
    return template_pb2.ProjectTemplate(
        display_name="Onboarding",
        description="From signature to first run.",
        pipelines=[f"pipelines/{WON_PIPELINE}"],
        milestones=[
            template_pb2.TemplateMilestone(key="live", display_name="Live", due_offset_days=21)
        ],
        tasks=[
            template_pb2.TemplateTask(key="kickoff", title="Kick-off call", default_assignee=owner),
            template_pb2.TemplateTask(
                key="install",
                title="Install the engine",
                due_offset_days=7,
                depends_on=["kickoff"],
                default_assignee=owner,
                checklist=["Ship", "Assemble"],
            ),
            template_pb2.TemplateTask(
                key="train",
                title="Train the operators",
                milestone="live",
                due_offset_days=14,
                depends_on=["install"],
                default_assignee=owner,
            ),
        ],
    )


async def set_up_won_deals(sales_address: str, projects_address: str) -> str:
    """The sales pipeline and a won reason, and projects' template for it; the reason's name."""
    async with (
        admin_channel(sales_address) as sales_channel,
        admin_channel(projects_address) as projects_channel,
    ):
        sales = SalesServiceStub(sales_channel)
        await sales.CreatePipeline(
            sales_pb.CreatePipelineRequest(
                pipeline=pipeline_pb2.Pipeline(
                    display_name="New business",
                    stages=[
                        pipeline_pb2.Stage(id="qualify", display_name="Qualify", probability=20),
                        pipeline_pb2.Stage(id="propose", display_name="Propose", probability=60),
                    ],
                ),
                pipeline_id=WON_PIPELINE,
            )
        )
        reason = await sales.CreateCloseReason(
            sales_pb.CreateCloseReasonRequest(
                close_reason=close_reason_pb2.CloseReason(
                    display_name="Best price", kind=close_reason_pb2.CLOSE_REASON_KIND_WON
                ),
                close_reason_id="best-price",
            )
        )
        await TemplateServiceStub(projects_channel).CreateProjectTemplate(
            template_service_pb.CreateProjectTemplateRequest(
                project_template=onboarding_template(), project_template_id="onboarding"
            )
        )
    return reason.name


async def won_to_project(
    sales_address: str, projects_address: str, reason: str, count: int, meter: CpuMeter
) -> tuple[Load, list[int]]:
    """Per sample: a new deal (untimed), WinOpportunity returns, then ListProjects
    by opportunity is polled every 0.5 ms until the project is there."""
    latencies: list[float] = []
    polls: list[int] = []
    async with (
        admin_channel(sales_address) as sales_channel,
        admin_channel(projects_address) as projects_channel,
    ):
        sales = SalesServiceStub(sales_channel)
        listing = ProjectsServiceStub(projects_channel)
        before = meter.snapshot()
        began = time.perf_counter()
        for number in range(count):
            deal = await sales.CreateOpportunity(
                sales_pb.CreateOpportunityRequest(
                    opportunity=Opportunity(
                        display_name=f"Benchmark deal {number}",
                        value=Money(currency_code="EUR", units=10_000 + number),
                        pipeline=f"pipelines/{WON_PIPELINE}",
                        owner=user(number % USERS),
                    )
                ),
                timeout=CALL_TIMEOUT,
            )
            await sales.WinOpportunity(
                sales_pb.WinOpportunityRequest(name=deal.name, close_reason=reason),
                timeout=CALL_TIMEOUT,
            )
            returned = time.perf_counter()
            request = projects_pb.ListProjectsRequest(filter=f'opportunity = "{deal.name}"')
            for attempt in itertools.count(1):
                page = await listing.ListProjects(request, timeout=CALL_TIMEOUT)
                if page.projects:
                    latencies.append(time.perf_counter() - returned)
                    polls.append(attempt)
                    break
                if time.perf_counter() - returned > VISIBLE_TIMEOUT:
                    raise RuntimeError(f"no project for {deal.name} after {VISIBLE_TIMEOUT} s")
                await asyncio.sleep(VISIBLE_POLL)
        elapsed = time.perf_counter() - began
    load = Load(
        count,
        1,
        elapsed,
        Latencies.of_seconds(latencies),
        CpuMeter.percent(before, meter.snapshot(), elapsed),
    )
    return load, polls


# ------------------------------------------------------------------ the calls


def my_open_tasks(index: int) -> str:
    return f'assignee = "users/{user(index % USERS)}" AND status != DONE'


@dataclass
class Measured:
    loads: dict[str, Load] = field(default_factory=dict)
    # Results per call (cards, tasks), to show the calls found something.
    found: dict[str, list[int]] = field(default_factory=dict)
    # Load name -> p99 target (ms), for the figures the issue judges.
    targets: dict[str, float] = field(default_factory=dict)
    won_polls: list[int] = field(default_factory=list)


async def measure(address: str, seeded: Seeded, counts: Counts, meter: CpuMeter) -> Measured:
    measured = Measured()
    async with admin_channel(address) as channel:
        await channel.channel_ready()
        board_service = BoardServiceStub(channel)
        task_service = TaskServiceStub(channel)
        # Users in a scattered order, so that no call reads what the last one cached.
        users = random.Random(SEED).sample(range(USERS), USERS)

        def board_request(index: int) -> board_pb.GetBoardRequest:
            project_id = seeded.active[index % len(seeded.active)]
            return board_pb.GetBoardRequest(name=f"projects/{project_id}/board")

        def personal_board_request(index: int) -> board_pb.GetBoardRequest:
            return board_pb.GetBoardRequest(name=f"users/{user(users[index % USERS])}/board")

        for name, make_request in (
            (PROJECT_BOARD, board_request),
            (PERSONAL_BOARD, personal_board_request),
        ):
            cards: list[int] = []

            async def get_board(
                index: int, make: Any = make_request, cards: list[int] = cards
            ) -> None:
                board = await board_service.GetBoard(make(index), timeout=CALL_TIMEOUT)
                cards.append(sum(len(column.cards) for column in board.columns))

            say(f"{name}: {counts.calls} sequential calls")
            await drive(get_board, counts.warmup, 1)
            cards.clear()
            measured.loads[name] = await drive(get_board, counts.calls, 1, meter)
            measured.found[name] = cards
            measured.targets[name] = TARGET_P99_MS

        found: list[int] = []

        async def list_mine(index: int) -> None:
            request = task_pb.ListTasksRequest(
                parent="projects/-", filter=my_open_tasks(users[index % USERS]), page_size=PAGE_SIZE
            )
            response = await task_service.ListTasks(request, timeout=CALL_TIMEOUT)
            found.append(len(response.tasks))

        name = MY_OPEN_TASKS
        say(f"{name}: {counts.calls} sequential pages of {PAGE_SIZE}, users in turn")
        await drive(list_mine, counts.warmup, 1)
        found.clear()
        measured.loads[name] = await drive(list_mine, counts.calls, 1, meter)
        measured.found[name] = found
        measured.targets[name] = TARGET_P99_MS
    return measured


# ------------------------------------------------------------------ reminders


async def reminder_runs(url: str, runs: int, meter: CpuMeter) -> Load:
    """The reminder job's run (scan, then a unit of work per task owed a
    reminder), `runs` times one after another, here in the client process."""
    engine = create_engine(url)
    sessions = session_factory(engine)

    def units() -> UnitOfWork:
        return UnitOfWork(sessions, "projects")

    seconds: list[float] = []
    try:
        before = meter.snapshot()
        began = time.perf_counter()
        for _ in range(runs):
            started = time.perf_counter()
            await send_task_reminders(units, datetime.now(UTC))
            seconds.append(time.perf_counter() - started)
        elapsed = time.perf_counter() - began
    finally:
        await engine.dispose()
    cpu = CpuMeter.percent(before, meter.snapshot(), elapsed)
    return Load(runs, 1, elapsed, Latencies.of_seconds(seconds), cpu)


# ------------------------------------------------------------------ plans


async def explain(url: str, seeded: Seeded) -> list[Plan]:
    """Plans of the board, task list and reminder statements, run through the service's code."""
    engine = create_engine(url)
    recorder = PlanRecorder(engine)
    sessions = session_factory(engine)

    def units() -> UnitOfWork:
        return UnitOfWork(sessions, "projects")

    try:
        project_id = seeded.active[0]
        with recorder.recording(f"GetBoard projects/{project_id}/board", PROJECT_BOARD):
            async with units() as uow:
                await board_handlers.get_board(uow, project_id)
        with recorder.recording(f"GetBoard users/{user(1)}/board", PERSONAL_BOARD):
            async with units() as uow:
                await board_handlers.get_personal_board(uow, f"users/{user(1)}", 200)
        request = task_pb.ListTasksRequest(
            parent="projects/-", filter=my_open_tasks(1), page_size=PAGE_SIZE
        )
        query = list_request(request, TASK_FILTER_SCHEMA, TASK_SORTABLE, BY_DUE_TIME)
        with recorder.recording(f"ListTasks projects/-: {request.filter}", MY_OPEN_TASKS):
            async with units() as uow:
                await task_handlers.list_tasks(uow, None, query.expr, query.keys, None, query.size)
        with recorder.recording("reminder scan (task-reminders job)", REMINDER_RUN):
            async with units() as uow:
                await tasks_owed_reminders(uow.session, datetime.now(UTC), REMINDER_BATCH)
    finally:
        await engine.dispose()
    return recorder.plans


# ------------------------------------------------------------------ report


def rows_for(seeded: Seeded, measured: Measured) -> list[Row]:
    rows = [info("seed projects/s (setup, 20 tasks each)", "projects/s", seeded.per_second)]
    for name, load in measured.loads.items():
        rows += latency_rows(name, load, measured.targets.get(name))
    return rows


def notes(seeded: Seeded, measured: Measured) -> list[str]:
    tasks_note = f"projects, {seeded.table_rows.get('tasks', 0):,} tasks ({seeded.task_statuses})"
    found = [
        found_note(name, counts, "tasks a call" if name.startswith("List") else "cards a call")
        for name, counts in measured.found.items()
        if counts
    ]
    polls = measured.won_polls
    return [
        sizes_note(seeded.projects, tasks_note, seeded.sizes, seeded.seconds),
        *found,
        *([f"note: won -> project visible took {min(polls)}-{max(polls)} polls"] if polls else []),
    ]


# ------------------------------------------------------------------ the run


def scale_run(servers: Servers, total: int, counts: Counts) -> ScaleRun:
    """Seeds `total` projects of 20 tasks into a fresh database on `servers`,
    measures through the projects service (and sales, for won deals; started
    here, stopped before returning) and explains."""
    database = servers.database("projects")
    asyncio.run(upgrade_to_head(database.url, PROJECTS_MIGRATIONS))
    now = datetime.now(UTC)
    say(f"seeding {total:,} projects with {TASKS_PER_PROJECT} tasks each")
    seeded = asyncio.run(seed(database.dsn, total, now))
    say(
        f"seeded {seeded.projects:,} projects, {seeded.rows:,} rows in "
        f"{seeded.seconds['load']:.0f} s ({seeded.per_second:,.0f} projects/s); "
        f"database {mb(seeded.sizes['database'])}"
    )
    logs = servers.logs(f"projects-{total}")
    with contextlib.ExitStack() as stack:
        say("starting the projects service")
        service = start_service(stack, "projects", database.url, servers.nats.url, logs)
        groups = {
            "client": one(os.getpid()),
            "server": one(service.pid),
            "nats-server": one(servers.nats.pid),
            "postgres": with_children(servers.postgres.pid),
        }
        sales = None
        if counts.won:
            sales_database = servers.database("sales")
            asyncio.run(upgrade_to_head(sales_database.url, SALES_MIGRATIONS))
            say("starting the sales service")
            sales = start_service(stack, "sales", sales_database.url, servers.nats.url, logs)
            groups["sales"] = one(sales.pid)
        meter = CpuMeter(groups)
        measured = asyncio.run(measure(service.address, seeded, counts, meter))
        if counts.reminder_runs:
            say(f"reminder job: {counts.reminder_runs} runs one after another")
            measured.loads[REMINDER_RUN] = asyncio.run(
                reminder_runs(database.url, counts.reminder_runs, meter)
            )
        if sales is not None:
            reason = asyncio.run(set_up_won_deals(sales.address, service.address))
            say(f"{WON_TO_PROJECT}: {counts.won} samples one at a time")
            measured.loads[WON_TO_PROJECT], measured.won_polls = asyncio.run(
                won_to_project(sales.address, service.address, reason, counts.won, meter)
            )
    say("EXPLAIN (ANALYZE, BUFFERS) of the board, task list and reminder statements")
    plans = asyncio.run(explain(database.url, seeded))
    return ScaleRun(
        service="projects",
        size=seeded.table_rows.get("tasks", total * TASKS_PER_PROJECT),
        unit="tasks",
        rows=rows_for(seeded, measured),
        loads=measured.loads,
        targets=measured.targets,
        plans=plans,
        seeded_tables=tuple(table_.name for table_ in SEEDED),
        notes=notes(seeded, measured),
        details={
            "seeding": {
                "projects": seeded.projects,
                "rows": seeded.rows,
                "seconds": seeded.seconds,
                "task_statuses": seeded.task_statuses,
                "table_rows": seeded.table_rows,
                "sizes_bytes": seeded.sizes,
            },
            "results_per_call": measured.found,
            "won_polls": measured.won_polls,
        },
        cpu_groups=("client", "server", "sales", "nats-server", "postgres"),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.projects_scale", description=__doc__)
    parser.add_argument(
        "--projects",
        type=int,
        help=f"projects to seed, {TASKS_PER_PROJECT} tasks each (default {FULL_PROJECTS:,})",
    )
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_PROJECTS:,} projects and fewer calls"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    total = args.projects or (QUICK_PROJECTS if args.quick else FULL_PROJECTS)
    counts = QUICK if args.quick else FULL
    if total < BATCH:
        parser.error(f"--projects must be at least {BATCH:,}")
    signal.signal(signal.SIGTERM, interrupt)
    meta = machine(["postgresql"], args.quick, counts)
    meta["projects"] = total
    meta["tasks"] = total * TASKS_PER_PROJECT
    meta["notes"] = [
        "client (this process), projects, sales, postgres and nats-server share the cores",
        "every figure is sequential calls (concurrency 1)",
        "PostgreSQL runs with the project's PostgresServer settings (fsync off, defaults else)",
        "the reminder job runs in the projects service every CRM_JOBS_INTERVAL_SECONDS (30 s);"
        f" '{REMINDER_RUN}' runs it in the client process, one run after another",
    ]
    say(f"{total:,} projects on {meta['nproc']} cores ({meta['cpu']}), {meta.get('postgresql')}")
    try:
        run = run_alone("projects", args.keep, say, lambda s: scale_run(s, total, counts))
    except KeyboardInterrupt:
        say("interrupted; everything started was stopped")
        return 130
    report(run, meta, RESULTS, say)
    return 0


if __name__ == "__main__":
    sys.exit(main())
