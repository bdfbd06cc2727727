"""The contacts service as lead conversion needs it: creating a person and an
organization under ids sales chose, over gRPC (crm.contacts.v1).

Creates are idempotent by those ids: contacts answers a repeated create with
ALREADY_EXISTS, and then the contact under the id is the one an earlier
attempt made (the ids are fresh UUIDs, used for nothing else).
"""

from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc

from crm.contacts.v1 import contacts_service_pb2 as pb
from crm.contacts.v1 import contacts_service_pb2_grpc as pb_grpc
from crm.contacts.v1 import organization_pb2, person_pb2
from crm_common import transport
from crm_common.auth.client import service_auth_interceptors
from crm_common.errors import FailedPrecondition, Unavailable
from crm_common.grpc.telemetry import client_interceptors
from crm_sales.domain.leads import Lead

CALL_TIMEOUT_SECONDS = 5.0

T = TypeVar("T")

# Reconnect within seconds once contacts is back, rather than after gRPC's
# default backoff of up to two minutes: conversions fail until then.
_RECONNECT = [("grpc.initial_reconnect_backoff_ms", 200), ("grpc.max_reconnect_backoff_ms", 2000)]

# What contacts says about the lead's data rather than about being reachable.
_REFUSALS = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.ALREADY_EXISTS,
}


class ContactsGateway:
    def __init__(self, target: str) -> None:
        self._target = target
        # Sales calls as itself (role `service`), not as whoever converts the lead.
        self._interceptors = [*client_interceptors(), *service_auth_interceptors("sales")]
        self._stub: pb_grpc.ContactsServiceStub | None = None

    @property
    def stub(self) -> pb_grpc.ContactsServiceStub:
        # Created on first use, inside the server's event loop.
        if self._stub is None:
            channel = transport.aio_channel(
                self._target, options=_RECONNECT, interceptors=self._interceptors
            )
            self._stub = pb_grpc.ContactsServiceStub(channel)
        return self._stub

    async def create_person(self, person_id: str, lead: Lead) -> str:
        """`people/{person_id}`, created from the lead unless an earlier attempt did."""
        details = lead.details
        person = person_pb2.Person(
            given_name=details.given_name,
            family_name=details.family_name,
            email_addresses=[person_pb2.EmailAddress(address=details.email)]
            if details.email
            else [],
            phone_numbers=[person_pb2.PhoneNumber(number=details.phone)] if details.phone else [],
            job_title=details.title,
            owner=details.owner,
            tags=details.tags,
        )
        request = pb.CreatePersonRequest(person=person, person_id=person_id)
        name = f"people/{person_id}"
        await self._create(
            lambda: self.stub.CreatePerson(request, timeout=CALL_TIMEOUT_SECONDS),
            lambda: self.stub.GetPerson(
                pb.GetPersonRequest(name=name), timeout=CALL_TIMEOUT_SECONDS
            ),
            "person",
        )
        return name

    async def create_organization(self, organization_id: str, lead: Lead) -> str:
        """`organizations/{organization_id}` for the company, unless an earlier attempt made it."""
        organization = organization_pb2.Organization(
            display_name=lead.details.company_name, owner=lead.details.owner
        )
        request = pb.CreateOrganizationRequest(
            organization=organization, organization_id=organization_id
        )
        name = f"organizations/{organization_id}"
        await self._create(
            lambda: self.stub.CreateOrganization(request, timeout=CALL_TIMEOUT_SECONDS),
            lambda: self.stub.GetOrganization(
                pb.GetOrganizationRequest(name=name), timeout=CALL_TIMEOUT_SECONDS
            ),
            "organization",
        )
        return name

    async def _create(
        self, create: Callable[[], Awaitable[T]], get: Callable[[], Awaitable[T]], what: str
    ) -> None:
        try:
            await create()
        except grpc.aio.AioRpcError as error:
            if error.code() is not grpc.StatusCode.ALREADY_EXISTS:
                raise _translated(error, what) from error
            try:
                # Taken: by an earlier attempt under this id, or (say) the email is another's.
                await get()
            except grpc.aio.AioRpcError as lookup:
                if lookup.code() is grpc.StatusCode.NOT_FOUND:
                    raise _translated(error, what) from error
                raise _translated(lookup, what) from lookup


def _translated(error: grpc.aio.AioRpcError, what: str) -> Exception:
    if error.code() in _REFUSALS:
        return FailedPrecondition(
            f"the contacts service refused the lead's {what}: {error.details()}; "
            "correct the lead and convert again"
        )
    return Unavailable(
        f"the contacts service cannot create the lead's {what} now ({error.code().name}); "
        "nothing was converted, retry later"
    )
