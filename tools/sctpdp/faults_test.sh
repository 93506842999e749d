#!/usr/bin/env bash
# The fault suite on real SCTP (in the guest where the host has none): see
# faults_test.py. FAULTS_CHURN sets the churn case's cycles per engine.
set -uo pipefail
# Under --config=asan/tsan (their *SAN_OPTIONS set) the allocator is the
# sanitizer's: RSS is not checked there.
sanitized=()
[ -n "${ASAN_OPTIONS:-}${TSAN_OPTIONS:-}" ] && sanitized=(--sanitized)
exec tools/sctpvm --timeout "${FAULTS_GUEST_TIMEOUT:-840}" -- /usr/bin/python3 tools/sctpdp/faults_test.py \
  "$(pwd)/$1" "$(pwd)/$2" "--churn=${FAULTS_CHURN:-1000}" "${sanitized[@]}"
