"""The support gRPC servicer, composed of one class per area of the API.

Each area lives in its own module under api/ and only translates
proto <-> domain around its handlers.
"""

from crm.support.v1 import support_service_pb2_grpc as pb_grpc
from crm_common.messaging.uow import UnitOfWorkFactory
from crm_support.api.comments import CommentsApi
from crm_support.api.customers import CustomersApi
from crm_support.api.email import EmailApi
from crm_support.api.merge_and_rating import MergeAndRatingApi
from crm_support.api.tickets import TicketsApi


class SupportServicer(
    CustomersApi,
    TicketsApi,
    CommentsApi,
    MergeAndRatingApi,
    EmailApi,
    pb_grpc.SupportServiceServicer,
):
    def __init__(self, units: UnitOfWorkFactory) -> None:
        self._units = units
