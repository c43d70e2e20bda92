#!/usr/bin/env bash
# Fails when production dependencies have high or critical advisories (npm audit).
# Where the registry offers no audit endpoint (some mirrors answer 405), says so loudly and skips:
# an audit that cannot run is reported, never passed off as clean.
set -uo pipefail
cd "$(dirname "$0")/.."
out="$(npm audit --omit=dev --audit-level=high 2>&1)"
code=$?
echo "$out" | grep -v 'Unknown user config'
if [[ $code -ne 0 ]] && grep -q 'audit endpoint returned an error' <<<"$out"; then
  echo "audit: SKIPPED - the npm registry reachable from this machine has no audit endpoint" >&2
  exit 0
fi
exit $code
