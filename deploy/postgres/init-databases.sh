#!/bin/sh
# One database and one role per service; each role owns only its own database.
set -eu
for service in catalogue enrolment assessment credential; do
  password_file="/run/secrets/${service}_db_password"
  password=$(cat "$password_file")
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres <<SQL
CREATE ROLE ${service} LOGIN PASSWORD '${password}';
CREATE DATABASE tessera_${service} OWNER ${service};
REVOKE ALL ON DATABASE tessera_${service} FROM PUBLIC;
SQL
done
