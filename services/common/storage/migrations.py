"""Alembic, driven from code: each service keeps its own migration history.

Dev applies migrations when a service starts; production runs
`crm migrate SERVICE` as a separate step (a Job before rollout).
"""

from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import Connection, MetaData

from crm_common.messaging.tables import messaging_metadata
from crm_common.storage.db import create_engine


async def upgrade_to_head(database_url: str, script_location: Path) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade, script_location)
    finally:
        await engine.dispose()


def _upgrade(connection: Connection, script_location: Path) -> None:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


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
