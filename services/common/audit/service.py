"""`crm.audit.v1.AuditService`: one servicer for every service, over its own
`audit_entries` table. Each main adds `AUDIT_SERVICE` to its SERVICES."""

from datetime import UTC
from typing import Any

import grpc
from sqlalchemy import Row, select

from crm.audit.v1 import audit_service_pb2 as pb
from crm.audit.v1 import audit_service_pb2_grpc as pb_grpc
from crm_common import server
from crm_common.filtering import FilterField, FilterSchema, parse_filter
from crm_common.listing import Page
from crm_common.messaging.tables import audit_entries
from crm_common.messaging.uow import UnitOfWorkFactory
from crm_common.pagination import (
    SortKey,
    decode_page_token,
    encode_page_token,
    page_size,
    query_digest,
)
from crm_common.storage.filter_sql import ColumnBinding, filter_clause
from crm_common.storage.keyset import paged

FILTER = FilterSchema(
    {
        "resource": FilterField.string(),
        "actor": FilterField.string(),
        "actor_kind": FilterField.string(),
        "method": FilterField.string(),
        "action": FilterField.string(),
        "create_time": FilterField.timestamp(),
    }
)
_COLUMNS = {
    "resource": audit_entries.c.resource,
    "actor": audit_entries.c.actor,
    "actor_kind": audit_entries.c.actor_kind,
    "method": audit_entries.c.method,
    "action": audit_entries.c.action,
    "create_time": audit_entries.c.occurred_at,
}
_BINDINGS = {field: ColumnBinding(column) for field, column in _COLUMNS.items()}
# Newest first; the position is unique, so it alone makes a keyset order.
_ORDER = (SortKey("position", descending=True),)
_KEY_COLUMNS = {"position": audit_entries.c.position}


class AuditServicer(pb_grpc.AuditServiceServicer):
    def __init__(self, units: UnitOfWorkFactory) -> None:
        self._units = units

    async def ListAuditEntries(
        self, request: pb.ListAuditEntriesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListAuditEntriesResponse:
        size = page_size(request.page_size)
        expr = parse_filter(request.filter, FILTER)
        digest = query_digest(filter=repr(expr))
        after = decode_page_token(request.page_token, digest)
        query = select(audit_entries).where(filter_clause(expr, _BINDINGS))
        async with self._units() as uow:
            rows = (
                await uow.session.execute(paged(query, _ORDER, _KEY_COLUMNS, after, size))
            ).all()
        page = Page.of([(row, [row.position]) for row in rows], size)
        return pb.ListAuditEntriesResponse(
            audit_entries=[_entry(row) for row in page.items],
            next_page_token=""
            if page.next_key is None
            else encode_page_token(page.next_key, digest),
        )


def _entry(row: Row[Any]) -> pb.AuditEntry:
    entry = pb.AuditEntry(
        name=f"auditEntries/{row.position}",
        actor=row.actor,
        actor_kind=row.actor_kind,
        method=row.method,
        peer=row.peer,
        resource=row.resource,
        action=row.action,
        changed_fields=row.changed_fields,
    )
    entry.create_time.FromDatetime(row.occurred_at.astimezone(UTC))
    return entry


AUDIT_SERVICE = server.grpc_service(pb, pb_grpc, "AuditService", AuditServicer)
