"""TLS for the suite's gRPC links: the one place servers and clients get it.

Everything comes from the `CRM_TLS_*` settings (config.SuiteSettings), and
nothing set means plaintext, the local default:

- a server with `CRM_TLS_CERT_FILE` and `CRM_TLS_KEY_FILE` serves TLS; with
  `CRM_TLS_CLIENT_CA_FILE` too it refuses any client without a certificate
  signed by that CA (mutual TLS);
- a client with `CRM_TLS_CA_FILE` verifies servers against that CA, and sends
  `CRM_TLS_CLIENT_CERT_FILE`/`CRM_TLS_CLIENT_KEY_FILE` when set.

    server.add_secure_port(...)   ->  transport.listen(server, address, settings)
    grpc.aio.insecure_channel(t)  ->  transport.aio_channel(t)
    grpc.insecure_channel(t)      ->  transport.channel(t)
"""

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import grpc

from crm_common.config import SuiteSettings

ChannelOptions = Sequence[tuple[str, Any]]


class TlsConfigurationError(ValueError):
    """The CRM_TLS_* settings are incomplete or name files that cannot be read."""


def settings_from(env: Mapping[str, str]) -> SuiteSettings:
    """The suite settings an environment describes, e.g. a child process's, whose
    variables win over this process's own."""
    given = {
        name: env[key]
        for name in SuiteSettings.model_fields
        if (key := f"CRM_{name.upper()}") in env
    }
    return SuiteSettings(**given)


def server_credentials(settings: SuiteSettings) -> grpc.ServerCredentials | None:
    """TLS (or mutual TLS) credentials for a server; None for plaintext."""
    if not (settings.tls_cert_file or settings.tls_key_file):
        if settings.tls_client_ca_file:
            raise TlsConfigurationError(
                "CRM_TLS_CLIENT_CA_FILE needs CRM_TLS_CERT_FILE and CRM_TLS_KEY_FILE"
            )
        return None
    key, chain = _pair(
        settings.tls_key_file, settings.tls_cert_file, "CRM_TLS_KEY_FILE", "CRM_TLS_CERT_FILE"
    )
    client_ca = (
        _read(settings.tls_client_ca_file, "CRM_TLS_CLIENT_CA_FILE")
        if settings.tls_client_ca_file
        else None
    )
    return grpc.ssl_server_credentials(
        [(key, chain)], root_certificates=client_ca, require_client_auth=client_ca is not None
    )


def channel_credentials(settings: SuiteSettings) -> grpc.ChannelCredentials | None:
    """TLS credentials for a client, with its certificate when it has one; None for
    plaintext."""
    if not settings.tls_ca_file:
        if settings.tls_client_cert_file or settings.tls_client_key_file:
            raise TlsConfigurationError("a client certificate needs CRM_TLS_CA_FILE")
        return None
    ca = _read(settings.tls_ca_file, "CRM_TLS_CA_FILE")
    key: bytes | None = None
    chain: bytes | None = None
    if settings.tls_client_cert_file or settings.tls_client_key_file:
        key, chain = _pair(
            settings.tls_client_key_file,
            settings.tls_client_cert_file,
            "CRM_TLS_CLIENT_KEY_FILE",
            "CRM_TLS_CLIENT_CERT_FILE",
        )
    return grpc.ssl_channel_credentials(
        root_certificates=ca, private_key=key, certificate_chain=chain
    )


def listen(server: grpc.aio.Server, address: str, settings: SuiteSettings) -> int:
    """Adds the listening port, secure when the settings say so; 0 if it cannot bind."""
    credentials = server_credentials(settings)
    try:
        if credentials is None:
            return server.add_insecure_port(address)
        return server.add_secure_port(address, credentials)
    except RuntimeError:  # how grpc reports a port it cannot bind without SO_REUSEPORT
        return 0


def aio_channel(
    target: str,
    settings: SuiteSettings | None = None,
    *,
    options: ChannelOptions = (),
    interceptors: Sequence[grpc.aio.ClientInterceptor] | None = None,
) -> grpc.aio.Channel:
    """An asyncio channel to another service (settings default to the environment's)."""
    credentials = channel_credentials(settings or SuiteSettings())
    if credentials is None:
        return grpc.aio.insecure_channel(target, options=options, interceptors=interceptors)
    return grpc.aio.secure_channel(target, credentials, options=options, interceptors=interceptors)


def channel(
    target: str, settings: SuiteSettings | None = None, *, options: ChannelOptions = ()
) -> grpc.Channel:
    """A blocking channel, for the command line and tests."""
    credentials = channel_credentials(settings or SuiteSettings())
    if credentials is None:
        return grpc.insecure_channel(target, options=options)
    return grpc.secure_channel(target, credentials, options=options)


def _pair(key_file: str, cert_file: str, key_name: str, cert_name: str) -> tuple[bytes, bytes]:
    if not (key_file and cert_file):
        raise TlsConfigurationError(f"{cert_name} and {key_name} go together")
    return _read(key_file, key_name), _read(cert_file, cert_name)


def _read(path: str, name: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise TlsConfigurationError(f"{name}={path}: {error.strerror}") from None
