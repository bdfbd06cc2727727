"""Translation between the contract's Board, BoardColumn and Card and the domain."""

from crm.projects.v1 import board_pb2, task_pb2
from crm_common.errors import InvalidArgument
from crm_common.etags import etag_for
from crm_projects.domain.boards import BoardColumn, Card, ColumnDraft, Lane, board_name
from crm_projects.domain.names import USERS, is_name
from crm_projects.domain.tasks import Priority, TaskStatus, task_name
from crm_projects.handlers.boards import PersonalLane
from crm_projects.project_proto import project_id_from_name
from crm_projects.proto_values import enum_from_proto, enum_numbers, enum_to_proto, timestamp

_STATUS = "TASK_STATUS_"
_PRIORITY = "TASK_PRIORITY_"
_BOARD = "/board"
_COLUMNS = "/board/columns/"
# Looked up per card rather than by name: a board has hundreds of cards.
_STATUS_NUMBERS = enum_numbers(TaskStatus, task_pb2.TaskStatus, _STATUS)
_PRIORITY_NUMBERS = enum_numbers(Priority, task_pb2.TaskPriority, _PRIORITY)


def project_board_id(name: str, field: str) -> str:
    """The project id of `projects/{project}/board`."""
    if not name.endswith(_BOARD):
        raise InvalidArgument.single(field, f"{name!r} is not like projects/123/board")
    return project_id_from_name(name.removesuffix(_BOARD), field)


def personal_board_user(name: str, field: str) -> str | None:
    """`users/{user}` of `users/{user}/board`; None for any other name."""
    user = name.removesuffix(_BOARD)
    return user if name.endswith(_BOARD) and is_name(user, USERS) else None


def column_ids_from_name(name: str, field: str) -> tuple[str, str]:
    """(project id, column id) of `projects/{project}/board/columns/{column}`."""
    board, _, column_id = name.partition(_COLUMNS)
    if not column_id or "/" in column_id or any(c.isspace() for c in column_id):
        raise InvalidArgument.single(field, f"{name!r} is not like projects/123/board/columns/456")
    return project_board_id(board + _BOARD, field), column_id


def column_draft_from_proto(message: board_pb2.BoardColumn) -> ColumnDraft:
    return ColumnDraft(
        display_name=message.display_name,
        wip_limit=message.wip_limit,
        task_status=column_status_from_proto(message.task_status),
    )


def column_status_from_proto(value: int) -> TaskStatus | None:
    if value == task_pb2.TASK_STATUS_UNSPECIFIED:
        return None
    return enum_from_proto(
        value, task_pb2.TaskStatus, _STATUS, TaskStatus, "board_column.task_status", TaskStatus.TODO
    )


def column_field(message: board_pb2.BoardColumn, field: str) -> object:
    """One writable field of `message` in its domain form."""
    if field == "task_status":
        return column_status_from_proto(message.task_status)
    return getattr(message, field)


def board_to_proto(project_id: str, lanes: list[Lane], card_limit: int) -> board_pb2.Board:
    return board_pb2.Board(
        name=board_name(project_id),
        columns=[column_to_proto(lane.column, lane.cards, card_limit) for lane in lanes],
    )


def column_to_proto(
    column: BoardColumn, cards: tuple[Card, ...] = (), card_limit: int = 0
) -> board_pb2.BoardColumn:
    status = column.draft.task_status
    return board_pb2.BoardColumn(
        name=column.name,
        display_name=column.draft.display_name,
        position=column.position,
        wip_limit=column.draft.wip_limit,
        task_status=enum_to_proto(status, task_pb2.TaskStatus, _STATUS) if status else 0,
        card_count=len(cards),
        cards=[card_to_proto(card) for card in cards[:card_limit]],
        create_time=timestamp(column.create_time),
        update_time=timestamp(column.update_time),
        etag=etag_for(column.version),
    )


def personal_board_to_proto(user: str, lanes: list[PersonalLane]) -> board_pb2.Board:
    name = user + _BOARD
    return board_pb2.Board(
        name=name,
        columns=[
            board_pb2.BoardColumn(
                name=f"{name}/columns/{lane.column_id}",
                display_name=lane.status.name.replace("_", " ").capitalize(),
                position=position,
                task_status=enum_to_proto(lane.status, task_pb2.TaskStatus, _STATUS),
                card_count=lane.count,
                cards=[card_to_proto(card) for card in lane.cards],
            )
            for position, lane in enumerate(lanes)
        ],
    )


def card_to_proto(card: Card) -> board_pb2.Card:
    return board_pb2.Card(
        task=task_name(card.project, card.task),
        title=card.title,
        assignee=card.assignee,
        due_time=timestamp(card.due_time) if card.due_time is not None else None,
        priority=_PRIORITY_NUMBERS[card.priority],
        status=_STATUS_NUMBERS[card.status],
        rank=card.rank,
    )
