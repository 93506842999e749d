# Sourced by the perf/ scripts: one serve at a time, started on a free port
# and stopped with its JSON summary. Needs B (the sctpdp binary).

# serve_start ERR ARGS...: `$B serve --listen=127.0.0.1:0 ARGS...`, its
# stderr to ERR; sets serve_pid and serve_port (from its first line).
serve_start() {
  local err=$1 line
  shift
  serve_fifo=/dev/shm/perf_serve.$$
  mkfifo "$serve_fifo"
  "$B" serve --listen=127.0.0.1:0 "$@" > "$serve_fifo" 2> "$err" &
  serve_pid=$!
  exec 3< "$serve_fifo"
  read -r line <&3
  serve_port=$(echo "$line" | sed -n "s/.*port \([0-9]*\),.*/\1/p")
}

# serve_stop OUT: SIGTERM; its summary line to OUT.
serve_stop() {
  kill -TERM "$serve_pid"
  grep summary <&3 > "$1"
  wait "$serve_pid" || true
  exec 3<&-
  rm -f "$serve_fifo"
}
