#!/usr/bin/env bash
# Vercel build step: apply the database migrations, once per deploy.
#
# Idempotent: Vercel may run it more than once per deploy (once per
# function); a marker per deployment skips repeats, and sqlx's migrator
# takes a session advisory lock, so concurrent runs wait and then find
# nothing to do. Migrations run on the unpooled URL (PgBouncer's transaction
# pooling cannot hold that session lock). Never migrate at cold start.
set -euo pipefail
cd "$(dirname "$0")"

url="${DATABASE_URL_UNPOOLED:-${DATABASE_URL:-}}"
if [ -z "$url" ]; then
  echo "build.sh: neither DATABASE_URL_UNPOOLED nor DATABASE_URL is set; skipping migrations"
  exit 0
fi

deploy="${VERCEL_DEPLOYMENT_ID:-${VERCEL_GIT_COMMIT_SHA:-}}"
marker=""
if [ -n "$deploy" ]; then
  marker="${KASIRGO_MIGRATE_MARKER_DIR:-${TMPDIR:-/tmp}}/kasirgo-migrated-${deploy}"
  if [ -e "$marker" ]; then
    echo "build.sh: migrations already applied for deploy ${deploy}"
    exit 0
  fi
fi

bin="${KASIRGO_BIN:-}"
if [ -z "$bin" ]; then
  if command -v cargo >/dev/null 2>&1; then
    cargo build --release --locked --bin kasirgo >&2
    bin="${CARGO_TARGET_DIR:-target}/release/kasirgo"
  elif [ -x "${CARGO_TARGET_DIR:-target}/release/kasirgo" ]; then
    bin="${CARGO_TARGET_DIR:-target}/release/kasirgo"
  else
    echo "build.sh: migration failed: no kasirgo binary and no cargo to build one" >&2
    exit 1
  fi
fi

if ! DATABASE_URL_UNPOOLED="$url" "$bin" migrate; then
  echo "build.sh: migration failed; the deploy stops here (the database is unchanged past the failing migration)" >&2
  exit 1
fi
if [ -n "$marker" ]; then
  touch "$marker"
fi
echo "build.sh: migrations applied"
