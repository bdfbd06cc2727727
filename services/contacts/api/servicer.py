"""The contacts gRPC servicer, composed of one class per area of the API.

Each area (people, organizations, ...) lives in its own module under api/
and only translates proto <-> domain around its handlers.
"""

from crm.contacts.v1 import contacts_service_pb2_grpc as pb_grpc
from crm_common.messaging.uow import UnitOfWorkFactory
from crm_contacts.api.custom_fields import CustomFieldsApi
from crm_contacts.api.merge import MergeApi
from crm_contacts.api.notes import NotesApi
from crm_contacts.api.organizations import OrganizationsApi
from crm_contacts.api.people import PeopleApi
from crm_contacts.api.privacy import PrivacyApi
from crm_contacts.api.relationships import RelationshipsApi
from crm_contacts.api.search import SearchApi
from crm_contacts.api.timeline import TimelineApi
from crm_contacts.api.transfer import TransferApi


class ContactsServicer(
    PeopleApi,
    OrganizationsApi,
    NotesApi,
    TimelineApi,
    RelationshipsApi,
    CustomFieldsApi,
    SearchApi,
    MergeApi,
    TransferApi,
    PrivacyApi,
    pb_grpc.ContactsServiceServicer,
):
    def __init__(self, units: UnitOfWorkFactory) -> None:
        self._units = units
