"""`crm projects ...`: project work from the terminal.

`crm projects board PROJECT` prints a project's kanban board, column after
column with their cards in order; `tasks --mine` lists the open tasks
assigned to you across projects, soonest due first; `task done TASK` marks a
task done (the service refuses it while tasks it depends on are not done);
`list` shows projects (the one a won deal became with --opportunity);
`template create` and `template list` manage the templates a won deal's
project is made from.

All talk to the projects service at $CRM_PROJECTS_TARGET (127.0.0.1 and the
projects port) as the user given by --user or $CRM_USER (users/me); the suite
has no authentication yet, so the identity is taken on trust.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import grpc
from google.protobuf import field_mask_pb2, timestamp_pb2
from google.type import date_pb2

from crm.projects.v1 import board_pb2, project_pb2, task_pb2, template_pb2
from crm.projects.v1 import board_service_pb2 as boards_pb
from crm.projects.v1 import projects_service_pb2 as projects_pb
from crm.projects.v1 import task_service_pb2 as tasks_pb
from crm.projects.v1 import template_service_pb2 as templates_pb
from crm.projects.v1.board_service_pb2_grpc import BoardServiceStub
from crm.projects.v1.projects_service_pb2_grpc import ProjectsServiceStub
from crm.projects.v1.task_service_pb2_grpc import TaskServiceStub
from crm.projects.v1.template_service_pb2_grpc import TemplateServiceStub
from crm_cli.arguments import DEFAULT_USER, USER_ENV, limit, resource, user_argument
from crm_cli.rpc import CommandError, ServiceClient, all_pages
from crm_cli.tables import enum_label, format_table, shorten, timestamp_text
from crm_common.config import DEFAULT_PORTS

TARGET_ENV = "CRM_PROJECTS_TARGET"
DEFAULT_TARGET = f"127.0.0.1:{DEFAULT_PORTS['projects']}"
PROJECTS = ServiceClient("projects", TARGET_ENV, DEFAULT_TARGET)
TITLE_WIDTH = 50
OPEN_TASKS = "status != DONE AND status != CANCELLED"
TEMPLATES = "projectTemplates/"
PAGE_SIZE = 1000


@dataclass(frozen=True)
class Stubs:
    projects: ProjectsServiceStub
    tasks: TaskServiceStub
    boards: BoardServiceStub
    templates: TemplateServiceStub


@dataclass(frozen=True)
class TemplateItem:
    """A --milestone or --task of `template create`, in the order given."""

    kind: str
    label: str
    due_offset_days: int


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    projects = subparsers.add_parser(
        "projects",
        help="project boards and tasks: list, board, tasks --mine, task done, template",
        description=(
            f"Project commands, with the projects service at ${TARGET_ENV} (default "
            f"{DEFAULT_TARGET}). You are --user or ${USER_ENV} (default {DEFAULT_USER}); "
            "there is no authentication yet."
        ),
    )
    commands = projects.add_subparsers(title="commands", metavar="COMMAND", required=True)

    board = commands.add_parser(
        "board",
        help="a project's board: its columns and their cards",
        description="Prints the project's kanban board, each column with its cards in order.",
    )
    board.add_argument(
        "project", type=resource("projects/"), metavar="PROJECT", help="projects/ID or ID"
    )
    board.add_argument(
        "--limit", type=limit, default=50, help="at most this many cards a column, 1-1000 (50)"
    )
    board.set_defaults(func=board_command)

    tasks = commands.add_parser(
        "tasks",
        help="open tasks: yours (--mine) or a project's (--project)",
        description="Lists open tasks (not done or cancelled), soonest due first.",
    )
    tasks.add_argument("--mine", action="store_true", help="the tasks assigned to you")
    tasks.add_argument(
        "--project", type=resource("projects/"), help="projects/ID or ID: only this project's"
    )
    user_argument(tasks)
    tasks.add_argument(
        "--limit", type=limit, default=100, help="at most this many tasks, 1-1000 (default 100)"
    )
    tasks.set_defaults(func=tasks_command)

    task = commands.add_parser("task", help="change a task", description="Changes a task.")
    actions = task.add_subparsers(title="actions", metavar="ACTION", required=True)
    done = actions.add_parser(
        "done",
        help="mark a task done",
        description="Sets the task's status to DONE; refused while tasks it depends on are "
        "not done.",
    )
    done.add_argument(
        "task",
        type=task_name,
        metavar="TASK",
        help="projects/P/tasks/T, or P/T (as `crm projects tasks` shows it)",
    )
    done.set_defaults(func=done_command)

    listing = commands.add_parser(
        "list",
        help="projects; --opportunity finds the one a won deal became",
        description="Lists projects by name, or the project made from a won deal.",
    )
    listing.add_argument(
        "--opportunity",
        type=resource("opportunities/"),
        help="opportunities/ID or ID: the project of this deal",
    )
    listing.add_argument(
        "--limit", type=limit, default=50, help="at most this many projects, 1-1000 (default 50)"
    )
    listing.set_defaults(func=list_command)

    template = commands.add_parser(
        "template",
        help="the templates won deals' projects are made from: create, list",
        description="A won deal becomes a project from the template naming its pipeline, "
        "or else from the fallback template; without either it gets no project.",
    )
    template_actions = template.add_subparsers(title="actions", metavar="ACTION", required=True)
    create = template_actions.add_parser(
        "create",
        help="add a template",
        description="Adds a template for the won deals of --pipeline (repeatable) or, with "
        "--fallback, of every pipeline no template names. --milestone and --task are laid "
        "out in the order given, each task in the milestone given before it; DAYS after "
        "the win is when each is due (0 when omitted).",
    )
    create.add_argument("display_name", metavar="NAME", help="the template's name")
    create.add_argument(
        "--pipeline",
        action="append",
        default=[],
        type=resource("pipelines/"),
        help="pipelines/ID or ID: a sales pipeline whose won deals use it (repeatable)",
    )
    create.add_argument("--fallback", action="store_true", help="for pipelines no template names")
    create.add_argument("--description", default="", help="becomes the project's description")
    create.add_argument(
        "--milestone",
        dest="items",
        action="append",
        default=[],
        type=template_item("milestone"),
        metavar="NAME[:DAYS]",
        help="a milestone (repeatable)",
    )
    create.add_argument(
        "--task",
        dest="items",
        action="append",
        type=template_item("task"),
        metavar="TITLE[:DAYS]",
        help="a task (repeatable)",
    )
    create.add_argument(
        "--assign-owner", action="store_true", help="give the tasks to the won deal's owner"
    )
    create.add_argument("--id", default="", help="the template's id; the service picks one")
    create.set_defaults(func=template_create_command)
    templates = template_actions.add_parser(
        "list", help="the templates", description="Lists the project templates."
    )
    templates.set_defaults(func=template_list_command)


def template_item(kind: str) -> Callable[[str], TemplateItem]:
    """Parses `Kick-off call:3`: a label, due 3 days after the win (0 without `:DAYS`)."""

    def parse(text: str) -> TemplateItem:
        label, colon, days = text.rpartition(":")
        if not colon or not days.isdigit():
            label, days = text, "0"
        if not label.strip():
            raise argparse.ArgumentTypeError(f"not like NAME[:DAYS]: {text!r}")
        return TemplateItem(kind, label.strip(), int(days))

    return parse


def task_name(text: str) -> str:
    """`projects/P/tasks/T`, also from the short `P/T`."""
    parts = text.split("/")
    if len(parts) == 2 and all(parts):
        return f"projects/{parts[0]}/tasks/{parts[1]}"
    if len(parts) == 4 and parts[0] == "projects" and parts[2] == "tasks" and all(parts):
        return text
    raise argparse.ArgumentTypeError(f"not like projects/P/tasks/T or P/T: {text!r}")


def short_task(name: str) -> str:
    """`P/T` of `projects/P/tasks/T`."""
    parts = name.split("/")
    return f"{parts[1]}/{parts[3]}" if len(parts) == 4 else name


# --- Commands --------------------------------------------------------------------------


def board_command(args: argparse.Namespace) -> int:
    request = boards_pb.GetBoardRequest(name=f"{args.project}/board", card_limit=args.limit)
    try:
        with _stubs() as stubs:
            board = stubs.boards.GetBoard(request)
    except CommandError as error:
        return _fail(error)
    print(board_text(args.project, board))
    return 0


def tasks_command(args: argparse.Namespace) -> int:
    if not (args.mine or args.project):
        return _fail(CommandError("say whose tasks: --mine, or --project PROJECT"))
    query = OPEN_TASKS
    if args.mine:
        query = f'assignee = "{args.user}" AND {query}'
    request = tasks_pb.ListTasksRequest(
        parent=args.project or "projects/-", filter=query, page_size=args.limit
    )
    try:
        with _stubs() as stubs:
            tasks = list(stubs.tasks.ListTasks(request).tasks)
    except CommandError as error:
        return _fail(error)
    if not tasks:
        whose = f"assigned to {args.user}" if args.mine else f"in {args.project}"
        print(f"No open tasks {whose}.")
        return 0
    print(tasks_table(tasks))
    return 0


def done_command(args: argparse.Namespace) -> int:
    try:
        with _stubs() as stubs:
            task = stubs.tasks.GetTask(tasks_pb.GetTaskRequest(name=args.task))
            was = _status(task.status)
            if task.status != task_pb2.TASK_STATUS_DONE:
                change = task_pb2.Task(
                    name=task.name, status=task_pb2.TASK_STATUS_DONE, etag=task.etag
                )
                mask = field_mask_pb2.FieldMask(paths=["status"])
                stubs.tasks.UpdateTask(tasks_pb.UpdateTaskRequest(task=change, update_mask=mask))
    except CommandError as error:
        return _fail(error)
    if was == "DONE":
        print(f"{task.title!r} was already done.")
    else:
        print(f"Done: {task.title!r} (was {was}).")
    return 0


def list_command(args: argparse.Namespace) -> int:
    query = f'opportunity = "{args.opportunity}"' if args.opportunity else ""
    request = projects_pb.ListProjectsRequest(filter=query, page_size=args.limit)
    try:
        with _stubs() as stubs:
            projects = list(stubs.projects.ListProjects(request).projects)
    except CommandError as error:
        return _fail(error)
    if not projects:
        print(f"No project for {args.opportunity}." if args.opportunity else "No projects.")
        return 0
    print(projects_table(projects))
    return 0


def template_create_command(args: argparse.Namespace) -> int:
    if not (args.pipeline or args.fallback):
        return _fail(CommandError("say whose won deals use it: --pipeline P, or --fallback"))
    request = templates_pb.CreateProjectTemplateRequest(
        project_template=template_spec(args), project_template_id=args.id
    )
    try:
        with _stubs() as stubs:
            created = stubs.templates.CreateProjectTemplate(request)
    except CommandError as error:
        return _fail(error)
    print(
        f"Created template {created.name.removeprefix(TEMPLATES)} ({created.display_name}): "
        f"{len(created.milestones)} milestone(s), {len(created.tasks)} task(s)."
    )
    return 0


def template_list_command(args: argparse.Namespace) -> int:
    request = templates_pb.ListProjectTemplatesRequest(page_size=PAGE_SIZE)
    try:
        with _stubs() as stubs:
            templates = all_pages(
                stubs.templates.ListProjectTemplates, request, "project_templates"
            )
    except CommandError as error:
        return _fail(error)
    print(templates_table(templates))
    return 0


# --- Output ------------------------------------------------------------------------------


def board_text(project: str, board: board_pb2.Board) -> str:
    """Each column as a heading with its cards below, left to right."""
    lines = [f"Board of {project}"]
    for column in board.columns:
        lines += ["", column_heading(column)]
        if not column.cards:
            lines.append("  (no cards)")
            continue
        rows = [("", "TITLE", "ASSIGNEE", "DUE", "PRIORITY", "TASK")]
        rows += [
            (
                " ",
                shorten(card.title, TITLE_WIDTH),
                card.assignee or "-",
                _day(card.due_time),
                _priority(card.priority),
                short_task(card.task),
            )
            for card in column.cards
        ]
        lines.append(format_table(rows))
        hidden = column.card_count - len(column.cards)
        if hidden:
            lines.append(f"  ... and {hidden} more (--limit)")
    return "\n".join(lines)


def column_heading(column: board_pb2.BoardColumn) -> str:
    notes = [f"{column.card_count} card(s)"]
    if column.wip_limit:
        notes.append(f"WIP limit {column.wip_limit}")
    if column.task_status:
        notes.append(f"sets {_status(column.task_status)}")
    return f"== {column.display_name} ({', '.join(notes)})"


def tasks_table(tasks: Sequence[task_pb2.Task]) -> str:
    rows = [("DUE", "STATUS", "PRIORITY", "TITLE", "ASSIGNEE", "TASK")]
    rows += [
        (
            _day(t.due_time),
            _status(t.status),
            _priority(t.priority),
            shorten(t.title, TITLE_WIDTH),
            t.assignee or "-",
            short_task(t.name),
        )
        for t in tasks
    ]
    return format_table(rows)


def projects_table(projects: Sequence[project_pb2.Project]) -> str:
    rows = [("PROJECT", "NAME", "STATUS", "DONE", "OWNER", "OPPORTUNITY", "DUE")]
    rows += [
        (
            p.name.removeprefix("projects/"),
            shorten(p.display_name, TITLE_WIDTH),
            enum_label(project_pb2.ProjectStatus, p.status, "PROJECT_STATUS_", "-"),
            f"{p.completion_percent}%",
            p.owner or "-",
            p.opportunity or "-",
            _date(p.due_date),
        )
        for p in projects
    ]
    return format_table(rows)


def template_spec(args: argparse.Namespace) -> template_pb2.ProjectTemplate:
    """The template `template create`'s arguments describe: keys m1, m2, ... and
    t1, t2, ..., each task in the milestone given before it."""
    template = template_pb2.ProjectTemplate(
        display_name=args.display_name,
        description=args.description,
        pipelines=args.pipeline,
        fallback=args.fallback,
    )
    milestone = ""
    for item in args.items:
        if item.kind == "milestone":
            milestone = f"m{len(template.milestones) + 1}"
            template.milestones.add(
                key=milestone, display_name=item.label, due_offset_days=item.due_offset_days
            )
            continue
        task = template.tasks.add(
            key=f"t{len(template.tasks) + 1}",
            title=item.label,
            milestone=milestone,
            due_offset_days=item.due_offset_days,
        )
        if args.assign_owner:
            task.default_assignee.role = template_pb2.DEAL_ROLE_OWNER
    return template


def templates_table(templates: Sequence[template_pb2.ProjectTemplate]) -> str:
    if not templates:
        return (
            "No templates yet, so won deals get no project; add one with "
            "`crm projects template create NAME --fallback --task TITLE ...`."
        )
    rows = [("TEMPLATE", "NAME", "FOR", "MILESTONES", "TASKS")]
    rows += [
        (
            t.name.removeprefix(TEMPLATES),
            shorten(t.display_name, TITLE_WIDTH),
            ", ".join([*t.pipelines, *(["(fallback)"] if t.fallback else [])]) or "-",
            str(len(t.milestones)),
            str(len(t.tasks)),
        )
        for t in templates
    ]
    return format_table(rows)


def _status(value: int) -> str:
    return enum_label(task_pb2.TaskStatus, value, "TASK_STATUS_", "-")


def _priority(value: int) -> str:
    return enum_label(task_pb2.TaskPriority, value, "TASK_PRIORITY_", "-")


def _day(value: timestamp_pb2.Timestamp) -> str:
    return timestamp_text(value)


def _date(value: date_pb2.Date) -> str:
    return f"{value.year:04}-{value.month:02}-{value.day:02}" if value.year else "-"


def _fail(error: CommandError) -> int:
    return PROJECTS.fail(error)


@contextmanager
def _stubs() -> Iterator[Stubs]:
    """Every projects service, on one connection."""

    def every(channel: grpc.Channel) -> Stubs:
        return Stubs(
            ProjectsServiceStub(channel),
            TaskServiceStub(channel),
            BoardServiceStub(channel),
            TemplateServiceStub(channel),
        )

    with PROJECTS.connect(every) as stubs:
        yield stubs
