#!/usr/bin/env bash
# Release checks (issue 9), one command: `pnpm release-check` or scripts/release-check.sh.
#   1. build (turbo; cached when CI already built)      5. consumer test (an npm project per package)
#   2. pack every package once (pnpm pack)               6. browser test (headless Chromium)
#   3. hygiene: publint, attw, files, manifests          7. version step on a throwaway copy
#   4. publish dry run (pnpm -r publish --dry-run)
# Needs: Node 20, pnpm, network access to the npm registry, Debian `chromium` (or CHROMIUM_PATH).
# KD_SKIP_BUILD=1 skips step 1. Releasing: scripts/release/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export TURBO_TELEMETRY_DISABLED=1 npm_config_update_notifier=false

KD_PACK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/kd-pack-XXXXXX")
export KD_PACK_DIR
trap 'rm -rf "$KD_PACK_DIR"' EXIT

summary=()
status=0
stage() {
  local name=$1; shift
  local start=$SECONDS
  echo "::: $name"
  if "$@"; then
    summary+=("ok    $(printf '%4ds' $((SECONDS - start)))  $name")
  else
    summary+=("FAIL  $(printf '%4ds' $((SECONDS - start)))  $name")
    status=1
  fi
}

publish_dry_run() {
  local log
  log=$(mktemp)
  if pnpm -r --filter './packages/*' publish --dry-run --no-git-checks >"$log" 2>&1; then
    grep -E '^\+ @kd/' "$log" || true
    rm -f "$log"
  else
    cat "$log"; rm -f "$log"; return 1
  fi
}

if [ "${KD_SKIP_BUILD:-0}" != 1 ]; then
  stage "build" pnpm build --output-logs=errors-only
fi
stage "pack (pnpm pack per package)" node -e "import('./scripts/release/lib.mjs').then(({ packAll }) => { const { packages } = packAll(); for (const p of packages) console.log('  ' + p.tarball.split('/').pop()); })"
stage "hygiene (publint, attw, files, manifests)" node scripts/release/hygiene.mjs
stage "publish dry run" publish_dry_run
stage "consumer test" node scripts/consumer-test/run.mjs
stage "browser test" node scripts/browser-test/run.mjs
stage "version step (throwaway copy)" node scripts/release/version-dry-run.mjs

echo
echo "release-check summary:"
printf '  %s\n' "${summary[@]}"
echo "  total ${SECONDS}s"
exit $status
