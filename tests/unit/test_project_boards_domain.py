"""Fractional ranks, board layout, WIP limits and task reminders: pure rules."""

import random
from datetime import UTC, datetime, timedelta

import pytest

from crm_common.errors import FailedPrecondition, InvalidArgument
from crm_projects.domain.boards import (
    RANK_MAX,
    BoardColumn,
    Card,
    ColumnDraft,
    Lane,
    check_move_request,
    check_new_order,
    lay_out,
    plan_move,
)
from crm_projects.domain.ranking import FIRST_KEY, key_between, keys_after
from crm_projects.domain.reminders import (
    DUE_SOON_WINDOW,
    Announced,
    Reminder,
    next_reminder_time,
    reminder_due,
)
from crm_projects.domain.tasks import Priority, TaskStatus

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
INSERTS = 3000


# --- Ranks ------------------------------------------------------------------------------


def test_first_key_and_ends() -> None:
    assert key_between(None, None) == FIRST_KEY
    assert key_between(FIRST_KEY, None) > FIRST_KEY
    assert key_between(None, FIRST_KEY) < FIRST_KEY


def test_refuses_neighbours_out_of_order() -> None:
    with pytest.raises(ValueError):
        key_between("a1", "a0")
    with pytest.raises(ValueError):
        key_between("a1", "a1")


@pytest.mark.parametrize("direction", ["append", "prepend"])
def test_thousands_of_cards_at_an_end_keep_keys_short(direction: str) -> None:
    keys: list[str] = []
    last: str | None = None
    for _ in range(INSERTS):
        last = key_between(last, None) if direction == "append" else key_between(None, last)
        keys.append(last)
    ordered = keys if direction == "append" else keys[::-1]
    assert ordered == sorted(ordered)
    assert max(len(key) for key in keys) <= 4


def test_inserting_after_the_same_card_again_and_again() -> None:
    low, high = "a0", "a1"
    seen = [low, high]
    for _ in range(INSERTS):
        key = key_between(low, high)
        assert low < key < high
        seen.append(key)
        high = key
    assert len(set(seen)) == len(seen)
    assert len(high) <= 60


def test_inserting_before_the_same_card_again_and_again() -> None:
    low, high = "a0", "a1"
    for _ in range(INSERTS):
        key = key_between(low, high)
        assert low < key < high
        low = key
    assert len(low) <= 60


def test_adjacent_keys_always_have_room_between() -> None:
    low, high = "a0", "a0" + "0" * 5 + "1"
    for _ in range(200):
        key = key_between(low, high)
        assert low < key < high
        assert not key.endswith("0")
        low = key


def test_random_inserts_stay_ordered_and_unique() -> None:
    chance = random.Random(7)
    keys = [key_between(None, None)]
    for _ in range(INSERTS):
        index = chance.randrange(len(keys) + 1)
        low = keys[index - 1] if index else None
        high = keys[index] if index < len(keys) else None
        keys.insert(index, key_between(low, high))
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)
    assert max(len(key) for key in keys) < 20


def test_keys_after_count_up() -> None:
    keys = keys_after(None, 100)
    assert keys == sorted(keys) and len(set(keys)) == 100
    assert keys_after("a5", 2) == ["a6", "a7"]


# --- Board layout and moves ---------------------------------------------------------------


def column(column_id: str, position: int, status: TaskStatus | None, wip: int = 0) -> BoardColumn:
    draft = ColumnDraft(column_id.title(), wip_limit=wip, task_status=status)
    return BoardColumn("p1", column_id, draft, position, NOW, NOW)


COLUMNS = [
    column("todo", 0, TaskStatus.TODO),
    column("doing", 1, TaskStatus.IN_PROGRESS, wip=2),
    column("review", 2, None),
    column("done", 3, TaskStatus.DONE),
]


def card(
    task: str,
    status: TaskStatus = TaskStatus.TODO,
    column_id: str = "",
    rank: str = "",
    age: int = 0,
) -> Card:
    return Card(
        "p1",
        task,
        f"Task {task}",
        "",
        None,
        Priority.NORMAL,
        status,
        NOW + timedelta(minutes=age),
        column_id,
        rank,
    )


def lanes(*cards: Card) -> dict[str, list[str]]:
    return {lane.column.id: [c.task for c in lane.cards] for lane in lay_out(COLUMNS, cards)}


