#!/usr/bin/env bash
# The test command (`npm test`): installs what is missing, builds, lints, then runs unit, integration and
# compat suites with node's test runner. Root-only tests report a skip with the reason when not root.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --quiet
npm run -s build
npm run -s lint
files=$(find dist/test -name '*.test.js' | sort)
# One file at a time: tests touch the real kernel (cgroups, mounts) and real daemons.
exec node --test --test-concurrency=1 --test-timeout=600000 $files
