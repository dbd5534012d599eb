#!/usr/bin/env bash
# Runs the whole test suite under libfaketime at several instants across the
# store's day (WIB, UTC+7), to prove that no test depends on the wall clock.
#
#   tools/faketime-suite.sh                 # the default instants below
#   tools/faketime-suite.sh "2026-12-31 16:55"   # UTC instants of your own
#
# Each run happens inside a network namespace of its own, where nothing
# answers on localhost:5432, so the test harness starts a project-local
# cluster (under a KASIRGO_HOME of its own) and that cluster inherits the
# faked clock: the shared server's clock cannot be faked. The clock is
# shifted by a fixed offset (libfaketime's relative form), so every process
# (cargo, the tests, the function binaries they start, Postgres) sees the
# same instant and time still runs. Needs root (for the namespace) and
# Debian's `faketime` and `iproute2`; installs them when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

if [ "$(id -u)" -ne 0 ]; then
  echo "faketime-suite: run as root (it makes a network namespace per run)" >&2
  exit 2
fi
if ! command -v faketime >/dev/null || ! command -v ip >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends faketime iproute2 >/dev/null
fi
lib=$(dpkg -L libfaketime 2>/dev/null | grep -m1 '/libfaketime.so.1$' || true)
[ -n "$lib" ] || { echo "faketime-suite: libfaketime.so.1 not found" >&2; exit 2; }
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)

if [ "$#" -gt 0 ]; then
  instants=("$@")
else
  today=$(date -u +%F)
  yesterday=$(date -u -d "$today -1 day" +%F)
  month_end=$(date -u -d "$(date -u +%Y-%m-01) +1 month -1 day" +%F)
  instants=(
    "$yesterday 17:30"   # 00:30 WIB: just after local midnight, UTC still yesterday
    "$yesterday 20:30"   # 03:30 WIB
    "$yesterday 23:55"   # 06:55 WIB: just before the UTC day boundary
    "$today 00:05"       # 07:05 WIB: just after it
    "$today 02:30"       # 09:30 WIB
    "$today 16:55"       # 23:55 WIB: just before local midnight
    "$month_end 16:55"   # 23:55 WIB on the month's last evening
  )
fi

echo "faketime-suite: building the tests at the real time"
cargo test --locked --no-run -q --lib --bins --tests 2>&1 | tail -n 3

logs=$(mktemp -d /tmp/kasirgo-faketime.XXXXXX)
chmod 755 "$logs"
failed=0
summary=()
for at in "${instants[@]}"; do
  target=$(date -u -d "$at UTC" +%s)
  offset=$((target - $(date -u +%s)))
  # libfaketime reads a relative offset only with its sign: "+N" or "-N".
  [ "$offset" -ge 0 ] && offset="+$offset"
  label=$(date -u -d "@$target" +%Y%m%dT%H%M)
  wib=$(TZ=Asia/Jakarta date -d "@$target" '+%F %H:%M WIB')
  home="$logs/home-$label"
  mkdir -p "$home"
  log="$logs/$label.log"
  echo "faketime-suite: $(date -u -d "@$target" '+%F %H:%M UTC') ($wib), log $log"
  set +e
  unshare --net env HOME_DIR="$home" LOG="$log" OFFSET="$offset" LIB="$lib" PG_BIN="$pg_bin" bash -c '
    ip link set lo up
    export KASIRGO_HOME="$HOME_DIR" CARGO_NET_OFFLINE=true
    # Every test target of `cargo test` but the doc-tests: rustdoc under
    # libfaketime deadlocks in its first futex, and the crate has none.
    LD_PRELOAD="$LIB" FAKETIME="$OFFSET" FAKETIME_DONT_FAKE_MONOTONIC=1 \
      cargo test --locked --no-fail-fast --lib --bins --tests >"$LOG" 2>&1
    rc=$?
    if [ -f "$HOME_DIR/pg/data/postmaster.pid" ]; then
      runuser -u nobody -- "$PG_BIN/pg_ctl" -D "$HOME_DIR/pg/data" -m immediate stop >/dev/null 2>&1
    fi
    exit $rc'
  rc=$?
  set -e
  passed=$(grep -Eo '[0-9]+ passed' "$log" | awk '{s+=$1} END {print s+0}')
  failures=$(grep -Eo '[0-9]+ failed' "$log" | awk '{s+=$1} END {print s+0}')
  if [ "$rc" -ne 0 ]; then
    failed=1
    grep -E '^test .* FAILED$|^    [a-z_:]+$' "$log" | sort -u | sed 's/^/    /' || true
  fi
  summary+=("$wib: exit $rc, $passed passed, $failures failed")
done

echo
echo "faketime-suite: results (logs in $logs)"
printf '  %s\n' "${summary[@]}"
exit "$failed"
