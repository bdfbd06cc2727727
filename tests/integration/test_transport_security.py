"""Transport security: mutual TLS on every gRPC link and TLS with a login on NATS.

One small suite (contacts, sales and support) runs with certificates from `crm
dev certs`: its servers demand a client certificate from the dev CA, sales calls
contacts with its own, and the services reach NATS over TLS with a client
certificate and a token. SQLite only: what is tested here is the wire, not the
database.
"""

import asyncio
from collections.abc import Iterator

import grpc
import nats
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from crm.audit.v1.audit_service_pb2 import ListAuditEntriesRequest
from crm.audit.v1.audit_service_pb2_grpc import AuditServiceStub
from crm.contacts.v1 import contacts_service_pb2 as contacts
from crm.contacts.v1 import person_pb2
from crm.contacts.v1.contacts_service_pb2_grpc import ContactsServiceStub
from crm.support.v1 import support_service_pb2 as support
from crm_cli.certs import CertificateFiles, make_certificates
from crm_cli.servers import NatsServer, NatsTls, free_port
from crm_common import transport
from crm_common.config import SuiteSettings
from crm_common.messaging.broker import security_options
from tests.integration.harness import Databases, Suite, eventually, running_suite
from tests.integration.test_sales_lead_conversion import convert, qualified_lead

NATS_TOKEN = "s3cret-nats-token"


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> CertificateFiles:
    return make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def strangers(tmp_path_factory: pytest.TempPathFactory) -> CertificateFiles:
    """Certificates of another CA, unknown to the suite."""
    return make_certificates(tmp_path_factory.mktemp("other-certs"), ca_name="Other CA")


@pytest.fixture(scope="module")
def tls_nats(
    certificates: CertificateFiles, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NatsServer]:
    tls = NatsTls(certificates.server_cert, certificates.server_key, certificates.ca)
    store = tmp_path_factory.mktemp("tls-nats") / "store"
    with NatsServer(store, tls=tls, token=NATS_TOKEN) as server:
        yield server


@pytest.fixture(scope="module")
def tls_suite(
    certificates: CertificateFiles,
    tls_nats: NatsServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Suite]:
    databases = Databases("sqlite", tmp_path_factory.mktemp("sqlite"), None)
    env = {
        **certificates.environment(),
        "CRM_NATS_TOKEN": NATS_TOKEN,
        "CRM_CONTACTS_HEALTH_ADDRESS": f"127.0.0.1:{free_port()}",
    }
    logs = tmp_path_factory.mktemp("logs")
    services = ["contacts", "sales", "support"]
    with running_suite(services, tls_nats, databases, logs, **env) as suite:
        yield suite


def contacts_client(suite: Suite, **tls: str) -> ContactsServiceStub:
    """A contacts client with exactly these CRM_TLS_* settings (none: plaintext)."""
    plain = {name: "" for name in SuiteSettings.model_fields if name.startswith("tls_")}
    settings = SuiteSettings(**{**plain, **tls})
    channel = transport.channel(suite.processes["contacts"].address, settings)
    suite.channels.append(channel)
    return ContactsServiceStub(channel)


def create_person(stub: ContactsServiceStub, name: str) -> person_pb2.Person:
    request = contacts.CreatePersonRequest(person=person_pb2.Person(given_name=name))
    return stub.CreatePerson(request, timeout=10)


def test_a_client_with_a_certificate_from_the_ca_is_served_and_events_cross_nats_over_tls(
    tls_suite: Suite,
) -> None:
    person = create_person(tls_suite.contacts, "Ada")

    def support_knows_her() -> None:
        customers = tls_suite.support.ListCustomers(support.ListCustomersRequest(page_size=100))
        assert person.name.removeprefix("people/") in {
            customer.name.removeprefix("customers/") for customer in customers.customers
        }

    eventually(support_knows_her)


def test_the_same_client_settings_with_the_suites_certificate_get_past_tls(
    tls_suite: Suite, certificates: CertificateFiles
) -> None:
    # The refusals below are the handshake's: with the right certificate the
    # same client reaches the service, which then wants a token.
    insider = contacts_client(tls_suite, **certificates_settings(certificates))
    with pytest.raises(grpc.RpcError) as refused:
        create_person(insider, "Ada")
    assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED


def certificates_settings(certificates: CertificateFiles) -> dict[str, str]:
    return {
        "tls_ca_file": str(certificates.ca),
        "tls_client_cert_file": str(certificates.client_cert),
        "tls_client_key_file": str(certificates.client_key),
    }