def lane_of(column_id: str, *cards: Card) -> Lane:
    return next(lane for lane in lay_out(COLUMNS, cards) if lane.column.id == column_id)


def test_loose_cards_show_in_their_status_column_oldest_first() -> None:
    shown = lanes(
        card("b", age=2),
        card("a", age=1),
        card("c", TaskStatus.IN_PROGRESS),
        card("d", TaskStatus.DONE),
        card("x", TaskStatus.CANCELLED),
    )
    assert shown == {"todo": ["a", "b"], "doing": ["c"], "review": [], "done": ["d"]}


def test_placed_cards_come_first_by_rank_while_their_status_fits() -> None:
    shown = lanes(
        card("loose", age=0),
        card("second", column_id="todo", rank="a2"),
        card("first", column_id="todo", rank="a1"),
        card("finished", TaskStatus.DONE, column_id="todo", rank="a0"),
        card("reviewed", TaskStatus.DONE, column_id="review", rank="a0"),
        card("gone", column_id="deleted", rank="a0", age=1),
    )
    assert shown["todo"] == ["first", "second", "loose", "gone"]
    assert shown["done"] == ["finished"]
    assert shown["review"] == ["reviewed"]


def test_statuses_without_a_column_go_to_the_first_column_of_any_status() -> None:
    columns = [column("backlog", 0, TaskStatus.TODO), column("any", 1, None)]
    [backlog, anything] = lay_out(columns, [card("t", TaskStatus.IN_PROGRESS)])
    assert backlog.cards == () and [c.task for c in anything.cards] == ["t"]
    [only] = lay_out([column("backlog", 0, TaskStatus.TODO)], [card("t", TaskStatus.DONE)])
    assert [c.task for c in only.cards] == ["t"]


def test_move_to_the_bottom_ranks_the_loose_cards_it_passes() -> None:
    moving = card("m", age=9)
    lane = lane_of("todo", card("p", column_id="todo", rank="a1"), card("l1"), card("l2", age=1))
    move = plan_move(lane, moving)
    ranks = {p.task: p.rank for p in move.others}
    assert list(ranks) == ["l1", "l2"]
    assert "a1" < ranks["l1"] < ranks["l2"] < move.card.rank
    assert move.card.column == "todo"


def test_move_between_cards_only_ranks_what_it_needs() -> None:
    lane = lane_of(
        "todo",
        card("a", column_id="todo", rank="a1"),
        card("b", column_id="todo", rank="a2"),
        card("loose"),
    )
    move = plan_move(lane, card("m", TaskStatus.DONE), after="a")
    assert move.others == () and "a1" < move.card.rank < "a2"
    before_first = plan_move(lane, card("m"), before="a")
    assert before_first.card.rank < "a1"
    before_loose = plan_move(lane, card("m"), before="loose")
    [loose] = before_loose.others
    assert "a2" < before_loose.card.rank < loose.rank


def test_wip_limit_refuses_arrivals_but_not_moves_within() -> None:
    cards = [card(t, TaskStatus.IN_PROGRESS, "doing", r) for t, r in (("x", "a1"), ("y", "a2"))]
    full = lane_of("doing", *cards)
    with pytest.raises(FailedPrecondition, match="WIP limit of 2"):
        plan_move(full, card("new"))
    move = plan_move(full, cards[1], before="x")
    assert move.card.rank < "a1"


def test_wip_limit_counts_loose_cards_too() -> None:
    full = lane_of("doing", card("x", TaskStatus.IN_PROGRESS), card("y", TaskStatus.IN_PROGRESS))
    with pytest.raises(FailedPrecondition):
        plan_move(full, card("new"))


def test_neighbour_must_be_in_the_target_column() -> None:
    lane = lane_of("todo", card("a", column_id="todo", rank="a1"))
    with pytest.raises(FailedPrecondition, match="is not a card of"):
        plan_move(lane, card("m"), after="elsewhere")


