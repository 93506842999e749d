#!/usr/bin/env bash
# Test wrapper made by sctp_guest_test (tools/sctp.bzl): runs the test binary
# against real kernel SCTP through tools/sctpvm — in the QEMU guest on a host
# without SCTP, directly on a host with it. Never skips: no SCTP, no pass.
# The guest kernel: SCTPVM_KERNEL (tools/sctpvm reads it; `--config=k612`
# sets it to 6.12 through --test_env), Debian's 6.1 when unset.
set -uo pipefail
binary="$1"; shift
# Leave Bazel's own timeout the last word, with room for the guest to report.
budget=$(( ${TEST_TIMEOUT:-900} > 60 ? ${TEST_TIMEOUT:-900} - 20 : ${TEST_TIMEOUT:-900} ))
[[ -n "${SCTPVM_KERNEL:-}" ]] && echo "guest_test: guest kernel ${SCTPVM_KERNEL}" >&2
# No stdbuf: its LD_PRELOAD breaks ASan binaries, and gtest flushes per test.
exec tools/sctpvm --timeout "$budget" ${SCTPVM_FLAGS:-} -- "$binary" "$@"
