#!/bin/sh
# Create deploy/secrets/* and deploy/.env with fresh random passwords and the operator key pair.
# Run once before `docker compose -f deploy/compose.yml up`; refuses to overwrite existing secrets.
set -eu
cd "$(dirname "$0")"
[ -e secrets/postgres_password ] && { echo "deploy/secrets exists; remove it to start over" >&2; exit 1; }
mkdir -p secrets && chmod 700 secrets
# Letters and digits, starting with a letter: NATS parses $VAR values in its config, and a value
# like "-x…" or "1-2…" would be read as something other than a string.
rand() { python3 -c 'import secrets, string as s; a = s.ascii_letters; print(secrets.choice(a) + "".join(secrets.choice(a + s.digits) for _ in range(31)))'; }
: > .env
for s in postgres catalogue enrolment assessment credential; do
  p=$(rand); printf %s "$p" > "secrets/${s}_db_password"
  [ "$s" = postgres ] && mv secrets/postgres_db_password secrets/postgres_password
  [ "$s" != postgres ] && echo "$(echo "$s" | tr a-z A-Z)_DB_PASSWORD=$p" >> .env
done
for s in operator catalogue enrolment assessment credential; do
  echo "$(echo "$s" | tr a-z A-Z)_NATS_PASSWORD=$(rand)" >> .env
done
echo "CREDENTIAL_KEY_ENCRYPTION_KEY=$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')" >> .env
chmod 600 .env secrets/*
(cd .. && uv run tessera keys create --dir deploy/secrets)
echo "secrets in deploy/secrets, passwords in deploy/.env; mint tokens with: uv run tessera token mint --key deploy/secrets/operator-private.pem ..."