def test_a_column_crowded_at_one_spot_is_respaced_rarely() -> None:
    """Each card goes between the two placed last: the worst case for fractional keys."""
    cards = [card("a", column_id="review", rank="a0"), card("b", column_id="review", rank="a1")]
    low, high = "a", "b"
    respaced = 0
    moves = 600
    for index in range(moves):
        moving = card(f"n{index}")
        move = plan_move(lane_of("review", *cards), moving, after=low)
        placed = {p.task: p.rank for p in (move.card, *move.others)}
        respaced += len(move.others) > 0
        cards = [card(c.task, column_id="review", rank=placed.get(c.task, c.rank)) for c in cards]
        cards.append(card(moving.task, column_id="review", rank=move.card.rank))
        order = [c.task for c in lane_of("review", *cards).cards]
        assert len(move.card.rank) <= RANK_MAX
        assert order.index(low) < order.index(moving.task) < order.index(high)
        low, high = (moving.task, high) if index % 2 else (low, moving.task)
    assert 0 < respaced < moves / 20


def test_move_request_checks() -> None:
    with pytest.raises(InvalidArgument) as raised:
        check_move_request("t1", "t2", "t3")
    assert raised.value.violations[0].field == "before_card"
    with pytest.raises(InvalidArgument):
        check_move_request("t3", "", "t3")
    check_move_request("t1", "", "t3")


def test_reorder_names_every_column_once() -> None:
    check_new_order(["a", "b"], ["b", "a"])
    with pytest.raises(InvalidArgument) as raised:
        check_new_order(["a", "b", "c"], ["b", "b", "x"])
    fields = {v.field for v in raised.value.violations}
    assert fields == {"board_columns[1]", "board_columns[2]", "board_columns"}


def test_column_drafts_are_checked() -> None:
    with pytest.raises(InvalidArgument) as raised:
        BoardColumn.create("p1", "Bad Id", ColumnDraft(" ", wip_limit=-1), 0, NOW)
    fields = {v.field for v in raised.value.violations}
    assert fields == {"board_column_id", "board_column.display_name", "board_column.wip_limit"}


# --- Reminders ------------------------------------------------------------------------------


def test_due_soon_then_overdue_once_each_per_due_time() -> None:
    due = NOW + timedelta(hours=3)
    assert reminder_due(due + timedelta(days=2), NOW, Announced()) is None
    assert reminder_due(due, NOW, Announced()) is Reminder.DUE_SOON
    assert reminder_due(due, NOW, Announced(due_soon=due)) is None
    later = due + timedelta(seconds=1)
    assert reminder_due(due, later, Announced(due_soon=due)) is Reminder.OVERDUE
    assert reminder_due(due, later, Announced(due_soon=due, overdue=due)) is None


def test_a_moved_due_time_is_reminded_again() -> None:
    old = NOW - timedelta(hours=1)
    new = NOW + timedelta(hours=2)
    assert reminder_due(new, NOW, Announced(due_soon=old, overdue=old)) is Reminder.DUE_SOON


def test_a_task_first_seen_past_due_is_only_overdue() -> None:
    due = NOW - timedelta(days=3)
    assert reminder_due(due, NOW, Announced()) is Reminder.OVERDUE


def test_the_next_reminder_time_follows_what_was_announced() -> None:
    due = NOW + timedelta(days=3)
    todo, doing = TaskStatus.TODO, TaskStatus.IN_PROGRESS
    assert next_reminder_time(due, todo, Announced()) == due - DUE_SOON_WINDOW
    assert next_reminder_time(due, doing, Announced(due_soon=due)) == due
    assert next_reminder_time(due, todo, Announced(due_soon=due, overdue=due)) is None
    # Announced for an earlier due time: owed again for this one.
    old = due - timedelta(days=1)
    assert next_reminder_time(due, todo, Announced(old, old)) == due - DUE_SOON_WINDOW
    assert next_reminder_time(None, todo, Announced()) is None
    for closed in (TaskStatus.DONE, TaskStatus.CANCELLED):
        assert next_reminder_time(due, closed, Announced()) is None


def test_the_scan_finds_each_reminder_at_its_next_reminder_time() -> None:
    """Walking time forward, a task is owed a reminder exactly when its next
    reminder time has come, and after each is announced the next one moves on."""
    due = NOW + timedelta(hours=30)
    announced = Announced()
    found = []
    for hour in range(0, 40):
        now = NOW + timedelta(hours=hour)
        next_time = next_reminder_time(due, TaskStatus.TODO, announced)
        owed = reminder_due(due, now, announced)
        assert (owed is not None) == (next_time is not None and next_time <= now)
        if owed is not None:
            found.append((hour, owed))
            announced = announced.adding(owed, due)
    assert found == [(6, Reminder.DUE_SOON), (30, Reminder.OVERDUE)]
