"""Alembic, driven from code: each service keeps its own migration history.

Dev applies migrations when a service starts; production runs
`crm migrate SERVICE` as a separate step (a Job before rollout).
"""

from dataclasses import dataclass
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, MetaData

from crm_common.messaging.tables import messaging_metadata
from crm_common.storage.db import create_engine


@dataclass(frozen=True)
class Upgrade:
    """The database's revisions before and after an upgrade; empty when unversioned."""

    before: tuple[str, ...]
    after: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return self.before != self.after


async def upgrade_to_head(database_url: str, script_location: Path) -> Upgrade:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            return await connection.run_sync(_upgrade, script_location)
    finally:
        await engine.dispose()


def _upgrade(connection: Connection, script_location: Path) -> Upgrade:
    before = _revisions(connection)
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.attributes["connection"] = connection
    # "heads": features developed side by side may add migration branches.
    command.upgrade(config, "heads")
    return Upgrade(before, _revisions(connection))


def _revisions(connection: Connection) -> tuple[str, ...]:
    return tuple(sorted(MigrationContext.configure(connection).get_current_heads()))


def run_migrations(service_metadata: MetaData) -> None:
    """The body of every service's alembic `env.py`."""
    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=[service_metadata, messaging_metadata],
        # SQLite cannot ALTER most things; batch mode rebuilds tables instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
