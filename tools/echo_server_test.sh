#!/usr/bin/env bash
# The echo appliance against a client no one here wrote (socat), on real SCTP
# (in the guest where the host has none): a message goes out and comes back,
# SIGTERM stops the server cleanly with its summary, and a bad port is refused.
set -uo pipefail
server="$(pwd)/$1"
exec tools/sctpvm -- bash -c '
  set -u
  server=$1
  cd "${TEST_TMPDIR:-/tmp}"
  "$server" 70000 2>err.txt; [ $? -eq 2 ] && grep -q usage err.txt || { echo "FAIL: bad port accepted"; exit 1; }
  fifo=/dev/shm/echo_server_out.$$  # 9p cannot hold a FIFO: the guest tmpfs can
  mkfifo "$fifo"
  "$server" 0 > "$fifo" &
  pid=$!
  exec 3< "$fifo"
  read -t 60 -r line <&3 || { echo "FAIL: no listening line"; exit 1; }
  port=${line##* }
  echo "server: $line"
  # shut-none: SCTP has no half-close, and a SHUTDOWN at stdin EOF would
  # forbid the echo (EPIPE on the server).
  reply=$(echo hello-sctp | timeout 30 socat -t 5 - "SCTP-CONNECT:127.0.0.1:$port,shut-none")
  [ "$reply" = hello-sctp ] || { echo "FAIL: reply [$reply]"; exit 1; }
  kill -TERM $pid
  summary=$(cat <&3)
  wait $pid || { echo "FAIL: server exit $?"; exit 1; }
  echo "server: $summary"
  echo "$summary" | grep -q "1 messages echoed" || { echo "FAIL: summary"; exit 1; }
  echo "3 passed, 0 failed"
' _ "$server"
