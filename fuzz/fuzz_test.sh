#!/usr/bin/env bash
# Test wrapper of a fuzz target (fuzz.bzl): replays its committed corpus, or,
# with FUZZ_SECONDS set (--config=fuzz), fuzzes it that long starting from
# the corpus. A crash fails the test; its input is kept in the test's
# undeclared outputs (bazel-testlogs/fuzz/<name>_test/test.outputs/).
set -uo pipefail
binary="$1"
corpus="$2"
[[ -d "$corpus" ]] || { echo "fuzz_test: no corpus at $corpus" >&2; exit 2; }
if [[ -z "${FUZZ_SECONDS:-}" ]]; then
  exec "$binary" "$corpus"
fi
scratch="${TEST_TMPDIR:-$(mktemp -d)}"
mkdir -p "$scratch/corpus"
artifacts="${TEST_UNDECLARED_OUTPUTS_DIR:-$scratch}"
"$binary" -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="$artifacts/" "$scratch/corpus" "$corpus" >"$scratch/log" 2>&1
status=$?
grep -E "^(stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb)|^#[0-9]+ +DONE" "$scratch/log"
if (( status != 0 )); then
  echo "fuzz_test: $(basename "$binary") failed (exit $status); the end of its log:" >&2
  tail -n 40 "$scratch/log" >&2
fi
exit "$status"
