#!/usr/bin/env bash
# The soak on real SCTP (in the guest where the host has none): see soak.py.
# SOAK_DURATION sets its seconds (CI: 120; by hand the default is 600:
# tools/sctpvm --timeout 900 -- /usr/bin/python3 tools/sctpdp/soak.py
# $PWD/bazel-bin/tools/sctpdp/sctpdp $PWD/tools/sctpdp/hostile_peer.py).
set -uo pipefail
# Under --config=asan/tsan (their *SAN_OPTIONS set) the allocator is the
# sanitizer's: RSS is not checked there.
sanitized=()
[ -n "${ASAN_OPTIONS:-}${TSAN_OPTIONS:-}" ] && sanitized=(--sanitized)
duration=${SOAK_DURATION:-120}
exec tools/sctpvm --timeout $((duration + 420)) -- /usr/bin/python3 tools/sctpdp/soak.py \
  "$(pwd)/$1" "$(pwd)/$2" "--duration=$duration" "${sanitized[@]}"
