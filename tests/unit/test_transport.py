"""TLS settings for gRPC and NATS (crm_common.transport, messaging.broker) and
the dev certificates of `crm dev certs`."""

import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from crm_cli.certs import CertificateFiles, make_certificates
from crm_common import transport
from crm_common.config import SuiteSettings
from crm_common.messaging.broker import NatsSecurityError, security_options

PLAIN = {name: "" for name in SuiteSettings.model_fields if "tls_" in name}


def settings(**given: str) -> SuiteSettings:
    return SuiteSettings(**{**PLAIN, **given})


def test_nothing_set_is_plaintext_everywhere() -> None:
    plain = settings()
    assert transport.server_credentials(plain) is None
    assert transport.channel_credentials(plain) is None
    assert security_options(plain) == {}


def test_incomplete_or_unreadable_tls_settings_are_refused_up_front(tmp_path: Path) -> None:
    files = make_certificates(tmp_path)
    refused = [
        {"tls_cert_file": str(files.server_cert)},  # no key
        {"tls_client_ca_file": str(files.ca)},  # mutual TLS without a certificate
        {"tls_cert_file": str(tmp_path / "missing.pem"), "tls_key_file": str(files.server_key)},
    ]
    for given in refused:
        with pytest.raises(transport.TlsConfigurationError):
            transport.server_credentials(settings(**given))
    with pytest.raises(transport.TlsConfigurationError):
        transport.channel_credentials(settings(tls_client_cert_file=str(files.client_cert)))
    with pytest.raises(NatsSecurityError):
        security_options(settings(nats_tls_cert_file=str(files.client_cert)))
    with pytest.raises(NatsSecurityError):
        security_options(settings(nats_tls_ca_file=str(tmp_path / "missing.pem")))
    with pytest.raises(NatsSecurityError):
        security_options(SuiteSettings(nats_user="crm", nats_token="also-a-token"))


def test_nats_logins_map_to_nats_py_arguments(tmp_path: Path) -> None:
    files = make_certificates(tmp_path)
    options = security_options(
        settings(
            nats_tls_ca_file=str(files.ca),
            nats_tls_cert_file=str(files.client_cert),
            nats_tls_key_file=str(files.client_key),
        ).model_copy(update={"nats_user": "crm"})
    )
    assert isinstance(options["tls"], ssl.SSLContext)
    assert options["user"] == "crm" and options["password"] == ""
    creds = security_options(SuiteSettings(nats_creds_file="/run/nats/crm.creds"))
    assert creds == {"user_credentials": "/run/nats/crm.creds"}


def test_dev_certificates_chain_to_their_ca_and_keep_keys_private(tmp_path: Path) -> None:
    files = make_certificates(tmp_path, ["crm-contacts"])
    ca = x509.load_pem_x509_certificate(files.ca.read_bytes())
    server = x509.load_pem_x509_certificate(files.server_cert.read_bytes())
    client = x509.load_pem_x509_certificate(files.client_cert.read_bytes())
    for leaf in (server, client):
        leaf.verify_directly_issued_by(ca)
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"localhost", "crm-contacts"} <= set(names.get_values_for_type(x509.DNSName))
    usage = client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    for key in (files.ca_key, files.server_key, files.client_key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert transport.server_credentials(settings(**_server(files))) is not None


def _server(files: CertificateFiles) -> dict[str, str]:
    return {
        "tls_cert_file": str(files.server_cert),
        "tls_key_file": str(files.server_key),
        "tls_client_ca_file": str(files.ca),
    }
