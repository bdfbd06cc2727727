"""The BoardService servicer: proto in, use case, proto out."""

from google.protobuf.empty_pb2 import Empty
from grpc.aio import ServicerContext

from crm.projects.v1 import board_pb2
from crm.projects.v1 import board_service_pb2 as pb
from crm.projects.v1 import board_service_pb2_grpc as pb_grpc
from crm_common.errors import InvalidArgument, Violations
from crm_common.fieldmask import resolve_update_mask
from crm_common.messaging.uow import UnitOfWorkFactory
from crm_projects.api.board_proto import (
    board_to_proto,
    card_to_proto,
    column_draft_from_proto,
    column_field,
    column_ids_from_name,
    column_to_proto,
    personal_board_to_proto,
    personal_board_user,
    project_board_id,
)
from crm_projects.domain.boards import COLUMN_FIELDS, check_move_request
from crm_projects.handlers import boards
from crm_projects.handlers.units import in_transaction, read
from crm_projects.task_proto import task_ids_from_name

CARD_LIMIT_DEFAULT = 200
CARD_LIMIT_MAX = 1000


class BoardServicer(pb_grpc.BoardServiceServicer):
    def __init__(self, units: UnitOfWorkFactory) -> None:
        self._units = units

    async def GetBoard(
        self, request: pb.GetBoardRequest, context: ServicerContext
    ) -> board_pb2.Board:
        limit = _card_limit(request.card_limit)
        user = personal_board_user(request.name, "name")
        if user is not None:
            lanes = await read(self._units, boards.get_personal_board, user, limit)
            return personal_board_to_proto(user, lanes)
        if not request.name.startswith("projects/"):
            raise InvalidArgument.single(
                "name", f"{request.name!r} is not like projects/123/board or users/123/board"
            )
        project_id = project_board_id(request.name, "name")
        return board_to_proto(
            project_id, await read(self._units, boards.get_board, project_id), limit
        )

    async def CreateBoardColumn(
        self, request: pb.CreateBoardColumnRequest, context: ServicerContext
    ) -> board_pb2.BoardColumn:
        project_id = project_board_id(request.parent, "parent")
        if not request.HasField("board_column"):
            raise InvalidArgument.single("board_column", "is required")
        draft = column_draft_from_proto(request.board_column)
        column = await in_transaction(
            self._units, boards.create_column, project_id, draft, request.board_column_id
        )
        return column_to_proto(column)

    async def UpdateBoardColumn(
        self, request: pb.UpdateBoardColumnRequest, context: ServicerContext
    ) -> board_pb2.BoardColumn:
        if not request.HasField("board_column"):
            raise InvalidArgument.single("board_column", "is required")
        message = request.board_column
        project_id, column_id = column_ids_from_name(message.name, "board_column.name")
        fields = resolve_update_mask(request.update_mask, message, COLUMN_FIELDS)
        changes = {name: column_field(message, name) for name in sorted(fields)}
        column = await in_transaction(
            self._units, boards.update_column, project_id, column_id, changes, message.etag
        )
        return column_to_proto(column)

    async def DeleteBoardColumn(
        self, request: pb.DeleteBoardColumnRequest, context: ServicerContext
    ) -> Empty:
        project_id, column_id = column_ids_from_name(request.name, "name")
        await in_transaction(self._units, boards.delete_column, project_id, column_id, request.etag)
        return Empty()

    async def ReorderBoardColumns(
        self, request: pb.ReorderBoardColumnsRequest, context: ServicerContext
    ) -> board_pb2.Board:
        project_id = project_board_id(request.parent, "parent")
        violations = Violations()
        column_ids = []
        for index, name in enumerate(request.board_columns):
            field = f"board_columns[{index}]"
            try:
                owner, column_id = column_ids_from_name(name, field)
            except InvalidArgument as error:
                violations.extend(error.violations)
                continue
            if owner != project_id:
                violations.add(field, f"{name!r} is not a column of {request.parent}")
            column_ids.append(column_id)
        if not request.board_columns:
            violations.add("board_columns", "is required")
        violations.raise_if_any()
        lanes = await in_transaction(self._units, boards.reorder_columns, project_id, column_ids)
        return board_to_proto(project_id, lanes, CARD_LIMIT_DEFAULT)

    async def MoveCard(
        self, request: pb.MoveCardRequest, context: ServicerContext
    ) -> board_pb2.Card:
        project_id, task_id = task_ids_from_name(request.task, "task")
        board_project, column_id = column_ids_from_name(request.board_column, "board_column")
        if board_project != project_id:
            raise InvalidArgument.single(
                "board_column", f"is not a column of the board of projects/{project_id}"
            )
        neighbours = {
            field: task_ids_from_name(value, field)[1] if value else ""
            for field, value in (
                ("after_card", request.after_card),
                ("before_card", request.before_card),
            )
        }
        check_move_request(neighbours["after_card"], neighbours["before_card"], task_id)
        card = await in_transaction(
            self._units,
            boards.move_card,
            project_id,
            task_id,
            column_id,
            neighbours["after_card"],
            neighbours["before_card"],
        )
        return card_to_proto(card)


def _card_limit(value: int) -> int:
    if value == 0:
        return CARD_LIMIT_DEFAULT
    if not 1 <= value <= CARD_LIMIT_MAX:
        raise InvalidArgument.single("card_limit", f"must be from 1 to {CARD_LIMIT_MAX}")
    return value
