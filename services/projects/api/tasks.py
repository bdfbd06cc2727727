"""The TaskService servicer: tasks and their comments, proto in, use case, proto out."""

from google.protobuf.empty_pb2 import Empty
from grpc.aio import ServicerContext

from crm.projects.v1 import task_pb2
from crm.projects.v1 import task_service_pb2 as pb
from crm.projects.v1 import task_service_pb2_grpc as pb_grpc
from crm_common.errors import InvalidArgument
from crm_common.fieldmask import resolve_update_mask
from crm_common.listing import list_request
from crm_common.messaging.uow import UnitOfWorkFactory
from crm_common.pagination import (
    SortKey,
    decode_page_token,
    encode_page_token,
    page_size,
    query_digest,
)
from crm_projects.domain.tasks import TASK_FIELDS, TASK_FILTER_SCHEMA, TASK_SORTABLE
from crm_projects.handlers import comments, tasks
from crm_projects.handlers.units import in_transaction, read
from crm_projects.project_proto import project_id_from_name
from crm_projects.task_proto import (
    comment_to_proto,
    task_draft_from_proto,
    task_field,
    task_ids_from_name,
    task_to_proto,
)

# Soonest due first; tasks without a due time last.
BY_DUE_TIME = (SortKey("due_time"),)
OLDEST_FIRST = (SortKey("create_time"), SortKey("id"))
EVERY_PROJECT = "projects/-"


class TaskServicer(pb_grpc.TaskServiceServicer):
    def __init__(self, units: UnitOfWorkFactory) -> None:
        self._units = units

    async def CreateTask(
        self, request: pb.CreateTaskRequest, context: ServicerContext
    ) -> task_pb2.Task:
        project_id = project_id_from_name(request.parent, "parent")
        if not request.HasField("task"):
            raise InvalidArgument.single("task", "is required")
        draft = task_draft_from_proto(project_id, request.task)
        task = await in_transaction(self._units, tasks.create_task, draft, request.task_id)
        return task_to_proto(task)

    async def GetTask(self, request: pb.GetTaskRequest, context: ServicerContext) -> task_pb2.Task:
        project_id, task_id = task_ids_from_name(request.name)
        return task_to_proto(await read(self._units, tasks.get_task, project_id, task_id))

    async def ListTasks(
        self, request: pb.ListTasksRequest, context: ServicerContext
    ) -> pb.ListTasksResponse:
        project_id = (
            None
            if request.parent == EVERY_PROJECT
            else project_id_from_name(request.parent, "parent")
        )
        query = list_request(request, TASK_FILTER_SCHEMA, TASK_SORTABLE, BY_DUE_TIME)
        page = await read(
            self._units,
            tasks.list_tasks,
            project_id,
            query.expr,
            query.keys,
            query.after,
            query.size,
        )
        return pb.ListTasksResponse(
            tasks=[task_to_proto(task) for task in page.items],
            next_page_token=query.next_page_token(page.next_key),
        )

    async def UpdateTask(
        self, request: pb.UpdateTaskRequest, context: ServicerContext
    ) -> task_pb2.Task:
        if not request.HasField("task"):
            raise InvalidArgument.single("task", "is required")
        project_id, task_id = task_ids_from_name(request.task.name, "task.name")
        fields = resolve_update_mask(request.update_mask, request.task, TASK_FIELDS)
        changes = {name: task_field(request.task, name, project_id) for name in sorted(fields)}
        task = await in_transaction(
            self._units, tasks.change_task, task_id, changes, request.task.etag, project_id
        )
        return task_to_proto(task)

    async def DeleteTask(self, request: pb.DeleteTaskRequest, context: ServicerContext) -> Empty:
        project_id, task_id = task_ids_from_name(request.name)
        await in_transaction(self._units, tasks.delete_task, project_id, task_id, request.etag)
        return Empty()

    async def CreateTaskComment(
        self, request: pb.CreateTaskCommentRequest, context: ServicerContext
    ) -> task_pb2.TaskComment:
        project_id, task_id = task_ids_from_name(request.parent, "parent")
        if not request.HasField("task_comment"):
            raise InvalidArgument.single("task_comment", "is required")
        comment = await in_transaction(
            self._units,
            comments.add_comment,
            project_id,
            task_id,
            request.task_comment.author,
            request.task_comment.body,
        )
        return comment_to_proto(comment)

    async def ListTaskComments(
        self, request: pb.ListTaskCommentsRequest, context: ServicerContext
    ) -> pb.ListTaskCommentsResponse:
        project_id, task_id = task_ids_from_name(request.parent, "parent")
        size = page_size(request.page_size)
        digest = query_digest(parent=request.parent)
        after = decode_page_token(request.page_token, digest)
        page = await read(
            self._units, comments.list_comments, project_id, task_id, OLDEST_FIRST, after, size
        )
        next_token = "" if page.next_key is None else encode_page_token(page.next_key, digest)
        return pb.ListTaskCommentsResponse(
            task_comments=[comment_to_proto(comment) for comment in page.items],
            next_page_token=next_token,
        )
