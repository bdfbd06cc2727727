"""`crm dev certs`: a local certificate authority and the certificates it signs,
for TLS and mutual TLS on this machine (`crm up --tls`, the tests).

The CA signs one server certificate, valid for loopback and the names given
(every service and NATS present it; it is good for client authentication too,
as a pod's one certificate must be), and one client certificate (for `crm`
and other clients). Keys are ECDSA P-256 and only readable by their owner.
Nothing here is fit for production, where cert-manager or a real CA issues
certificates (deploy/README.md, Transport security).
"""

from __future__ import annotations

import argparse
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]

VALIDITY = timedelta(days=365)
# Loopback under every name a local client may use for it.
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
CLIENT_NAME = "crm-dev-client"


@dataclass(frozen=True)
class CertificateFiles:
    """Where `make_certificates` wrote the PEM files."""

    folder: Path

    @property
    def ca(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.folder / "ca-key.pem"

    @property
    def server_cert(self) -> Path:
        return self.folder / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.folder / "server-key.pem"

    @property
    def client_cert(self) -> Path:
        return self.folder / "client.pem"

    @property
    def client_key(self) -> Path:
        return self.folder / "client-key.pem"

    def exist(self) -> bool:
        pems = (self.ca, self.server_cert, self.server_key, self.client_cert, self.client_key)
        return all(path.exists() for path in pems)

    def environment(self) -> dict[str, str]:
        """The CRM_* variables for mutual TLS everywhere: the services' gRPC servers
        and clients, and their NATS connections."""
        return {
            "CRM_TLS_CERT_FILE": str(self.server_cert),
            "CRM_TLS_KEY_FILE": str(self.server_key),
            "CRM_TLS_CLIENT_CA_FILE": str(self.ca),
            **self.client_environment(),
            "CRM_NATS_TLS_CA_FILE": str(self.ca),
            "CRM_NATS_TLS_CERT_FILE": str(self.client_cert),
            "CRM_NATS_TLS_KEY_FILE": str(self.client_key),
        }

    def client_environment(self) -> dict[str, str]:
        """What a gRPC client (`crm`, grpcurl-like tools) needs to call the services."""
        return {
            "CRM_TLS_CA_FILE": str(self.ca),
            "CRM_TLS_CLIENT_CERT_FILE": str(self.client_cert),
            "CRM_TLS_CLIENT_KEY_FILE": str(self.client_key),
        }


@dataclass(frozen=True)
class _Issuer:
    name: x509.Name
    key: ec.EllipticCurvePrivateKey


def make_certificates(
    folder: Path, hosts: Sequence[str] = (), *, ca_name: str = "CRM dev CA"
) -> CertificateFiles:
    """A fresh CA in `folder`, with a server certificate for loopback and `hosts` and
    a client certificate, both signed by it; replaces what the folder held."""
    folder.mkdir(parents=True, exist_ok=True)
    files = CertificateFiles(folder)
    ca = _Issuer(_name(ca_name), _new_key())
    _write_key(files.ca_key, ca.key)
    _write_certificate(files.ca, _certificate_authority(ca))
    server_key = _new_key()
    _write_key(files.server_key, server_key)
    names = list(dict.fromkeys([*LOOPBACK_NAMES, *hosts]))  # ordered, without repeats
    # Also a client certificate: a pod presents one certificate both ways.
    both = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    server = _leaf(ca, server_key, "crm-dev-server", both, names)
    _write_certificate(files.server_cert, server)
    client_key = _new_key()
    _write_key(files.client_key, client_key)
    client = _leaf(ca, client_key, CLIENT_NAME, [ExtendedKeyUsageOID.CLIENT_AUTH], ())
    _write_certificate(files.client_cert, client)
    return files


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(
    subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey
) -> x509.CertificateBuilder:
    # Valid from a minute ago: clocks of a client and a server may differ a little.
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + VALIDITY)
    )


def _certificate_authority(ca: _Issuer) -> x509.Certificate:
    return (
        _builder(ca.name, ca.name, ca.key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca.key.public_key()), False)
        .sign(ca.key, hashes.SHA256())
    )


def _leaf(
    ca: _Issuer,
    key: ec.EllipticCurvePrivateKey,
    common_name: str,
    usages: Sequence[x509.ObjectIdentifier],
    hosts: Sequence[str],
) -> x509.Certificate:
    builder = (
        _builder(_name(common_name), ca.name, key)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), False
        )
    )
    if hosts:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([_general_name(host) for host in hosts]), critical=False
        )
    return builder.sign(ca.key, hashes.SHA256())


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Created owner-only, never readable by others even for a moment.
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(pem)


def _write_certificate(path: Path, certificate: x509.Certificate) -> None:
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


# ------------------------------------------------------------------- command


def certs_command(args: argparse.Namespace) -> int:
    files = make_certificates(Path(args.dir), args.host)
    print(f"wrote a CA, a server and a client certificate to {files.folder}")
    print("Serve and call with mutual TLS (what `crm up --tls` sets):")
    for key, value in files.environment().items():
        print(f"  export {key}={value}")
    return 0


def add_certs_command(dev_commands: Subparsers) -> None:
    """`certs` under `crm dev`."""
    certs = dev_commands.add_parser(
        "certs",
        help="make a local CA with server and client certificates for (mutual) TLS",
        description=(
            "Makes a local certificate authority and a server and a client certificate "
            "signed by it, for TLS and mutual TLS on this machine. Replaces what DIR holds."
        ),
    )
    certs.add_argument(
        "--dir",
        default="var/certs",
        metavar="DIR",
        help="where the PEM files go (default: var/certs)",
    )
    certs.add_argument(
        "--host",
        action="append",
        default=[],
        metavar="NAME",
        help="another DNS name or IP address the server certificate is valid for "
        "(repeatable; loopback always is)",
    )
    certs.set_defaults(func=certs_command)
