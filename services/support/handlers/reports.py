"""Use cases for reports."""

from crm_common.filtering import Expr
from crm_common.messaging.uow import UnitOfWork
from crm_support.domain.reports import Grouping, ReportPeriod, TicketReport, build_report
from crm_support.storage.reports import ReportQueries


async def ticket_report(
    uow: UnitOfWork, period: ReportPeriod, expr: Expr | None, grouping: Grouping
) -> TicketReport:
    async with uow:
        counts = await ReportQueries(uow.session).counts(period, expr, grouping)
    return build_report(period, grouping, counts)
