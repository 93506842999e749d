# Sourced by the sctpdp guest test scripts (sctpdp_test.sh, baselines_test.sh):
# `check LABEL EXPECTED GOT` counts passes and fails; `field NAME JSON` is a
# numeric field of a JSON line (its first occurrence: load's summary repeats
# "messages" and "echoed" per association after the totals); `pyjson EXPR
# JSON` prints a Python expression over the parsed line `j`.
passes=0 fails=0
check() {
  if [ "$2" = "$3" ]; then echo "ok   $1"; passes=$((passes + 1));
  else echo "FAIL $1: expected [$2], got [$3]"; fails=$((fails + 1)); fi
}
# One sed, no pipeline of three: baselines_test reads a stats line every
# 100 ms with it, and under TCG each process costs tens of milliseconds.
field() { echo "$2" | sed -n "s/\"$1\":\([0-9]*\).*/\n\1/;T;s/.*\n//p"; }
pyjson() { /usr/bin/python3 -c "import json, sys; j = json.loads(sys.argv[1]); print($1)" "$2"; }
