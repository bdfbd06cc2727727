"""Settings read from environment variables.

Each service reads its own variables under `CRM_<SERVICE>_` (listen address,
database URL) so that one environment can describe the whole suite, and the
suite-wide ones under `CRM_` (NATS, logging).
"""

from pydantic import Field
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


def load_service_settings(service: str) -> ServiceSettings:
    settings = ServiceSettings(_env_prefix=f"CRM_{service.upper()}_")
    return settings.model_copy(
        update={
            "service": service,
            "listen_address": settings.listen_address or f"127.0.0.1:{DEFAULT_PORTS[service]}",
            "database_url": settings.database_url or f"sqlite+aiosqlite:///var/{service}.db",
        }
    )