def test_sales_converts_a_lead_into_contacts_over_mutual_tls(tls_suite: Suite) -> None:
    lead = qualified_lead(tls_suite, email="grace@engines.example", company_name="Engines")
    converted = convert(tls_suite, lead)
    person = tls_suite.contacts.GetPerson(contacts.GetPersonRequest(name=converted.person))
    assert (person.given_name, person.family_name) == ("Ada", "Lovelace")
    audit = tls_suite.stub("contacts", AuditServiceStub)
    (created,) = audit.ListAuditEntries(
        ListAuditEntriesRequest(filter=f'resource = "{converted.person}"')
    ).audit_entries
    assert (created.actor, created.actor_kind) == ("service:sales", "service")


def test_a_client_certificate_from_another_ca_is_refused(
    tls_suite: Suite, certificates: CertificateFiles, strangers: CertificateFiles
) -> None:
    stranger = contacts_client(
        tls_suite,
        tls_ca_file=str(certificates.ca),
        tls_client_cert_file=str(strangers.client_cert),
        tls_client_key_file=str(strangers.client_key),
    )
    with pytest.raises(grpc.RpcError) as refused:
        create_person(stranger, "Mallory")
    assert refused.value.code() is grpc.StatusCode.UNAVAILABLE


def test_a_self_signed_client_certificate_is_refused(
    tls_suite: Suite, certificates: CertificateFiles, strangers: CertificateFiles
) -> None:
    # The other CA's own certificate is self-signed: it signs itself, not a client.
    forger = contacts_client(
        tls_suite,
        tls_ca_file=str(certificates.ca),
        tls_client_cert_file=str(strangers.ca),
        tls_client_key_file=str(strangers.ca_key),
    )
    with pytest.raises(grpc.RpcError) as refused:
        create_person(forger, "Mallory")
    assert refused.value.code() is grpc.StatusCode.UNAVAILABLE


def test_a_client_without_a_certificate_is_refused(
    tls_suite: Suite, certificates: CertificateFiles
) -> None:
    anonymous = contacts_client(tls_suite, tls_ca_file=str(certificates.ca))
    with pytest.raises(grpc.RpcError) as refused:
        create_person(anonymous, "Mallory")
    assert refused.value.code() is grpc.StatusCode.UNAVAILABLE


def test_a_plaintext_client_is_refused(tls_suite: Suite) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        create_person(contacts_client(tls_suite), "Mallory")
    assert refused.value.code() is grpc.StatusCode.UNAVAILABLE


def test_a_client_that_does_not_trust_the_server_refuses_it(
    tls_suite: Suite, certificates: CertificateFiles, strangers: CertificateFiles
) -> None:
    doubter = contacts_client(
        tls_suite,
        tls_ca_file=str(strangers.ca),
        tls_client_cert_file=str(certificates.client_cert),
        tls_client_key_file=str(certificates.client_key),
    )
    with pytest.raises(grpc.RpcError) as refused:
        create_person(doubter, "Ada")
    assert refused.value.code() is grpc.StatusCode.UNAVAILABLE


def test_probes_get_plaintext_health_on_a_port_that_serves_nothing_else(
    tls_suite: Suite,
) -> None:
    address = tls_suite.processes["contacts"].env["CRM_CONTACTS_HEALTH_ADDRESS"]
    with grpc.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(grpc.RpcError) as refused:
            create_person(ContactsServiceStub(channel), "Mallory")
        assert refused.value.code() is grpc.StatusCode.UNIMPLEMENTED


def nats_login_error(url: str, **options: object) -> Exception | None:
    async def attempt() -> None:
        client = await nats.connect(url, allow_reconnect=False, connect_timeout=2, **options)
        await client.close()

    try:
        asyncio.run(attempt())
    except Exception as error:
        return error
    return None


def test_nats_refuses_clients_without_the_token_or_a_certificate(
    tls_nats: NatsServer, certificates: CertificateFiles
) -> None:
    settings = SuiteSettings(
        nats_tls_ca_file=str(certificates.ca),
        nats_tls_cert_file=str(certificates.client_cert),
        nats_tls_key_file=str(certificates.client_key),
        nats_token=NATS_TOKEN,
    )
    secured = security_options(settings)
    assert nats_login_error(tls_nats.url, **secured) is None
    assert nats_login_error(tls_nats.url, **{**secured, "token": "wrong"}) is not None
    without_certificate = security_options(
        SuiteSettings(nats_tls_ca_file=str(certificates.ca), nats_token=NATS_TOKEN)
    )
    assert nats_login_error(tls_nats.url, **without_certificate) is not None
    plaintext = tls_nats.url.replace("tls://", "nats://")
    assert nats_login_error(plaintext, token=NATS_TOKEN) is not None
