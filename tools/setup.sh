#!/usr/bin/env bash
# sctpdp setup: installs everything the project needs on a Debian 12 (bookworm)
# x86_64 machine and unpacks the SCTP guest kernels into a cache outside the repo:
# Debian's default kernel (6.1, the guest's default) and its 6.12 kernel, for
# kernel A/B runs (`sctpdp regress`) and `bazel test --config=k612`.
#
#   sudo tools/setup.sh            # or as root
#
# Idempotent: a second run finds every package and the kernel in place and only
# checks. Environment:
#   SCTPDP_CACHE   where the guest kernel and initramfs live (/var/cache/sctpdp)
set -euo pipefail

readonly CACHE="${SCTPDP_CACHE:-/var/cache/sctpdp}"
readonly HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# Build, tests, guest runner, real peers. One list; nothing else is installed.
readonly PACKAGES=(
  # build
  bazel-bootstrap bazel-rules-java g++ liburing-dev libabsl-dev libgtest-dev
  libgmock-dev libbenchmark-dev libsctp-dev libcpp-httplib-dev nlohmann-json3-dev
  # fuzzing (bazel test --config=fuzz): clang and its libFuzzer/sanitizer runtimes
  clang libclang-rt-14-dev
  # plots of `sctpdp regress` (tools/plots/)
  python3 python3-matplotlib
  # guest runner (xz and readelf extract the kernel's PVH entry)
  qemu-system-x86 busybox-static cpio xz-utils binutils
  # real SCTP peers for tests and benchmarks; tc (netem) for regress setups
  lksctp-tools socat iperf3 iproute2
)

die() { echo "setup: $*" >&2; exit 1; }
step() { echo "setup: $*"; }

check_system() {
  [[ "$(uname -m)" == x86_64 ]] || die "unsupported architecture $(uname -m): need x86_64"
  [[ -r /etc/os-release ]] || die "unsupported system: no /etc/os-release (need Debian 12)"
  # shellcheck disable=SC1091
  . /etc/os-release
  [[ "${ID:-}" == debian && "${VERSION_ID:-}" == 12 ]] ||
    die "unsupported system: ${PRETTY_NAME:-unknown} (need Debian 12 bookworm)"
  [[ "$(id -u)" == 0 ]] || die "run as root (sudo $0): it installs packages"
}

missing_packages() {
  local p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
      echo "$p"
  done
}

install_packages() {
  local missing
  missing="$(missing_packages)"
  if [[ -z "$missing" ]]; then
    step "all ${#PACKAGES[@]} packages present"
    return
  fi
  step "installing: $(echo $missing)"
  apt-get update -q || die "apt-get update failed"
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing ||
    die "apt-get install failed"
}

# The guest kernels: the image package a Debian meta package depends on (each
# ships sctp, 9p and virtio as modules). Unpacked, never installed.
#   fetch_kernel META NAME
# unpacks the package behind META into $CACHE/<package>/ and points the stable
# names vmlinuz-NAME and modules-NAME (what `tools/sctpvm --kernel NAME` and
# regress sides look for) at it.
fetch_kernel() {
  local meta=$1 name=$2 pkg ver dir
  pkg="$(kernel_package "$meta")"
  if [[ -z "$pkg" ]]; then
    apt-get update -q || die "apt-get update failed"
    pkg="$(kernel_package "$meta")"
  fi
  [[ -n "$pkg" ]] || die "cannot resolve the kernel package behind $meta"
  ver="${pkg#linux-image-}"
  dir="$CACHE/$pkg"
  if [[ -f "$dir/.complete" ]]; then
    step "guest kernel $ver ($name) present in $dir"
  else
    unpack_package "$pkg" "$dir"
    [[ -f "$dir/boot/vmlinuz-$ver" && -d "$dir/lib/modules/$ver" ]] ||
      die "$pkg has no boot/vmlinuz-$ver or lib/modules/$ver"
    touch "$dir/.complete"
  fi
  ln -sfn "$pkg/boot/vmlinuz-$ver" "$CACHE/vmlinuz-$name"
  ln -sfn "$pkg/lib/modules/$ver" "$CACHE/modules-$name"
}

# The linux-image-<version> package META depends on, or nothing.
kernel_package() {
  apt-cache depends "$1" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}'
}

unpack_package() {
  local pkg=$1 dir=$2 tmp
  step "fetching guest kernel $pkg"
  mkdir -p "$CACHE"
  tmp="$(mktemp -d "$CACHE/.fetch.XXXXXX")"
  (cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$pkg") || { rm -rf "$tmp"; die "apt-get download $pkg failed"; }
  rm -rf "$dir"
  dpkg-deb -x "$tmp"/*.deb "$dir" || { rm -rf "$tmp"; die "dpkg-deb -x $pkg failed"; }
  rm -rf "$tmp"
}

main() {
  check_system
  install_packages
  fetch_kernel linux-image-amd64 6.1
  fetch_kernel linux-image-6.12-amd64 6.12
  # The default guest kernel (tools/sctpvm without --kernel) is Debian's own.
  ln -sfn "$(readlink "$CACHE/vmlinuz-6.1")" "$CACHE/vmlinuz"
  ln -sfn "$(readlink "$CACHE/modules-6.1")" "$CACHE/modules"
  # Builds each kernel's cached initramfs and records whether KVM boots it.
  local name
  for name in 6.1 6.12; do
    step "preparing the guest ($name)"
    SCTPDP_CACHE="$CACHE" "$HERE/sctpvm" --prepare --kernel "$name" || die "guest preparation ($name) failed"
  done
  step "done. Test with: bazel test //..."
}

main "$@"
