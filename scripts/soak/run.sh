#!/usr/bin/env bash
# `npm run soak`: the broker under attack for a few minutes (scripts/soak/soak.cjs; not part of `npm test`).
# Like scripts/test.sh, it runs inside ../shared/bin/loopback-only when that exists: a network namespace holding
# only `lo`, so every socket of the soak (127.0.0.2–9 included) stays on this machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
loopback=../shared/bin/loopback-only
if [ -x "$loopback" ] && [ "${VNF_IN_LOOPBACK_NS:-}" != 1 ]; then
  exec "$loopback" node scripts/soak/soak.cjs "$@"
fi
exec node scripts/soak/soak.cjs "$@"
