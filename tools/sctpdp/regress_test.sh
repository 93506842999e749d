#!/usr/bin/env bash
# sctpdp regress end to end, small enough for CI (3 boots per side, the
# fewest that give a verdict; 2 runs of 1 s per boot; echo mode, the uring
# engine, one guest test): the same kernel on both sides
# finds no regression; 5 ms of netem delay on lo on one side is a round-trip
# regression with the exit status --fail-on asks for; a side that cannot be
# tested (no such kernel, no sctp module, not bootable) exits 125 and says
# why; bad flags exit 2 with one line. The full-size runs are in the README.
set -uo pipefail
S="$1"
out="${TEST_TMPDIR:?}"
failures=0 passes=0
check() {  # check NAME EXPECTED ACTUAL
  if [[ "$2" == "$3" ]]; then echo "ok   $1"; passes=$((passes + 1))
  else echo "FAIL $1: expected [$2], got [$3]"; failures=$((failures + 1)); fi
}
# json FILE EXPR: a Python expression over the report `r`.
json() { /usr/bin/python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print($2)" "$1"; }
small=(--boots=3 --max-boots=3 --runs=2 --duration=1s --modes=echo --engines=uring --sizes=1024 --mixes=4/16
       --suite=tests/sctp_kernel_test_bin)

# A/A: the same kernel twice.
"$S" regress "${small[@]}" --out="$out/aa" --side=A --kernel=6.1 --side=B --kernel=6.1 >"$out/aa.txt" 2>"$out/aa.err"
rc=$?
cat "$out/aa.txt"
[[ $rc == 0 || $rc == 128 ]]; check "A/A exits 0 (or 128: unstable), not 1 (got $rc)" 0 $?
check "A/A: no metric is a regression or an improvement" 0 \
  "$(json "$out/aa/regress.json" "sum(m['verdict'] in ('regression','improvement') for m in r['metrics'])")"
check "A/A: five metrics compared (echo: rate, CPU, syscalls, p50, p99)" 5 "$(json "$out/aa/regress.json" "len(r['metrics'])")"
check "A/A: 6 boots, each on the kernel asked for" "6 True" \
  "$(json "$out/aa/regress.json" "len(r['boots']), all(b['release'] == r['sides'][0]['release'] for b in r['boots'])" | tr -d '(),')"
check "A/A: ring flags and io_uring features recorded per boot" True \
  "$(json "$out/aa/regress.json" "all(b['ring_flags'] and 'recvmsg' in b['io_uring_features'] for b in r['boots'])")"
check "A/A: suite fail:runs per side" "0:3 0:3" \
  "$(json "$out/aa/regress.json" "' '.join('%d:%d' % (t['failed'], t['runs']) for t in r['suite'])")"
check "A/A: a picture per metric, PNG and SVG" 10 "$(ls "$out"/aa/regress-*.png "$out"/aa/regress-*.svg | wc -l)"
check "A/A: the plot redraws from the JSON alone" 0 \
  "$(tools/plots/regress_plot.py "$out/aa/regress.json" --out "$out" >/dev/null; echo $?)"

# 5 ms of netem delay on lo on side B: round trips regress.
"$S" regress "${small[@]}" --out="$out/delay" --fail-on=rtt_p50_us:20 --side=A --kernel=6.1 \
  --side=delay --kernel=6.1 --setup='tc qdisc add dev lo root netem delay 5ms' >"$out/delay.txt" 2>"$out/delay.err"
rc=$?
cat "$out/delay.txt"
check "delay: exits 1 as --fail-on=rtt_p50_us:20 asks" 1 "$rc"
check "delay: rtt_p50_us is a regression of over 20%" True \
  "$(json "$out/delay/regress.json" "any(m['metric'] == 'rtt_p50_us' and m['verdict'] == 'regression' and m['change'] > 0.2 for m in r['metrics'])")"
grep -q '^regression: delay .* rtt_p50_us' "$out/delay.txt"; check "delay: the reason names the metric" 0 $?

# Sides that cannot be tested: 125 and why.
quick=(--suite=none --runs=0 --boots=1 --max-boots=1 --no-plot)
"$S" regress "${quick[@]}" --out="$out/q1" --side=A --kernel=6.1 --side=B --kernel=/no/such/vmlinuz 2>"$out/q1.err"
check "no such kernel exits 125" 125 $?
grep -q "side B: no kernel '/no/such/vmlinuz'" "$out/q1.err"; check "no such kernel says why" 0 $?

modules="$(readlink -f /var/cache/sctpdp/modules-6.1)"
mkdir -p "$out/nosctp" && cp -rs "$modules" "$out/nosctp/6.1-nosctp" && find "$out/nosctp" -name 'sctp.ko*' -delete
"$S" regress "${quick[@]}" --out="$out/q2" --side=A --kernel=6.1 --side=B --kernel=6.1 \
  --modules="$out/nosctp/6.1-nosctp" 2>"$out/q2.err"
check "a kernel without SCTP exits 125" 125 $?
grep -q "side B cannot be tested: .*module sctp not found" "$out/q2.err"; check "without SCTP says why" 0 $?

"$S" regress "${quick[@]}" --out="$out/q3" --side=A --kernel=6.1 --side=B --kernel=/etc/hostname \
  --modules="$modules" 2>"$out/q3.err"
check "a kernel that does not boot exits 125" 125 $?
grep -q "side B cannot be tested: .*failed to boot" "$out/q3.err"; check "not booting says why" 0 $?

# Bad input: exit 2, one line.
for bad in --boots=0 --fail-on=bogus:5 --modes=echo,nope --mixes=9/8 "--side=A --kernel=6.1" "--side=A --sysctl=x" \
           "--side=A --kernel=6.1 --side=B --kernel=6.12 --bogus" --suite=/no/test_bin; do
  # shellcheck disable=SC2086
  "$S" regress $bad 2>"$out/bad.err" >/dev/null
  check "bad input '$bad' exits 2 with one line" "2 1" "$? $(wc -l <"$out/bad.err")"
done

echo "$passes passed, $failures failed"
((failures == 0))
