"""Kanban boards: a project's columns, which card shows in which column and in
what order, WIP limits, and the ranks a move writes.

A column may stand for a task status. Moving a card into such a column sets
the task's status (through the task's own rules, so dependencies hold), and
a card is shown where it was placed only while its task's status still fits
the column: a task marked done elsewhere leaves "In progress" for the first
column that stands for DONE. Cards never placed (or no longer fitting) are
"loose": they show after the ranked cards of their status's column, oldest
task first. A loose task that no column stands for shows in the first column
without a status (the first column when all have one); cancelled tasks show
only in a column for CANCELLED or where they were placed.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from crm_common.errors import FailedPrecondition, Violations
from crm_common.validation import apply_changes, check_id, check_length
from crm_projects.domain.names import PROJECTS
from crm_projects.domain.ranking import key_between, keys_after
from crm_projects.domain.tasks import Priority, TaskStatus, task_name

DISPLAY_NAME_MAX = 100
WIP_LIMIT_MAX = 10_000
COLUMNS_MAX = 50
# Ranks longer than this are re-spaced across the column in the move that made
# one: rare (after hundreds of inserts at one spot), and it keeps keys short.
RANK_MAX = 48


@dataclass(frozen=True)
class ColumnDraft:
    """The writable part of a column."""

    display_name: str = ""
    # 0: no limit.
    wip_limit: int = 0
    # The status the column stands for; None for a column of any status.
    task_status: TaskStatus | None = None


COLUMN_FIELDS = tuple(ColumnDraft.__dataclass_fields__)

# Every new project's board starts with these (id, draft).
DEFAULT_COLUMNS: tuple[tuple[str, ColumnDraft], ...] = (
    ("to-do", ColumnDraft("To do", task_status=TaskStatus.TODO)),
    ("in-progress", ColumnDraft("In progress", task_status=TaskStatus.IN_PROGRESS)),
    ("done", ColumnDraft("Done", task_status=TaskStatus.DONE)),
)


def board_name(project_id: str) -> str:
    return f"{PROJECTS}{project_id}/board"


def column_name(project_id: str, column_id: str) -> str:
    return f"{board_name(project_id)}/columns/{column_id}"


@dataclass
class BoardColumn:
    project: str
    id: str
    draft: ColumnDraft
    position: int
    create_time: datetime
    update_time: datetime
    version: int = 1

    @property
    def name(self) -> str:
        return column_name(self.project, self.id)

    @classmethod
    def create(
        cls, project: str, column_id: str, draft: ColumnDraft, position: int, now: datetime
    ) -> "BoardColumn":
        violations = Violations()
        check_id(violations, "board_column_id", column_id)
        draft = normalise_column(draft, violations)
        violations.raise_if_any()
        return cls(project, column_id, draft, position, now, now)

    def update(self, changes: Mapping[str, object], now: datetime) -> list[str]:
        merged, changed = apply_changes(self.draft, dict(changes), normalise_column)
        if changed:
            self.draft = merged
            self.update_time = now
            self.version += 1
        return changed

    def fits(self, status: TaskStatus) -> bool:
        return self.draft.task_status is None or self.draft.task_status is status


def normalise_column(draft: ColumnDraft, violations: Violations) -> ColumnDraft:
    display_name = draft.display_name.strip()
    if not display_name:
        violations.add("board_column.display_name", "is required")
    check_length(violations, "board_column.display_name", display_name, DISPLAY_NAME_MAX)
    if not 0 <= draft.wip_limit <= WIP_LIMIT_MAX:
        violations.add("board_column.wip_limit", f"must be from 0 (no limit) to {WIP_LIMIT_MAX}")
    return replace(draft, display_name=display_name)


@dataclass(frozen=True)
class Card:
    """A task as a board shows it, with where it was placed (if anywhere)."""

    project: str
    task: str
    title: str
    assignee: str
    due_time: datetime | None
    priority: Priority
    status: TaskStatus
    create_time: datetime
    # The column it was placed in and its rank there; empty when never moved.
    column: str = ""
    rank: str = ""


@dataclass(frozen=True)
class Lane:
    """A column with its cards, ranked cards first."""

    column: BoardColumn
    cards: tuple[Card, ...]


def lay_out(columns: Sequence[BoardColumn], cards: Iterable[Card]) -> list[Lane]:
    """Every column (by position) with the cards that show in it (see the module)."""
    ordered = sorted(columns, key=lambda c: (c.position, c.id))
    by_id = {column.id: column for column in ordered}
    placed: dict[str, list[Card]] = {column.id: [] for column in ordered}
    loose: dict[str, list[Card]] = {column.id: [] for column in ordered}
    for card in cards:
        column = by_id.get(card.column)
        if column is not None and card.rank and column.fits(card.status):
            placed[column.id].append(card)
        elif (home := _home(ordered, card.status)) is not None:
            loose[home.id].append(card)
    return [
        Lane(
            column,
            (
                *sorted(placed[column.id], key=lambda c: (c.rank, c.task)),
                *sorted(loose[column.id], key=lambda c: (c.create_time, c.task)),
            ),
        )
        for column in ordered
    ]


def _home(columns: Sequence[BoardColumn], status: TaskStatus) -> BoardColumn | None:
    """Where a loose card of this status shows."""
    for column in columns:
        if column.draft.task_status is status:
            return column
    if status is TaskStatus.CANCELLED:
        return None
    for column in columns:
        if column.draft.task_status is None:
            return column
    return columns[0] if columns else None


@dataclass(frozen=True)
class Placement:
    task: str
    column: str
    rank: str


@dataclass(frozen=True)
class Move:
    """Where a moved card goes, and the other cards of the column that get ranks
    with it (loose cards it passes, or the whole column when re-spaced)."""

    card: Placement
    others: tuple[Placement, ...]


def plan_move(lane: Lane, card: Card, after: str = "", before: str = "") -> Move:
    """Places `card` in `lane`'s column after the card of task `after`, or before
    the card of task `before`, or at the bottom when neither is given.

    Refused with FAILED_PRECONDITION when the column is at its WIP limit and
    the card comes from another column. Loose cards up to the spot get ranks
    first (once: a placed card keeps its rank), so that the new rank sits
    between real neighbours.
    """
    column = lane.column
    others = [c for c in lane.cards if c.task != card.task]
    arriving = len(others) == len(lane.cards)
    if arriving and column.draft.wip_limit and len(others) >= column.draft.wip_limit:
        raise FailedPrecondition(
            f"{column.name} ({column.draft.display_name}) is at its WIP limit of "
            f"{column.draft.wip_limit} card(s); finish or move one first"
        )
    index = _target_index(column, others, after, before)
    ranked = [c.rank for c in others if _is_ranked(c, column)]
    # Loose cards before the spot, and the one right after it, need ranks to sit among.
    needing = others[len(ranked) : index + 1]
    given = keys_after(ranked[-1] if ranked else None, len(needing))
    ranks = [*ranked, *given]
    low = ranks[index - 1] if index > 0 else None
    high = ranks[index] if index < len(ranks) else None
    rank = key_between(low, high)
    if len(rank) > RANK_MAX:
        return _respaced(column, [*others[:index], card, *others[index:]], card)
    placements = tuple(Placement(c.task, column.id, r) for c, r in zip(needing, given, strict=True))
    return Move(Placement(card.task, column.id, rank), placements)


def _respaced(column: BoardColumn, order: list[Card], moved: Card) -> Move:
    """Fresh, short ranks for the whole column in the given order."""
    ranks = keys_after(None, len(order))
    placements = [Placement(c.task, column.id, r) for c, r in zip(order, ranks, strict=True)]
    mine = next(p for p in placements if p.task == moved.task)
    return Move(mine, tuple(p for p in placements if p.task != moved.task))


def _is_ranked(card: Card, column: BoardColumn) -> bool:
    return card.column == column.id and bool(card.rank) and column.fits(card.status)


def _target_index(column: BoardColumn, others: Sequence[Card], after: str, before: str) -> int:
    tasks = [c.task for c in others]
    for neighbour, offset in ((after, 1), (before, 0)):
        if not neighbour:
            continue
        if neighbour not in tasks:
            raise FailedPrecondition(
                f"{task_name(column.project, neighbour)} is not a card of {column.name}"
            )
        return tasks.index(neighbour) + offset
    return len(tasks)


def check_move_request(after: str, before: str, moving: str) -> None:
    """At most one neighbour, and not the moving card itself."""
    violations = Violations()
    if after and before:
        violations.add("before_card", "give after_card or before_card, not both")
    for field, value in (("after_card", after), ("before_card", before)):
        if value and value == moving:
            violations.add(field, "a card cannot be placed next to itself")
    violations.raise_if_any()


def check_new_order(current: Sequence[str], wanted: Sequence[str]) -> None:
    """A reorder names every column of the board exactly once."""
    violations = Violations()
    seen: set[str] = set()
    for index, column_id in enumerate(wanted):
        if column_id in seen:
            violations.add(f"board_columns[{index}]", "is named twice")
        elif column_id not in current:
            violations.add(f"board_columns[{index}]", "is not a column of this board")
        seen.add(column_id)
    missing = [c for c in current if c not in seen]
    if missing:
        violations.add("board_columns", f"must name every column; missing {', '.join(missing)}")
    violations.raise_if_any()
