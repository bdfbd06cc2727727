"""Maps the repository layout onto installed package names.

The layout is fixed by the design (`services/<name>/`, generated contracts in
`gen/python/`), but `contacts` or `common` would be poor names in
site-packages, so each folder installs under a `crm_` name. The generated
root installs as `crm`, the proto package path protoc's imports expect.
"""

from pathlib import Path

from setuptools import find_packages, setup

PACKAGE_ROOTS = {
    "crm": "gen/python/crm",
    "crm_common": "services/common",
    "crm_cli": "services/cli",
    "crm_contacts": "services/contacts",
    "crm_sales": "services/sales",
    "crm_projects": "services/projects",
    "crm_support": "services/support",
}

# Each service's Alembic history (storage/migrations/, storage/migrations/versions/)
# is scripts without __init__.py, so find_packages misses it; listed here so that a
# non-editable install (the container image) can still migrate.
MIGRATIONS = [
    f"{root}.{'.'.join(folder.relative_to(path).parts)}"
    for root, path in PACKAGE_ROOTS.items()
    for folder in (
        Path(path, "storage", "migrations"),
        Path(path, "storage", "migrations", "versions"),
    )
    if folder.is_dir()
]

setup(
    package_dir=PACKAGE_ROOTS,
    packages=[
        *(
            package
            for root, path in PACKAGE_ROOTS.items()
            for package in (root, *(f"{root}.{sub}" for sub in find_packages(path)))
        ),
        *MIGRATIONS,
    ],
    package_data={"": ["*.pyi", "py.typed", "*.ini", "*.mako"]},
)
