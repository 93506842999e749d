#!/usr/bin/env bash
# sctpdp serve --connect on real SCTP (in the guest where the host has none):
# an appliance that originates, against peers no one here wrote. socat
# listens and sends a file; serve echoes it back (compared byte for byte) or
# sinks it (counted), over IPv4 and over IPv6 from a mixed local bind;
# lksctp-tools' sctp_test -l sees the association come up and end; a peer
# that is not there yet is retried until it is; and the documented exit
# codes and one-line errors.
set -uo pipefail
exec tools/sctpvm -- bash -c '
  B=$1
  . "$2"  # check, field
  cd "${TEST_TMPDIR:-/tmp}"
  head -c 200000 /dev/urandom > in.bin
  # A fresh guest: nothing else listens, so ports from a random base are free.
  next_port=$((20000 + RANDOM % 20000))
  free_port() { next_port=$((next_port + 1)); P=$next_port; }
  # until_size FILE BYTES: waits (bounded: 120 s) until FILE has BYTES.
  until_size() {
    local until=$((SECONDS + 120))
    while [ $SECONDS -lt $until ]; do
      [ "$(stat -c %s "$1" 2>/dev/null || echo 0)" -ge "$2" ] && return 0
      sleep 0.1
    done
    return 1
  }
  # until_listening FILE: waits (bounded) until socat says so in FILE.
  until_listening() {
    local until=$((SECONDS + 120))
    while [ $SECONDS -lt $until ]; do
      grep -q "listening on" "$1" && return 0
      sleep 0.1
    done
    echo "socat never listened:"; cat "$1"
    return 1
  }
  # until_stat FD FIELD VALUE: reads stats lines from FD until FIELD >= VALUE
  # (bounded: 120 s). No fork per line: TCG makes each one slow.
  until_stat() {
    local line until=$((SECONDS + 120))
    while [ $SECONDS -lt $until ]; do
      read -t 60 -r line <&$1 || return 1
      [[ $line =~ \"$2\":([0-9]+) ]] && [ "${BASH_REMATCH[1]}" -ge "$3" ] && return 0
    done
    return 1
  }

  # echo_peer LISTEN CONNECT [SERVE FLAGS]: socat listens (LISTEN), sends
  # in.bin and keeps the association open; serve --connect=CONNECT echoes
  # everything back; socat leaves once all of it came back; serve
  # (--no-reconnect) ends with the association.
  echo_peer() {
    local listen=$1 connect=$2 label=$3
    shift 3
    rm -f echoed.bin
    socat -d -d "$listen" "OPEN:in.bin,ignoreeof!!CREATE:echoed.bin" 2> socat.err &
    local socat=$!
    until_listening socat.err
    "$B" serve --connect="$connect" --mode=echo --no-reconnect "$@" > serve.out 2> serve.err &
    local serve=$!
    until_size echoed.bin 200000
    check "$label: socat got every byte back" 200000 "$(stat -c %s echoed.bin)"
    cmp -s in.bin echoed.bin
    check "$label: byte for byte" 0 $?
    kill $socat; wait $socat
    wait $serve
    check "$label: serve exits 0 when the peer ends the association" 0 $?
    local summary=$(grep "\"summary\"" serve.out)
    echo "$(head -1 serve.out)"
    echo "$summary"
    check "$label: one association set up" 1 "$(field connects "$summary")"
    check "$label: serve received the file" 200000 "$(field bytes_in "$summary")"
    check "$label: every message echoed" "$(field messages_in "$summary")" "$(field messages_out "$summary")"
  }
  free_port
  echo_peer "SCTP-LISTEN:$P,reuseaddr,bind=127.0.0.1" "127.0.0.1:$P" "IPv4 echo"
  free_port
  echo_peer "SCTP6-LISTEN:$P,reuseaddr" "[::1],127.0.0.1:$P" "IPv6 echo from a mixed bind" --local=127.0.0.1,::1
  grep -q "127.0.0.1,::1 -> ::1,127.0.0.1:$P" serve.err
  check "IPv6: serve bound both families" 0 $?

  # Sink: the file is counted; serve stops the association itself at SIGTERM.
  free_port
  socat -d -d "SCTP-LISTEN:$P,reuseaddr" "OPEN:in.bin,ignoreeof!!OPEN:/dev/null" 2> socat.err &
  socat=$!
  until_listening socat.err
  fifo=/dev/shm/connect.$$.sink
  mkfifo $fifo
  "$B" serve --connect=127.0.0.1:$P --mode=sink --stats-interval=100ms > $fifo 2> serve.err &
  serve=$!
  exec 3< $fifo
  read -t 60 -r line <&3
  echo "$line"
  check "sink: the start line says where it connects" yes "$(echo "$line" | grep -q "connecting to 127.0.0.1:$P from \*" && echo yes)"
  until_stat 3 bytes_in 200000
  check "sink: serve counted the whole file" 0 $?
  kill -TERM $serve
  summary=$(grep "\"summary\"" <&3)
  wait $serve
  check "sink: serve exits 0 at SIGTERM" 0 $?
  exec 3<&-
  wait $socat
  check "sink: the peer saw the association end (socat exits 0)" 0 $?
  check "sink: summary" "200000 1 0" "$(field bytes_in "$summary") $(field connects "$summary") $(field messages_out "$summary")"

  # lksctp-tools sctp_test -l: the association comes up and ends gracefully.
  free_port
  stdbuf -oL sctp_test -H 127.0.0.1 -P $P -l -d 2 > sctp_test.out 2>&1 &
  st=$!
  for i in $(seq 600); do grep -q "Receiving packets" sctp_test.out && break; sleep 0.1; done
  "$B" serve --connect=127.0.0.1:$P --mode=sink --stats-interval=100ms > $fifo 2> serve.err &
  serve=$!
  exec 3< $fifo
  until_stat 3 connects 1
  check "sctp_test: serve connected" 0 $?
  kill -TERM $serve
  wait $serve
  check "sctp_test: serve exits 0" 0 $?
  exec 3<&-
  for i in $(seq 600); do grep -q "SHUTDOWN_COMP" sctp_test.out && break; sleep 0.1; done
  check "sctp_test saw the association up and shut down" "1 1" \
    "$(grep -c COMMUNICATION_UP sctp_test.out) $(grep -c SHUTDOWN_COMP sctp_test.out)"
  kill $st; wait $st 2>/dev/null

  # A peer that is not there yet: refused attempts, retried with backoff
  # until it listens.
  free_port
  "$B" serve --connect=127.0.0.1:$P --mode=sink --stats-interval=100ms > $fifo 2> serve.err &
  serve=$!
  exec 3< $fifo
  until_stat 3 connect_failures 3
  check "reconnect: refused attempts are counted" 0 $?
  socat -d -d "SCTP-LISTEN:$P,reuseaddr" "OPEN:in.bin!!OPEN:/dev/null" 2> socat.err &
  socat=$!
  until_stat 3 connects 1
  check "reconnect: up once the peer listens" 0 $?
  kill -TERM $serve
  wait $serve
  check "reconnect: serve exits 0" 0 $?
  exec 3<&-
  kill $socat 2>/dev/null; wait $socat 2>/dev/null
  rm -f $fifo

  # Exit codes, each with one line on stderr.
  free_port
  "$B" serve --connect=127.0.0.1:$P --no-reconnect --connect-timeout=5s > /dev/null 2> err.txt
  check "refused, --no-reconnect: exit 3" 3 $?
  check "refused: one line says so, and why" 1 "$(grep -c "could not connect to 127.0.0.1:$P from \\*: .*CANT_STR_ASSOC" err.txt)"
  "$B" serve --connect=127.0.0.1:$P --engine=epoll 2> err.txt
  check "--connect with a baseline: exit 2" 2 $?
  check "--connect with a baseline: one line" 1 "$(wc -l < err.txt)"
  "$B" serve --engine=threads --connect=127.0.0.1:$P 2>/dev/null
  check "--connect with threads: exit 2" 2 $?
  "$B" serve --local=127.0.0.1 2> err.txt
  check "--local without --connect: exit 2" "2 1" "$? $(wc -l < err.txt)"
  "$B" serve --connect=::1:$P 2> err.txt
  check "--connect with a bare IPv6 address: exit 2" "2 1" "$? $(grep -c brackets err.txt)"
  "$B" serve --connect=127.0.0.1:$P --local=192.0.2.77 2> err.txt
  check "--local not of this machine: exit 3" "3 1" "$? $(grep -c sctp_bindx err.txt)"
  "$B" serve --help | grep -q -- "--connect=VALUE"
  check "--help documents --connect" 0 $?
  echo "$passes passed, $fails failed"
  [ "$fails" -eq 0 ]
' _ "$(pwd)/$1" "$(pwd)/$2"
