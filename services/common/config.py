"""Settings read from environment variables.

Each service reads its own variables under `CRM_<SERVICE>_` (listen address,
database URL) so that one environment can describe the whole suite, and the
suite-wide ones under `CRM_` (NATS, logging).
"""

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_PORTS = {"contacts": 50051, "sales": 50052, "projects": 50053, "support": 50054}


class SuiteSettings(BaseSettings):
    """Settings shared by every service: `CRM_NATS_URL`, `CRM_LOG_LEVEL`, ..."""

    model_config = SettingsConfigDict(env_prefix="CRM_", extra="ignore")

    nats_url: str = "nats://127.0.0.1:4222"
    log_level: str = "INFO"
    # JetStream replicas for the streams a service creates: 1 locally, 3 on
    # a clustered production broker.
    stream_replicas: int = Field(default=1, ge=1, le=5)
    # An event whose handler fails this many times goes to the dead-letter
    # stream; retries wait base * 2^(attempt-1) seconds, capped at 60.
    consumer_max_attempts: int = Field(default=5, ge=1, le=100)
    consumer_retry_base_seconds: float = Field(default=0.5, gt=0, le=60)
    # How often scheduled jobs (SLA clocks, automations) look for due work.
    jobs_interval_seconds: float = Field(default=30.0, gt=0, le=3600)
    # Where the contacts service answers gRPC (sales converts leads into contacts there).
    contacts_target: str = f"127.0.0.1:{DEFAULT_PORTS['contacts']}"
    # ISO 4217 code of the currency the company reports in: exchange rates
    # convert into it, and forecasts and reports total in it.
    base_currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    # Bearer tokens (crm_common.auth): who issues them and for whom. The keys
    # that verify them are files mounted from a Secret: a PEM public key
    # (RS256/ES256) and/or a JWKS document.
    auth_issuer: str = "crm-dev"
    auth_audience: str = "crm"
    auth_public_key_file: str = ""
    auth_jwks_file: str = ""
    # Local development only: HS256 tokens signed with a shared secret, refused
    # unless dev mode is on (`crm up` turns it on; production never does).
    auth_dev_mode: bool = False
    auth_dev_secret: SecretStr = SecretStr("")
    auth_dev_secret_file: str = ""
    # The token a service sends when it calls another one: from a mounted file
    # (re-read as it rotates) or the environment; in dev mode it mints its own.
    service_token: SecretStr = SecretStr("")
    service_token_file: str = ""
    # gRPC transport security (crm_common.transport); all empty means plaintext.
    # A server with a certificate and key serves TLS, and with a client CA also
    # demands a client certificate signed by it (mutual TLS).
    tls_cert_file: str = ""
    tls_key_file: str = ""
    tls_client_ca_file: str = ""
    # A client with a CA verifies the servers against it, and presents its own
    # certificate and key when given (for servers that demand one).
    tls_ca_file: str = ""
    tls_client_cert_file: str = ""
    tls_client_key_file: str = ""
    # NATS: TLS when a CA is set (tls:// URLs need it), a client certificate
    # for brokers that verify clients, and at most one way of logging in.
    nats_tls_ca_file: str = ""
    nats_tls_cert_file: str = ""
    nats_tls_key_file: str = ""
    nats_user: str = ""
    nats_password: SecretStr = SecretStr("")
    nats_token: SecretStr = SecretStr("")
    # A NATS `.creds` file (user JWT and nkey seed), as an operator issues them.
    nats_creds_file: str = ""


class ServiceSettings(BaseSettings):
    """One service's settings: `CRM_CONTACTS_LISTEN_ADDRESS`, ..."""

    model_config = SettingsConfigDict(extra="ignore")

    service: str = ""
    # Empty means the service's default, filled in by load_service_settings.
    listen_address: str = ""
    database_url: str = ""
    # Dev applies migrations at start-up; production runs `crm migrate`
    # as a separate step before rolling out.
    migrate_on_start: bool = True
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)
    # Prometheus metrics over HTTP at /metrics, e.g. "0.0.0.0:9464"; empty
    # serves none. Off by default: replicas of one service on one machine
    # (tests, `crm up`) would race for a fixed port.
    metrics_address: str = ""
    # grpc.health.v1 alone, in plaintext, e.g. "0.0.0.0:50050": for Kubernetes'
    # gRPC probes, which cannot speak TLS, when the listen address does. Empty: none.
    health_address: str = ""
    # Test and debugging aid: finished trace spans as JSON lines in this file.
    # Production exports over OTLP when the standard OTEL_EXPORTER_OTLP_* are set.
    traces_file: str = ""


def load_service_settings(service: str) -> ServiceSettings:
    settings = ServiceSettings(_env_prefix=f"CRM_{service.upper()}_")
    return settings.model_copy(
        update={
            "service": service,
            "listen_address": settings.listen_address or f"127.0.0.1:{DEFAULT_PORTS[service]}",
            "database_url": settings.database_url or f"sqlite+aiosqlite:///var/{service}.db",
        }
    )
