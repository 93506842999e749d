#!/usr/bin/env bash
# Tests of tools/sctpvm's contract: CMD's status and separate stdout/stderr
# come back, the working directory and $TMPDIR are writable while the rest of
# the host is read-only, SCTP is there, and each failure of its own has its
# own exit code. Boots the guest (--force-vm) a few times: ~4 s each under TCG.
set -uo pipefail
SCTPVM=tools/sctpvm
failures=0
check() {  # check NAME EXPECTED ACTUAL
  if [[ "$2" == "$3" ]]; then echo "ok   $1"
  else echo "FAIL $1: expected [$2], got [$3]"; failures=$((failures + 1)); fi
}
cd "${TEST_TMPDIR:?}" && cp -r "$OLDPWD/tools" . || exit 1

out="$($SCTPVM --force-vm -- sh -c 'echo to-out; echo to-err >&2; exit 7' 2>err.txt)"
check "exit status passes through" 7 "$?"
check "stdout comes back" to-out "$out"
check "stderr comes back separately" to-err "$(cat err.txt)"

$SCTPVM --force-vm -- false; check "false exits 1" 1 "$?"

out="$($SCTPVM --force-vm -- sh -c '
  grep -q . /proc/net/sctp/assocs 2>/dev/null; [ -d /proc/net/sctp ] && echo sctp
  echo x > in-cwd && echo cwd-writable
  echo y > "${TMPDIR:-/tmp}/in-tmp" && echo tmp-writable
  touch /usr/sctpvm-must-fail 2>/dev/null || echo root-readonly
  ip -o addr show lo | grep -q 127.0.0.1 && echo lo-up
  mkfifo /dev/shm/f && echo shm-fifo
  pwd')"
check "guest sees SCTP, writable cwd and TMPDIR, read-only root, lo up, /dev/shm, same cwd" \
  "sctp cwd-writable tmp-writable root-readonly lo-up shm-fifo $PWD" "$(echo $out)"
check "file written in the guest is on the host" x "$(cat in-cwd)"

# The kernel asked for is the one booted: SCTPVM_KERNEL (--config=k612), or
# the default, Debian's 6.1.
want="$(basename "$(readlink -f "${SCTPDP_CACHE:-/var/cache/sctpdp}/modules${SCTPVM_KERNEL:+-$SCTPVM_KERNEL}")")"
check "guest runs the kernel asked for (${SCTPVM_KERNEL:-default})" "$want" "$($SCTPVM --force-vm -- uname -r)"
check "--kernel NAME boots that cached kernel" \
  "$(basename "$(readlink -f "${SCTPDP_CACHE:-/var/cache/sctpdp}/modules-6.12")")" \
  "$($SCTPVM --force-vm --kernel 6.12 -- uname -r)"
$SCTPVM --force-vm --kernel no-such-name -- true 2>/dev/null
check "unknown kernel name exits 120" 120 "$?"
$SCTPVM --force-vm --console "$TEST_TMPDIR/console.txt" --append "sctpvm.test=1" -- sh -c 'grep -o sctpvm.test=1 /proc/cmdline'
check "--append reaches the kernel command line, --console keeps the console" 0 "$?"
grep -q 'reboot' "$TEST_TMPDIR/console.txt"; check "console file has the guest's console" 0 "$?"

SCTPDP_CACHE="$TEST_TMPDIR/empty-cache" $SCTPVM --force-vm -- true 2>msg.txt
check "missing kernel exits 120" 120 "$?"
grep -q 'tools/setup.sh' msg.txt; check "missing kernel names the setup command" 0 "$?"

$SCTPVM --force-vm --kernel /etc/hostname -- true 2>/dev/null
check "unbootable kernel exits 121" 121 "$?"

# A kernel that panics before the job starts (no init in the initramfs) is
# booted again only where SCTPVM_RETRY_BOOT_PANIC=1 asks (the test suite's
# .bazelrc): 3 boots, each said, then 121.
SCTPVM_RETRY_BOOT_PANIC=1 $SCTPVM --force-vm --append rdinit=/nope -- true 2>msg.txt
rc=$?
check "a boot-time panic is booted again, 3 times in all, then exits 121" "121 3" \
  "$rc $(grep -c 'panicked before the job started' msg.txt)"
env -u SCTPVM_RETRY_BOOT_PANIC $SCTPVM --force-vm --append rdinit=/nope -- true 2>msg.txt
rc=$?
check "without SCTPVM_RETRY_BOOT_PANIC a boot-time panic is final" "121 0" \
  "$rc $(grep -c 'panicked before the job started' msg.txt)"

# A kernel that panics while CMD runs (sysrq c, the first time only: a
# marker in a --rw directory) runs CMD once more in a fresh guest where
# SCTPVM_RETRY_RUN_PANIC=1 asks, with the oops shown; without it, 122.
once="$TEST_TMPDIR/panic-once"
mkdir -p "$once"
panic_first='[ -e "$0/panicked" ] && echo second run && exit 0; touch "$0/panicked"; echo c >/proc/sysrq-trigger; sleep 30'
SCTPVM_RETRY_RUN_PANIC=1 $SCTPVM --force-vm --rw "$once" -- sh -c "$panic_first" "$once" >out.txt 2>msg.txt
rc=$?
check "a panic while CMD ran runs it once more, the oops shown" "0 1 1 1" \
  "$rc $(grep -c 'second run' out.txt) $(grep -c 'panicked while CMD ran' msg.txt) $(grep -c 'Kernel panic' msg.txt)"
rm -f "$once/panicked"
env -u SCTPVM_RETRY_RUN_PANIC $SCTPVM --force-vm --rw "$once" -- sh -c "$panic_first" "$once" >out.txt 2>msg.txt
check "without SCTPVM_RETRY_RUN_PANIC a panic while CMD ran is final (122)" "122 0" \
  "$? $(grep -c 'second run' out.txt)"

$SCTPVM --force-vm --timeout 8 -- sleep 60 2>/dev/null
check "timeout exits 124" 124 "$?"

$SCTPVM --bogus-flag -- true 2>/dev/null; check "unknown option exits 125" 125 "$?"
$SCTPVM --cpus 0 -- true 2>/dev/null; check "bad --cpus exits 125" 125 "$?"
$SCTPVM 2>/dev/null; check "no command exits 125" 125 "$?"

echo "$((20 - failures)) passed, $failures failed"
((failures == 0))
