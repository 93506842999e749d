# Sourced by the sctpdp guest test scripts (sctpdp_test.sh, baselines_test.sh):
# `check LABEL EXPECTED GOT` counts passes and fails; `field NAME JSON` is a
# numeric field of a JSON line.
passes=0 fails=0
check() {
  if [ "$2" = "$3" ]; then echo "ok   $1"; passes=$((passes + 1));
  else echo "FAIL $1: expected [$2], got [$3]"; fails=$((fails + 1)); fi
}
field() { echo "$2" | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; }
