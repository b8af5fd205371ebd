#!/usr/bin/env bash
# Transport acceptance, through the daemon's own path (config -> rack -> slot_job -> job engine
# -> transport) against a loopback device of the virtual rack:
#  1. 64 MiB each way; the device checks what it received by SHA-256, the host checks what it
#     got back;
#  2. unplug in the middle of a transfer: the job ends as "disconnected", promptly;
#  3. re-enumeration: the session waits for the device, which comes back on the same port as
#     the other loopback profile (other VID:PID, other transport), and the job goes on;
#  4. SIGTERM in the middle of a transfer: the job ends as "aborted" and is recorded;
# then every attempt row in the database is checked. The client's loop must close with no
# handle left (it exits 3 otherwise), and the ASan build checks for leaks.
#   run_transport_test.sh RACK_BIN CLIENT_BIN usb|tty
set -euo pipefail
rack_bin=$1 client=$2 mode=$3
size=${FLASHRACK_TRANSPORT_BYTES:-67108864}
profile=loopback-usb other=loopback-tty other_pid=0002
if [ "$mode" = tty ]; then profile=loopback-tty other=loopback-usb other_pid=0001; fi
tmp=$(mktemp -d /tmp/flashrack-transport.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
db="$tmp/attempts.db"

fail() { echo "FAIL: $*" >&2; [ -f "$tmp/client.log" ] && tail -n 30 "$tmp/client.log" >&2; exit 1; }

reply=""
say() {
  echo "$*" >&"${R[1]}"
  IFS= read -r -t 120 reply <&"${R[0]}" || fail "rack did not answer '$*'"
  case "$reply" in ok*) ;; *) fail "rack '$*': $reply" ;; esac
}

# wait_rx BYTES: until the device model has received at least BYTES.
wait_rx() {
  local deadline=$((SECONDS + 60)) rx=0
  while [ "$rx" -lt "$1" ]; do
    [ $SECONDS -lt $deadline ] || fail "device received only $rx bytes in 60 s"
    sleep 0.05
    say stats 1-1.4
    rx=$(grep -o 'rx_bytes=[0-9]*' <<<"$reply" | cut -d= -f2)
  done
}

# run_case ACTION EXPECT SINK SOURCE [CLIENT_ARGS...]: runs the client once; prints its RESULT.
run_case() {
  local action=$1 expect=$2 sink=$3 source=$4
  shift 4
  : > "$tmp/client.log"
  coproc R { exec umockdev-wrapper "$rack_bin" --daemon-log "$tmp/client.log" -- \
             "$client" --sink "$sink" --source "$source" --expect "$expect" --db "$db" "$@"; }
  say wait-ready 30000
  say plug 1-1.4 "$profile"
  case "$action" in
    none)
      say wait-exit 300000
      echo "$reply" > "$tmp/exit"
      say stats 1-1.4
      echo "$reply" > "$tmp/stats" ;;
    unplug)
      wait_rx $((4 * 1024 * 1024))
      say unplug 1-1.4
      say wait-exit 10000      # promptly: well before any watchdog (10 s here)
      echo "$reply" > "$tmp/exit" ;;
    sigterm)
      wait_rx $((4 * 1024 * 1024))
      say signal TERM
      say wait-exit 10000
      echo "$reply" > "$tmp/exit" ;;
    replug)
      until grep -q "sink_ok=1" <<<"$reply"; do sleep 0.05; say stats 1-1.4; done
      say unplug 1-1.4
      say plug 1-1.4 "$other"
      say wait-exit 120000
      echo "$reply" > "$tmp/exit" ;;
  esac
  echo quit >&"${R[1]}"
  wait "$R_PID" 2>/dev/null || true
  grep -q "status=0" "$tmp/exit" || fail "$action: client exit: $(cat "$tmp/exit")"
  local result
  result=$(grep '^RESULT' "$tmp/client.log" | tail -1 || true)
  [ -n "$result" ] || fail "$action: client printed no RESULT"
  echo "$result"
}

line=$(run_case none ok "$size" "$size")
echo "$mode $((size >> 20)) MiB each way: $line"
stats=$(cat "$tmp/stats")
sha=$(grep -o 'sink_sha256=[0-9a-f]*' <<<"$line" | cut -d= -f2)
grep -q "sink_ok=1" <<<"$stats" || fail "device did not verify the stream: $stats"
grep -q "last_sink_sha256=$sha" <<<"$stats" || fail "device hash differs from host hash: $stats"
grep -q "opens=[1-9]" <<<"$stats" || fail "the rack did not count the client's open: $stats"
grep -q "source_ok=1" <<<"$line" || fail "host did not verify the source stream: $line"
# Wire totals: two 24-byte commands out, the 40-byte sink reply in.
grep -q " out=$((size + 48)) in=$((size + 40)) " <<<"$line" || fail "wire byte counts: $line"

line=$(run_case unplug disconnected $((1024 * 1024 * 1024)) 0)
echo "$mode unplug mid-transfer: $line"
grep -q "code=disconnected stage=sink" <<<"$line" || fail "unplug: $line"

line=$(run_case replug ok $((4 * 1024 * 1024)) $((4 * 1024 * 1024)) --reenumerate)
echo "$mode re-enumeration: $line"
grep -q "reenumerations=1 back_as=1209:$other_pid" <<<"$line" || fail "no re-enumeration: $line"
grep -q "source_ok=1" <<<"$line" || fail "source after re-enumeration failed: $line"

line=$(run_case sigterm aborted $((1024 * 1024 * 1024)) 0)
echo "$mode SIGTERM mid-transfer: $line"
grep -q "code=aborted" <<<"$line" || fail "SIGTERM: $line"

# One finished row per run, none left running; failures keep their wire trace.
rows=$(sqlite3 -batch "$db" "SELECT result || '|' || fail_code || '|' || protocol || '|' || slot \
  || '|' || usb_path FROM attempts ORDER BY id")
expected="pass||stream|T1|1-1.4
fail|disconnected|stream|T1|1-1.4
pass||stream|T1|1-1.4
aborted|aborted|stream|T1|1-1.4"
[ "$rows" = "$expected" ] || fail "attempt rows:
$rows"
for ref in $(sqlite3 -batch "$db" "SELECT log_ref FROM attempts WHERE result <> 'pass'"); do
  [ -s "$db.d/$ref" ] || fail "wire trace $ref missing"
  grep -q "disconnected\|aborted" "$db.d/$ref" || fail "wire trace $ref has no end: $(cat "$db.d/$ref")"
done
echo "PASS transport $mode"
