#!/usr/bin/env bash
# Runs a command (a benchmark) with umockdev's testbed on a private tmpfs:
#
#   tests/bench/tmpfs_testbed.sh tests/bench/station_bench.sh 64
#
# The virtual rack writes ~130 sysfs files, links and directories per plug and
# re-enumeration into the testbed, which umockdev makes under TMPDIR. On a journal-less ext4
# (this project's VMs) each new inode skips the block group's recently deleted ones, so a plug
# costs 20-70 ms of the rack's main loop depending on what anyone deleted in the last minutes
# (docs/performance.md, "What holds the station back"), and that shows in the 64-module figures.
# A production station has no testbed. /dev/shm is a tmpfs, but umockdev's preload treats every
# path under /dev/ as a device node, so the testbed cannot live there.
#
# This script mounts a tmpfs in a private mount namespace (unshare -m; as a normal user with
# --map-root-user), points TMPDIR at it and runs the command. Only the testbed moves: the e2e
# library keeps its own files (the daemon's database, logs) under /tmp, on the disk.
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 COMMAND [ARG...]" >&2; exit 2; }
if [ -z "${FLASHRACK_TMPFS_NS:-}" ]; then
  flags=(--mount --propagation private)
  [ "$(id -u)" = 0 ] || flags+=(--map-root-user)
  exec env FLASHRACK_TMPFS_NS=1 unshare "${flags[@]}" "$0" "$@"
fi
dir=$(mktemp -d /tmp/flashrack-testbed.XXXXXX)
mount -t tmpfs -o size=1g,mode=0700 flashrack-testbed "$dir"
trap 'umount "$dir" && rmdir "$dir"' EXIT
echo "testbed tmpfs: $dir" >&2
TMPDIR=$dir "$@"
