"""The token a service sends when it calls another service of the suite.

Production mounts it from a Secret (CRM_SERVICE_TOKEN_FILE), where the
issuer rotates it: the file is read again once a minute. CRM_SERVICE_TOKEN
gives it directly. In local dev mode the service mints its own short-lived
token (role `service`) against the dev secret instead.

    grpc.aio.insecure_channel(target, interceptors=[*client_interceptors(),
                                                    *service_auth_interceptors("sales")])
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc

from crm_common.auth.interceptor import AUTHORIZATION
from crm_common.auth.roles import SERVICE
from crm_common.auth.tokens import AuthConfigError, dev_secret_from_settings, mint_token
from crm_common.config import SuiteSettings

log = logging.getLogger(__name__)

FILE_REREAD_SECONDS = 60.0
DEV_TOKEN_TTL_SECONDS = 3600.0
# A minted token is replaced this long before it expires, so none is sent stale.
_RENEW_MARGIN_SECONDS = 300.0


class ServiceToken:
    """The current token: minted in dev mode, else from the file or the env."""

    def __init__(self, service: str, settings: SuiteSettings) -> None:
        self._service = service
        self._settings = settings
        # Dev mode mints its own, whatever else is configured: a dev deployment
        # mounts the same (placeholder) token Secret as production.
        self._dev_secret = dev_secret_from_settings(settings)
        self._token = settings.service_token.get_secret_value()
        token_file = settings.service_token_file
        self._file = Path(token_file) if token_file and not self._dev_secret else None
        self._valid_until = 0.0
        if not (self._token or self._file or self._dev_secret):
            raise AuthConfigError(
                f"{service} calls other services but has no token for it: set "
                "CRM_SERVICE_TOKEN_FILE (or CRM_SERVICE_TOKEN, or dev mode with a dev secret)"
            )

    def current(self) -> str:
        now = time.monotonic()
        if self._dev_secret and now >= self._valid_until:
            self._token = mint_token(
                self._dev_secret,
                f"service:{self._service}",
                [SERVICE],
                issuer=self._settings.auth_issuer,
                audience=self._settings.auth_audience,
                ttl_seconds=DEV_TOKEN_TTL_SECONDS,
            )
            self._valid_until = now + DEV_TOKEN_TTL_SECONDS - _RENEW_MARGIN_SECONDS
        elif self._file is not None and now >= self._valid_until:
            self._token = self._read_file(self._file)
            self._valid_until = now + FILE_REREAD_SECONDS
        return self._token

    def _read_file(self, path: Path) -> str:
        try:
            return path.read_text().strip()
        except OSError as error:
            # Keep sending the last token: the callee will say if it has expired.
            log.warning(
                "cannot read the service token file",
                extra={"path": str(path), "error": error.strerror},
            )
            return self._token


class BearerTokenInterceptor(grpc.aio.UnaryUnaryClientInterceptor):
    """Adds `authorization: Bearer <token>` to every outgoing unary call."""

    def __init__(self, token: Callable[[], str]) -> None:
        self._token = token

    async def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Awaitable[Any]],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        metadata = grpc.aio.Metadata(*(client_call_details.metadata or ()))
        metadata.add(AUTHORIZATION, f"Bearer {self._token()}")
        details = grpc.aio.ClientCallDetails(
            client_call_details.method,
            client_call_details.timeout,
            metadata,
            client_call_details.credentials,
            client_call_details.wait_for_ready,
        )
        return await continuation(details, request)


def service_auth_interceptors(
    service: str, settings: SuiteSettings | None = None
) -> list[grpc.aio.ClientInterceptor]:
    """For channels from `service` to another service: it calls as itself."""
    token = ServiceToken(service, settings or SuiteSettings())
    return [BearerTokenInterceptor(token.current)]


class _CallDetails(grpc.ClientCallDetails):
    def __init__(self, details: grpc.ClientCallDetails, metadata: list[tuple[str, str]]) -> None:
        self.method = details.method
        self.timeout = details.timeout
        self.metadata = metadata
        self.credentials = details.credentials
        self.wait_for_ready = getattr(details, "wait_for_ready", None)
        self.compression = getattr(details, "compression", None)


class SyncBearerToken(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """For blocking channels (the `crm` command, tests): every call, whatever its
    kind, carries `authorization: Bearer <token>`."""

    def __init__(self, token: str) -> None:
        self._header = (AUTHORIZATION, f"Bearer {token}")

    def _with_token(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        return _CallDetails(details, [*(details.metadata or ()), self._header])

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._with_token(details), request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._with_token(details), request)

    def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return continuation(self._with_token(details), requests)

    def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        return continuation(self._with_token(details), requests)


def with_token(channel: grpc.Channel, token: str) -> grpc.Channel:
    """`channel` with `token` attached to each call; unchanged when there is no token."""
    return grpc.intercept_channel(channel, SyncBearerToken(token)) if token else channel
