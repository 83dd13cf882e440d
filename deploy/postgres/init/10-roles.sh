#!/usr/bin/env bash
# Run once by the official postgres image (docker-entrypoint-initdb.d) on an empty data
# directory. Creates the two roles Kraliki Voice uses and the database they share:
#
#   kraliki_owner  owns database "kraliki" (and therefore its public schema, PostgreSQL 15+)
#                  and every table; `kraliki migrate` connects as it
#                  (KRALIKI_MIGRATION_DATABASE_URL).
#   kraliki_app    what the API connects as (KRALIKI_DATABASE_URL): LOGIN but NOSUPERUSER,
#                  NOBYPASSRLS, owns nothing, and may only read and write rows. PostgreSQL
#                  row-level security does not apply to superusers, BYPASSRLS roles, or a
#                  table's owner, so the tenant isolation policies only hold for this role.
#
# Passwords come from KRALIKI_OWNER_PASSWORD and KRALIKI_APP_PASSWORD. They reach the SQL
# as psql variables quoted with :'var', never by shell interpolation into SQL text.
set -euo pipefail

: "${KRALIKI_OWNER_PASSWORD:?KRALIKI_OWNER_PASSWORD must be set}"
: "${KRALIKI_APP_PASSWORD:?KRALIKI_APP_PASSWORD must be set}"

run_psql() {
    psql --no-psqlrc --set=ON_ERROR_STOP=1 --quiet \
        --username "${POSTGRES_USER:-postgres}" \
        --set=owner_password="$KRALIKI_OWNER_PASSWORD" \
        --set=app_password="$KRALIKI_APP_PASSWORD" \
        "$@"
}

# Cluster-wide objects, from the maintenance database. \gexec runs each generated
# statement on its own (CREATE DATABASE cannot run inside a transaction block); the
# WHERE NOT EXISTS guards let the script run again against a cluster that has them.
run_psql --dbname "${POSTGRES_DB:-postgres}" <<'EOSQL'
SELECT format('CREATE ROLE kraliki_owner LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD %L',
              :'owner_password')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'kraliki_owner')\gexec
ALTER ROLE kraliki_owner LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD :'owner_password';

SELECT format('CREATE ROLE kraliki_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE '
              'PASSWORD %L', :'app_password')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'kraliki_app')\gexec
ALTER ROLE kraliki_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE
    PASSWORD :'app_password';

SELECT 'CREATE DATABASE kraliki OWNER kraliki_owner'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'kraliki')\gexec
ALTER DATABASE kraliki OWNER TO kraliki_owner;

REVOKE ALL ON DATABASE kraliki FROM PUBLIC;
GRANT CONNECT ON DATABASE kraliki TO kraliki_app;
EOSQL

# Inside database "kraliki": the app role may use the schema and read/write the rows of
# every table and sequence the owner creates (migrations run as the owner), nothing more.
run_psql --dbname kraliki <<'EOSQL'
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO kraliki_app;
ALTER DEFAULT PRIVILEGES FOR ROLE kraliki_owner IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO kraliki_app;
ALTER DEFAULT PRIVILEGES FOR ROLE kraliki_owner IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO kraliki_app;
EOSQL

echo "10-roles.sh: roles kraliki_owner and kraliki_app and database kraliki are ready"
