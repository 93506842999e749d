#!/usr/bin/env bash
# sctpdp serve and load on real SCTP (in the guest where the host has none):
# load against serve --mode verify (every message verified once, in order per
# stream, the hot associations moved to workers), and the documented exit
# codes for bad input.
set -uo pipefail
exec tools/sctpvm -- bash -c '
  B=$1
  cd "${TEST_TMPDIR:-/tmp}"
  passes=0 fails=0
  check() {
    if [ "$2" = "$3" ]; then echo "ok   $1"; passes=$((passes + 1));
    else echo "FAIL $1: expected [$2], got [$3]"; fails=$((fails + 1)); fi
  }
  field() { echo "$2" | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; }
  fifo=/dev/shm/serve.$$
  mkfifo "$fifo"
  "$B" serve --listen=127.0.0.1:0 --mode=verify --peel-rate=100 --sustain=200ms > "$fifo" 2> serve.err &
  pid=$!
  exec 3< "$fifo"
  read -t 60 -r line <&3 || { echo "FAIL: serve did not start"; cat serve.err; exit 1; }
  port=$(echo "$line" | sed -n "s/.*port \([0-9]*\),.*/\1/p")
  echo "$line"
  load=$("$B" load --connect=127.0.0.1:$port --associations=8 --hot=2 --rate=300 --cold-rate=5 --streams=4 --duration=5s)
  check "load exits 0" 0 $?
  echo "$load"
  "$B" serve --listen=127.0.0.1:$port 2> inuse.err
  check "port in use exits 3" 3 $?
  kill -TERM $pid
  summary=$(grep "\"summary\"" <&3)
  wait $pid
  check "serve --mode verify exits 0" 0 $?
  echo "$summary"
  check "every message sent was verified" "$(field messages "$load")" "$(field verified "$summary")"
  check "no gaps" 0 "$(field gaps "$summary")"
  check "no duplicates" 0 "$(field duplicates "$summary")"
  check "no reorders" 0 "$(field reorders "$summary")"
  check "the 2 hot associations moved to workers" 2 "$(field peeled "$summary")"
  "$B" serve --mode=bogus 2>/dev/null
  check "bad --mode exits 2" 2 $?
  "$B" load --associations=3 2>/dev/null
  check "missing --connect exits 2" 2 $?
  "$B" load --connect=127.0.0.1:1 --duration=1s 2>/dev/null
  check "refused connect exits 3" 3 $?
  "$B" frobnicate 2>/dev/null
  check "unknown subcommand exits 2" 2 $?
  echo "$passes passed, $fails failed"
  [ "$fails" -eq 0 ]
' _ "$(pwd)/$1"
