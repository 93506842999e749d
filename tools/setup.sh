#!/usr/bin/env bash
# sctpdp setup: installs everything the project needs on a Debian 12 (bookworm)
# x86_64 machine and unpacks the SCTP guest kernel into a cache outside the repo.
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
  libgmock-dev libbenchmark-dev libsctp-dev libcpp-httplib-dev
  # guest runner (xz and readelf extract the kernel's PVH entry)
  qemu-system-x86 busybox-static cpio xz-utils binutils
  # real SCTP peers for tests and benchmarks
  lksctp-tools socat iperf3
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

# The guest kernel: the package Debian's linux-image-amd64 depends on (it ships
# sctp.ko, 9p and virtio as modules). Unpacked, never installed.
fetch_kernel() {
  local pkg ver dir tmp
  pkg="$(apt-cache depends linux-image-amd64 2>/dev/null |
         awk '/Depends: linux-image-[0-9]/ {print $2; exit}')"
  if [[ -z "$pkg" ]]; then
    apt-get update -q || die "apt-get update failed"
    pkg="$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')"
  fi
  [[ -n "$pkg" ]] || die "cannot resolve the kernel package behind linux-image-amd64"
  ver="${pkg#linux-image-}"
  dir="$CACHE/$pkg"
  if [[ -f "$dir/.complete" ]]; then
    step "guest kernel $ver present in $dir"
  else
    step "fetching guest kernel $pkg"
    mkdir -p "$CACHE"
    tmp="$(mktemp -d "$CACHE/.fetch.XXXXXX")"
    (cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$pkg") || { rm -rf "$tmp"; die "apt-get download $pkg failed"; }
    rm -rf "$dir"
    dpkg-deb -x "$tmp"/*.deb "$dir" || { rm -rf "$tmp"; die "dpkg-deb -x failed"; }
    rm -rf "$tmp"
    [[ -f "$dir/boot/vmlinuz-$ver" && -d "$dir/lib/modules/$ver" ]] ||
      die "$pkg has no boot/vmlinuz-$ver or lib/modules/$ver"
    touch "$dir/.complete"
  fi
  # Stable names the guest runner looks for.
  ln -sfn "$pkg/boot/vmlinuz-$ver" "$CACHE/vmlinuz"
  ln -sfn "$pkg/lib/modules/$ver" "$CACHE/modules"
}

main() {
  check_system
  install_packages
  fetch_kernel
  # Builds the cached initramfs and records whether KVM boots this kernel.
  step "preparing the guest"
  SCTPDP_CACHE="$CACHE" "$HERE/sctpvm" --prepare || die "guest preparation failed"
  step "done. Test with: bazel test //..."
}

main "$@"
