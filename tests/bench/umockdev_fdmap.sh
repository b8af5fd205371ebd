#!/usr/bin/env bash
# Opt-in, for the station benchmark above 48 modules only (docs/performance.md): builds
# umockdev's preload library from Debian's source of the installed version with a larger
# fd table, into a private directory. Not part of CI or scripts/setup.
#
#   tests/bench/umockdev_fdmap.sh [DIR]      (default DIR: /tmp/flashrack-umockdev-fdmap)
#   LD_LIBRARY_PATH=DIR FLASHRACK_BUILD_DIR=build tests/bench/station_bench.sh 64
#
# Why: libumockdev-preload keeps every descriptor a testbed process holds on a /dev path in
# a fixed table of FD_MAP_MAX = 50 entries (src/libumockdev-preload.c, fd_map_add) and
# abort()s the process when a 51st is opened. The daemon holds one or two per module while
# it talks to it (the usbfs node of a download port, the AT tty), so 64 busy modules abort
# it. Upstream and Debian (0.17 .. 0.19) have the same fixed table. The change here is that
# one constant (FDMAP_MAX below), nothing else.
#
# umockdev-wrapper preloads "libumockdev-preload.so.0" by name, so LD_LIBRARY_PATH=DIR makes
# the rack and the daemon load this build instead of the system's.
set -euo pipefail
dir=${1:-/tmp/flashrack-umockdev-fdmap}
fdmap_max=${FDMAP_MAX:-256}
# The sources are pinned: the installed version must be this one (the preload must match
# the libumockdev the rack links against), and the tarball must have this hash.
want_version=0.17.16
orig_sha256=4f405b8ce9219f8117d8605ecd815b8941cd829dae11b4a26b1a49ff7ea3ae26
pool=${DEBIAN_POOL:-http://deb.debian.org/debian/pool/main/u/umockdev}

installed=$(dpkg-query -W -f '${Version}' libumockdev0 2>/dev/null || true)
case $installed in
  "$want_version"-*) ;;
  *) echo "umockdev_fdmap: installed libumockdev0 is '${installed:-none}', this script is pinned to $want_version;" \
       "update want_version and orig_sha256 from the new .dsc" >&2
     exit 2 ;;
esac

mkdir -p "$dir"
tarball="$dir/umockdev_$want_version.orig.tar.xz"
if [ ! -f "$tarball" ] || ! echo "$orig_sha256  $tarball" | sha256sum --check --status; then
  curl -fsSL -o "$tarball.part" "$pool/umockdev_$want_version.orig.tar.xz"
  mv "$tarball.part" "$tarball"
fi
echo "$orig_sha256  $tarball" | sha256sum --check --status ||
  { echo "umockdev_fdmap: $tarball: sha256 does not match the pinned one" >&2; exit 1; }

src="$dir/umockdev-$want_version"
rm -rf "$src"
tar -xJf "$tarball" -C "$dir"
file="$src/src/libumockdev-preload.c"
grep -q '^#define FD_MAP_MAX 50$' "$file" ||
  { echo "umockdev_fdmap: $file has no '#define FD_MAP_MAX 50'" >&2; exit 1; }
sed -i "s/^#define FD_MAP_MAX 50\$/#define FD_MAP_MAX $fdmap_max/" "$file"

# What meson generates for this source on Debian 12 (meson.build: PACKAGE_NAME, VERSION,
# IOCTL_REQUEST_TYPE; glibc 2.36 has no linkable __fxstatat, so no HAVE_FXSTATAT).
cat > "$src/src/config.h" <<EOF
#define PACKAGE_NAME "umockdev"
#define VERSION "$want_version"
#define IOCTL_REQUEST_TYPE unsigned long
EOF
# Debian's flags for the package (hardening=+all), the sources of meson's preload_lib.
cflags=$(dpkg-buildflags --get CFLAGS 2>/dev/null || echo "-g -O2")
ldflags=$(dpkg-buildflags --get LDFLAGS 2>/dev/null || true)
# shellcheck disable=SC2086 # word splitting of the flags is intended
cc $cflags -Wno-pragmas -fPIC -fvisibility=default -D_GNU_SOURCE -I"$src/src" -shared \
  -Wl,-soname,libumockdev-preload.so.0 $ldflags -o "$dir/libumockdev-preload.so.0" \
  "$src/src/libumockdev-preload.c" "$src/src/debug.c" "$src/src/utils.c" "$src/src/ioctl_tree.c" \
  -ldl -lpthread
rm -rf "$src"
echo "$dir/libumockdev-preload.so.0 (FD_MAP_MAX $fdmap_max): LD_LIBRARY_PATH=$dir station_bench.sh N"
