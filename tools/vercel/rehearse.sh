#!/usr/bin/env bash
# Deploy rehearsal: `vercel build` with the pinned CLI on a copy of the
# working tree, then check the Build Output and invoke one built function
# the way Vercel's runtime does. No account, no login, no database.
#
#   tools/vercel/rehearse.sh            # from anywhere in the repo
#
# KASIRGO_REHEARSAL_DIR (default $TMPDIR/kasirgo-rehearsal) holds the copy;
# CARGO_TARGET_DIR (default <that dir>-target) is kept between runs so a
# second rehearsal only rebuilds what changed. Nothing is written to the repo.
set -euo pipefail

repo="$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
here="$repo/tools/vercel"
work="${KASIRGO_REHEARSAL_DIR:-${TMPDIR:-/tmp}/kasirgo-rehearsal}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$work-target}"
cli="$here/node_modules/.bin/vercel"

if [ ! -x "$cli" ]; then
  (cd "$here" && npm ci --no-audit --no-fund)
fi

# The copy: tracked files plus uncommitted and untracked-but-not-ignored
# ones (so .env, target/, node_modules/ and .vercel/ stay behind). rsync -a
# keeps mtimes, so cargo's fingerprints survive from one run to the next.
rm -rf "$work"
mkdir -p "$work"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
  rsync -a --from0 --files-from=- ./ "$work/")

# A linked project with placeholder ids and its settings written down, so
# `vercel build` neither asks to link nor pulls settings from the network.
# It exists only in the copy: never commit a .vercel/project.json.
mkdir -p "$work/.vercel"
cat >"$work/.vercel/project.json" <<'JSON'
{
  "projectId": "prj_rehearsal000000000000000000",
  "orgId": "team_rehearsal000000000000000000",
  "settings": {
    "framework": null,
    "buildCommand": null,
    "installCommand": null,
    "devCommand": null,
    "outputDirectory": null,
    "rootDirectory": null,
    "nodeVersion": "24.x"
  }
}
JSON

echo "rehearse: vercel build in $work (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
start=$(date +%s)
# VERCEL_BUILD_IMAGE=1: build as on Vercel's build image (a native
# `cargo build --release --bin X` per function). Without it @vercel/rust
# treats the build as a prebuilt deploy and cross-compiles with
# `cargo zigbuild`. No DATABASE_URL*: build.sh skips the migrations.
(cd "$work" && env -u DATABASE_URL -u DATABASE_URL_UNPOOLED \
  VERCEL_TELEMETRY_DISABLED=1 VERCEL_BUILD_IMAGE=1 \
  "$cli" build --yes)
end=$(date +%s)
echo "rehearse: vercel build took $((end - start)) s"

python3 "$here/check_output.py" "$work"
python3 "$here/invoke.py" "$work/.vercel/output/functions/api/docs.func" \
  /api/openapi.json /api/docs
echo "rehearse: all checks passed (build $((end - start)) s)"
