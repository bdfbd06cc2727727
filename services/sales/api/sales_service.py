"""The SalesService servicer: pipelines, opportunities and close reasons."""

from crm.sales.v1 import sales_service_pb2_grpc as pb_grpc
from crm_common.messaging.uow import UnitOfWorkFactory
from crm_sales.api.opportunities import OpportunitiesApi
from crm_sales.api.pipelines import CloseReasonsApi, PipelinesApi


class SalesServicer(PipelinesApi, OpportunitiesApi, CloseReasonsApi, pb_grpc.SalesServiceServicer):
    def __init__(self, units: UnitOfWorkFactory) -> None:
        self._units = units
