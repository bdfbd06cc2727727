from crm_common.storage.migrations import run_migrations
from crm_projects.storage import (
    boards,  # noqa: F401  (registers its tables)
    comments,  # noqa: F401
    milestones,  # noqa: F401
    projects,  # noqa: F401
    reminders,  # noqa: F401
    tasks,  # noqa: F401
)
from crm_projects.storage.tables import metadata

run_migrations(metadata)
