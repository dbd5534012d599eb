#!/usr/bin/env bash
# Runs schemathesis against the dev server with every check and every phase
# (examples, coverage, fuzzing, stateful), to prove that GET /api/openapi.json
# is exact: every answer the server gives is one the document lists, with the
# body it describes, and every request the document allows is served.
#
#   tools/schemathesis.sh                # ~30 examples per operation, a random seed
#   tools/schemathesis.sh --seed 42      # any further options go to `schemathesis run`
#   EXAMPLES=100 tools/schemathesis.sh
#   STATEFUL_SECONDS=300 tools/schemathesis.sh     # length of the second, stateful-only run
#
# It installs a pinned schemathesis from PyPI into .kasirgo/schemathesis-venv
# (git-ignored) the first time, builds kasirgo, makes a throwaway database on
# the Postgres at PGHOST:PGPORT (default 127.0.0.1:5432, user postgres;
# dropped on exit), migrates it, seeds the demo café, starts `kasirgo serve`
# on a free port with fresh random JWT_SECRET and CRON_SECRET, logs in as the
# demo owner and runs schemathesis with that token. schemathesis.toml says
# which answers are allowed outside the document here, and why. Exits
# non-zero when schemathesis finds a failure. Slow and needs PyPI, so it is
# not part of `cargo test` or `.ci/run`.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

SCHEMATHESIS_VERSION=4.32.5
EXAMPLES=${EXAMPLES:-30}
STATEFUL_SECONDS=${STATEFUL_SECONDS:-60}
PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
PGUSER=${PGUSER:-postgres}
export PGHOST PGPORT PGUSER

venv=$root/.kasirgo/schemathesis-venv
if [ "$("$venv/bin/schemathesis" --version 2>/dev/null || true)" != "schemathesis, version $SCHEMATHESIS_VERSION" ]; then
  echo "schemathesis.sh: installing schemathesis $SCHEMATHESIS_VERSION into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

cargo build --quiet --bin kasirgo
kasirgo=${CARGO_TARGET_DIR:-$root/target}/debug/kasirgo

work=$(mktemp -d)
db=kasirgo_schemathesis_$$
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  dropdb --if-exists "$db" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

createdb "$db"
export DATABASE_URL="postgres://$PGUSER@$PGHOST:$PGPORT/$db"
export KASIRGO_HOME=$work/home
"$kasirgo" migrate
"$kasirgo" seed-demo >/dev/null

JWT_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
CRON_SECRET=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
export JWT_SECRET CRON_SECRET
# One access token lasts the whole run; a generous throttle, so the
# generated wrong logins never lock the demo owner out.
export ACCESS_TOKEN_TTL=7200 LOGIN_THROTTLE=1000 RUST_LOG=${RUST_LOG:-warn}
"$kasirgo" serve --port 0 >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
for _ in $(seq 1 100); do
  grep -q '^listening on ' "$work/server.out" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.err" >&2; exit 1; }
  sleep 0.1
done
base=$(sed -n 's/^listening on //p' "$work/server.out" | head -n 1)
[ -n "$base" ] || { echo "schemathesis.sh: the server did not start" >&2; cat "$work/server.err" >&2; exit 1; }

token=$(curl -sf -X POST "$base/api/auth/login" -H 'Content-Type: application/json' \
  -d '{"username":"owner","password":"kasirgo-demo"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access"])')

echo "schemathesis.sh: $base, database $db" >&2
status=0
export PYTHONPATH="$root/tools${PYTHONPATH:+:$PYTHONPATH}" SCHEMATHESIS_HOOKS=schemathesis_hooks
"$venv/bin/schemathesis" --config-file "$root/schemathesis.toml" run "$base/api/openapi.json" \
  --checks all \
  --phases examples,coverage,fuzzing,stateful \
  --max-examples "$EXAMPLES" \
  -H "Authorization: Bearer $token" \
  "$@" || status=$?
# The stateful phase again, alone, repeated for STATEFUL_SECONDS: one pass
# of a few dozen scenarios reaches few of the links from creates to reads.
"$venv/bin/schemathesis" --config-file "$root/schemathesis.toml" run "$base/api/openapi.json" \
  --checks all \
  --phases stateful \
  --max-examples "$EXAMPLES" --max-time "$STATEFUL_SECONDS" \
  -H "Authorization: Bearer $token" \
  "$@" || status=$?
if [ -s "$work/server.err" ] && grep -q 'panicked' "$work/server.err"; then
  echo "schemathesis.sh: the server panicked:" >&2
  grep -A3 'panicked' "$work/server.err" >&2
  status=1
fi
exit "$status"
