#!/bin/bash
# Runs once, when the dev PostgreSQL server initializes its empty data
# directory: a role and a database per service, each role owning only its own
# database. Passwords come from the `postgresql` Secret (<SERVICE>_PASSWORD).
set -euo pipefail
for service in contacts sales projects support; do
    password_var="${service^^}_PASSWORD"
    psql --no-psqlrc -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
        -v name="$service" -v password="${!password_var}" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password';
CREATE DATABASE :"name" OWNER :"name";
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
SQL
done
