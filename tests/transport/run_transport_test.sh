#!/usr/bin/env bash
# Transport acceptance: 64 MiB each way through the USB bulk (or serial) transport to a
# loopback device of the virtual rack; the device checks what it received by SHA-256 and
# the host checks what it got back. Then an unplug in the middle of a transfer must end the
# job as "disconnected", promptly, and the client's loop must close with no handle left.
#   run_transport_test.sh RACK_BIN CLIENT_BIN usb|tty
set -euo pipefail
rack_bin=$1 client=$2 mode=$3
size=${FLASHRACK_TRANSPORT_BYTES:-67108864}
profile=loopback-usb
[ "$mode" = tty ] && profile=loopback-tty
tmp=$(mktemp -d /tmp/flashrack-transport.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# run_case EXPECT SINK SOURCE UNPLUG_AFTER_BYTES [CLIENT_ARGS...]: prints the RESULT line.
# UNPLUG_AFTER_BYTES -1: after the sink, replug the port as the other loopback profile
# (a re-enumeration that changes VID:PID and transport).
run_case() {
  local expect=$1 sink=$2 source=$3 unplug_after=$4 reply result
  shift 4
  coproc R { exec umockdev-wrapper "$rack_bin" --daemon-log "$tmp/client.log" -- \
             "$client" --mode "$mode" --sink "$sink" --source "$source" --expect "$expect" "$@"; }
  say() {
    echo "$*" >&"${R[1]}"
    IFS= read -r -t 120 reply <&"${R[0]}" || fail "rack did not answer '$*'"
    case "$reply" in ok*) ;; *) fail "rack '$*': $reply" ;; esac
  }
  say wait-ready 30000
  say plug 1-1.4 "$profile"
  if [ "$unplug_after" -lt 0 ]; then
    local deadline=$((SECONDS + 120))
    until grep -q "sink_ok=1" <<<"$reply"; do
      [ $SECONDS -lt $deadline ] || fail "sink never completed: $reply"
      sleep 0.05
      say stats 1-1.4
    done
    say unplug 1-1.4
    local other=loopback-tty
    [ "$profile" = loopback-tty ] && other=loopback-usb
    say plug 1-1.4 "$other"
    say wait-exit 120000
    case "$reply" in *"status=0"*) ;; *) fail "client exit: $reply
$(cat "$tmp/client.log")" ;; esac
  elif [ "$unplug_after" -gt 0 ]; then
    local deadline=$((SECONDS + 60)) rx=0
    while [ "$rx" -lt "$unplug_after" ]; do
      [ $SECONDS -lt $deadline ] || fail "device received only $rx bytes in 60 s"
      sleep 0.05
      say stats 1-1.4
      rx=$(grep -o 'rx_bytes=[0-9]*' <<<"$reply" | cut -d= -f2)
    done
    local t0=$SECONDS
    say unplug 1-1.4
    say wait-exit 10000   # "promptly": the job must end well before any watchdog (10 s)
    echo "unplugged after $rx bytes; client exited within $((SECONDS - t0)) s" >&2
    case "$reply" in *"status=0"*) ;; *) fail "client exit: $reply (see log below)
$(cat "$tmp/client.log")" ;; esac
  else
    say wait-exit 300000
    case "$reply" in *"status=0"*) ;; *) fail "client exit: $reply
$(cat "$tmp/client.log")" ;; esac
    say stats 1-1.4
    echo "$reply" > "$tmp/stats"
  fi
  echo quit >&"${R[1]}"
  wait "$R_PID" 2>/dev/null || true
  result=$(grep '^RESULT' "$tmp/client.log" | tail -1 || true)
  [ -n "$result" ] || fail "client printed no RESULT"
  echo "$result"
}

line=$(run_case ok "$size" "$size" 0)
echo "$mode 64MiB each way: $line"
sha=$(grep -o 'sink_sha256=[0-9a-f]*' <<<"$line" | cut -d= -f2)
stats=$(cat "$tmp/stats")
case "$stats" in
  *"sink_ok=1"*) ;;
  *) fail "device did not verify the stream: $stats" ;;
esac
grep -q "last_sink_sha256=$sha" <<<"$stats" || fail "device hash differs from host hash: $stats / $sha"
grep -q "source_ok=1" <<<"$line" || fail "host did not verify the source stream: $line"
# Wire totals: two 24-byte commands out, the 40-byte sink reply in.
grep -q " out=$((size + 48)) in=$((size + 40)) " <<<"$line" || fail "wire byte counts: $line"

line=$(run_case disconnected $((1024 * 1024 * 1024)) 0 $((4 * 1024 * 1024)))
echo "$mode unplug mid-transfer: $line"
grep -q "code=disconnected" <<<"$line" || fail "unplug did not end as disconnected: $line"
# Re-enumeration: the session asks to wait for the device; it comes back on the same port
# as the other loopback profile (other VID:PID, other transport) and the job goes on.
other_pid=0002
[ "$mode" = tty ] && other_pid=0001
line=$(run_case ok $((4 * 1024 * 1024)) $((4 * 1024 * 1024)) -1 --reenumerate)
echo "$mode re-enumeration: $line"
grep -q "reenumerations=1 back_as=1209:$other_pid" <<<"$line" || fail "no re-enumeration: $line"
grep -q "source_ok=1" <<<"$line" || fail "source after re-enumeration failed: $line"
echo "PASS transport $mode"
