#!/bin/busybox sh
# The guest's init (PID 1) for tools/sctpvm, packed into its initramfs.
# Loads the modules in /modules/order, mounts the host root read-only at /host,
# the job directory at /job and the writable host directories listed in
# /job/mounts over their own paths, brings up lo, runs the job's run.sh with the
# host's bash inside a chroot of /host, and reboots (qemu runs with -no-reboot,
# so that ends it). The exit status travels back in the job directory.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev

VERBOSE=0
grep -q 'sctpvm.verbose=1' /proc/cmdline && VERBOSE=1
say() { [ "$VERBOSE" = 1 ] && echo "sctpvm-init: $*"; }
fail() { echo "sctpvm-init: FAILED: $*"; sync; reboot -f; sleep 10; }

for m in $(cat /modules/order); do
  insmod "/modules/$m.ko" || echo "sctpvm-init: insmod $m failed"
done
say "modules loaded"

P9='trans=virtio,version=9p2000.L,msize=262144'
mount -t 9p -o "$P9" job /job || fail "mount of the job directory"
mount -t 9p -o "$P9,ro,cache=loose" host /host || fail "mount of the host root"
mount -t proc proc /host/proc || fail "mount /host/proc"
mount -t sysfs sys /host/sys
mount -t devtmpfs dev /host/dev || fail "mount /host/dev"
mkdir -p /host/dev/pts /host/dev/shm
mount -t devpts devpts /host/dev/pts || fail "mount /host/dev/pts"
mount -t tmpfs shm /host/dev/shm || fail "mount /host/dev/shm"
mount -t tmpfs run /host/run 2>/dev/null
while read -r tag dir; do
  [ -n "$tag" ] || continue
  mkdir -p "/host$dir" 2>/dev/null
  mount -t 9p -o "$P9" "$tag" "/host$dir" || fail "mount of writable $dir"
done < /job/mounts
ip link set lo up || fail "ip link set lo up"
[ -d /proc/net/sctp ] || fail "no SCTP in this kernel (sctp.ko missing from the module tree?)"

# CMD's stdout and stderr: the virtio-serial ports named by the host.
for port in /sys/class/virtio-ports/*; do
  ln -s "/dev/${port##*/}" "/dev/sctpvm-$(cat "$port/name")"
done
[ -e /dev/sctpvm-stdout ] && [ -e /dev/sctpvm-stderr ] || fail "no stdout/stderr virtio ports"
: > /job/started
say "running job"
# /job/run.sh lives in the job directory; find it inside the chroot through the
# writable mount that holds it ($TMPDIR), else through /job bound in.
read -r JOBDIR < /job/path
if [ ! -e "/host$JOBDIR/run.sh" ]; then
  mkdir -p "/host$JOBDIR" 2>/dev/null
  mount --bind /job "/host$JOBDIR" || fail "bind of the job directory"
fi
chroot /host /bin/bash "$JOBDIR/run.sh" </dev/null >/dev/sctpvm-stdout 2>/dev/sctpvm-stderr
rc=$?
[ -e /job/status ] || echo "$rc" > /job/status
sync
reboot -f
