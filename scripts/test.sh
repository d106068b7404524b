#!/usr/bin/env bash
# `npm test`: jest over every package. Where this repository sits beside ../shared (our CI and dev machines),
# the run happens inside ../shared/bin/loopback-only: a network namespace holding only `lo`, so WebRTC and
# every other test can only ever reach 127.0.0.1/::1. VNF_TEST_ORDER_SEED=<n>|random shuffles the file order
# (scripts/jest/orderSequencer.js).
set -euo pipefail
cd "$(dirname "$0")/.."
loopback=../shared/bin/loopback-only
if [ -x "$loopback" ] && [ "${VNF_IN_LOOPBACK_NS:-}" != 1 ]; then
  exec "$loopback" npx jest "$@"
fi
exec npx jest "$@"
