#!/usr/bin/env bash
# Issue 7 MES pre-flash interlock, end to end: the real daemon on the virtual rack asks a
# local MES (interlock_receiver.py) about each module the guard matched, before it switches
# the module to download mode.
#  1. interlock_on_error = block, MES up: the MES refuses one IMEI -> mes_rejected at guard
#     with its (cleaned, bounded) reason, that module is never switched; the others pass; a
#     module pulled while the MES is being asked ends disconnected at guard.
#  2. MES down (connection refused): mes_unreachable at guard, retried per [flow] retries.
#  3. SIGHUP reload to interlock_on_error = allow: the module passes unchecked, with a
#     warning in the log and an "unchecked" flow event.
#  4. An MES that accepts the connection and never answers: the daemon stops cleanly with
#     the request in flight, and the try is recorded as aborted at guard.
#   interlock_rack.sh MKPKG_BIN
. "$(dirname "$0")/lib.sh"
mkpkg=$1
E2E_WAIT_S=90
TOKEN=ilk-e2e-token-0123456789

imei() { e2e_imei "$((700 + $1))"; }

e2e_rx_start interlock_receiver.py --token "$TOKEN" --refuse "$(imei 2)" --hold "$(imei 4)" \
  --hold-s 30

pkgs="$E2E_TMP/pkgs"
mkdir -p "$pkgs"
ec200u=$("$mkpkg" --firmware QPY_OCPU_V0001_EC200U_CNAA_FW "$pkgs")
ec600u=$("$mkpkg" --firmware QPY_OCPU_BETA0002_EC600U_CNLB_FW "$pkgs")
config() { # config block|allow
  printf '[station]\nid = ilk-rack\n[http]\nlisten = 127.0.0.1:0\n[rack]\nrows = 1\ncolumns = 7\n'
  printf '[storage]\ndatabase = @TMP@/flashrack.db\ndata_dir = @TMP@/data\ncache_dir = @TMP@/cache\n'
  printf '[flow]\nretries = 1\nretry_delay_ms = 300\nreboot_timeout_ms = 10000\n'
  printf '[recipe ec200u]\npackage = %s\n' "$ec200u"
  printf '[recipe ec600u]\npackage = %s\n' "$ec600u"
  printf '[mes]\ntoken = %s\ninterlock_url = http://127.0.0.1:%s/clear\n' "$TOKEN" "$RX_PORT"
  printf 'interlock_timeout_ms = 60000\ninterlock_on_error = %s\n' "$1"
  for i in $(seq 1 7); do printf '[slot S%d]\nport = 1-2.%d\n' "$i" "$i"; done
}
e2e_start < <(config block)

at_unisoc() { # at_unisoc SLOT SERIES SUBMODEL: a Unisoc module in AT mode
  rack plug "1-2.$1" quectel-unisoc-at "series=$2" "submodel=$3" "imei=$(imei "$1")" >/dev/null
}

# ---- 1. the MES answers -----------------------------------------------------------------
at_unisoc 1 EC200U CNAA
at_unisoc 2 EC600U CNLB # refused by the MES
at_unisoc 3 EC600U CNLB
at_unisoc 4 EC200U CNAA # the MES holds its answer: pulled meanwhile
wait_for "S4 waits for the MES" /api/v1/slots/S4 '.flow.state == "interlock"'
rack unplug 1-2.4 >/dev/null
wait_for "S1..S4 have a verdict" /api/v1/slots \
  '[.slots[] | select(.flow.state == "pass" or .flow.state == "fail" or
    (.flow.state == "idle" and .flow.code != ""))] | length == 4'
slots=$(api /api/v1/slots)
flow() { jq -r ".slots[] | select(.label == \"S$1\") | .flow.$2" <<<"$slots"; }
verdict() { # verdict SLOT STATE STAGE CODE
  local got
  got=$(jq -r ".slots[] | select(.label == \"S$1\") | .flow | \"\(.state) \(.stage) \(.code)\"" <<<"$slots")
  [ "$got" = "$2 $3 $4" ] || e2e_fail "S$1: expected '$2 $3 $4', got '$got'"
  echo "S$1: $got"
}
verdict 1 pass "" ""
verdict 2 fail guard mes_rejected
verdict 3 pass "" ""
verdict 4 idle guard disconnected
# The MES's reason reaches the operator: one clean line, bounded, no escape sequence.
msg=$(flow 2 message)
echo "S2 message: $msg"
grep -q "unit on QA hold (ticket QA-17) \[0mxxx" <<<"$msg" || e2e_fail "S2 message: $msg"
grep -q $'\x1b' <<<"$msg" && e2e_fail "S2 message kept an escape character"
[ ${#msg} -lt 400 ] || e2e_fail "S2 message is not bounded: ${#msg} characters"
grep -q "xxx\.\.\." <<<"$msg" || e2e_fail "S2 message was not cut: $msg"
grep -q "Set the unit aside: the MES refused it" <<<"$(flow 2 instruction)" ||
  e2e_fail "S2 instruction: $(flow 2 instruction)"
# Nothing was written to the refused module: it was never switched to download mode.
stats=$(rack stats 1-2.2)
grep -q "qdownload=0" <<<"$stats" || e2e_fail "S2 was switched: $stats"
# One request per module, with the token and the unit's identity and the guard's choice.
[ "$(jq -s 'length' "$E2E_TMP/rx.log")" = 4 ] || e2e_fail "requests: $(cat "$E2E_TMP/rx.log")"
[ "$(jq -s 'all(.auth_ok)' "$E2E_TMP/rx.log")" = true ] || e2e_fail "a request without the token"
body=$(jq -c "select(.imei == \"$(imei 3)\") | .body" "$E2E_TMP/rx.log")
jq -e '.station_id == "ilk-rack" and .slot == "S3" and .module_model == "EC600U" and
  .submodel == "CNLB" and .recipe == "ec600u" and .package_version == "BETA0002" and
  (.revision_before | startswith("EC600UCNLB")) and (.attempt_uuid | length) == 36' \
  <<<"$body" >/dev/null || e2e_fail "S3 interlock body: $body"
uuid=$(jq -r .attempt_uuid <<<"$body")
[ "$(sql "SELECT slot || ' ' || result FROM attempts WHERE attempt_uuid = '$uuid'")" = "S3 pass" ] ||
  e2e_fail "the interlock's attempt_uuid is not S3's attempt"
# The slot timeline shows the interlock step.
steps=$(sql "SELECT group_concat(json_extract(detail, '$.state'), ' ') FROM
  (SELECT detail FROM slot_events WHERE slot = 'S1' AND event = 'flow' ORDER BY id)")
[ "$steps" = "identifying interlock switching waiting_download flashing rebooting verifying pass" ] ||
  e2e_fail "S1 flow events: $steps"

# ---- 2. the MES is down, interlock_on_error = block ---------------------------------------
e2e_rx_stop
at_unisoc 5 EC200U CNAA
wait_for "S5 fails" /api/v1/slots/S5 '.flow.state == "fail"'
rows=$(sql "SELECT attempt_no || ' ' || result || ' ' || fail_stage || ' ' || fail_code || ' ' ||
  bytes_written FROM attempts WHERE slot = 'S5' ORDER BY id")
[ "$rows" = "1 fail guard mes_unreachable 0
2 fail guard mes_unreachable 0" ] || e2e_fail "S5 rows (one retry): $rows"
grep -q "ask again" <<<"$(api /api/v1/slots/S5 | jq -r .flow.instruction)" ||
  e2e_fail "S5 instruction: $(api /api/v1/slots/S5 | jq -r .flow.instruction)"
stats=$(rack stats 1-2.5)
grep -q "qdownload=0" <<<"$stats" || e2e_fail "S5 was switched: $stats"

# ---- 3. reload: interlock_on_error = allow --------------------------------------------------
config allow | sed -e "s|@TMP@|$E2E_TMP|g" > "$E2E_TMP/flashrack.conf"
rack signal HUP >/dev/null
deadline=$((SECONDS + 30))
until grep -q "reload (SIGHUP): applied" "$E2E_TMP/daemon.log"; do
  [ $SECONDS -lt $deadline ] || e2e_fail "the reload was not applied"
  sleep 0.1
done
grep -q "the MES pre-flash interlock is now" "$E2E_TMP/daemon.log" ||
  e2e_fail "the reload did not notice the interlock keys"
at_unisoc 6 EC600U CNLB
wait_for "S6 passes unchecked" /api/v1/slots/S6 '.flow.state == "pass"'
grep -q "S6.*flashed without the MES's clearance" "$E2E_TMP/daemon.log" ||
  e2e_fail "no warning for the unchecked flash"
[ "$(sql "SELECT count(*) FROM slot_events WHERE slot = 'S6' AND event = 'flow' AND
  json_extract(detail, '$.interlock') = 'unchecked' AND json_extract(detail, '$.error') <> ''")" = 1 ] ||
  e2e_fail "no unchecked flow event: $(sql "SELECT detail FROM slot_events WHERE slot = 'S6'")"

# ---- 4. stopping while the MES is being asked ----------------------------------------------
python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8)
open(sys.argv[2], "w").close()
held = []
while True:
    held.append(s.accept()[0])  # read nothing, answer nothing
' "$RX_PORT" "$E2E_TMP/silent.up" 2>>"$E2E_TMP/rx.err" &
RX_PID=$!
deadline=$((SECONDS + 20))
until [ -e "$E2E_TMP/silent.up" ]; do
  [ $SECONDS -lt $deadline ] || e2e_fail "the silent MES did not start: $(cat "$E2E_TMP/rx.err")"
  sleep 0.05
done
at_unisoc 7 EC200U CNAA
wait_for "S7 waits for the MES" /api/v1/slots/S7 '.flow.state == "interlock"'
e2e_stop
[ "$(sql "SELECT result || ' ' || fail_stage || ' ' || fail_code FROM attempts WHERE slot = 'S7'")" = \
  "aborted guard aborted" ] || e2e_fail "S7: $(sql "SELECT * FROM attempts WHERE slot = 'S7'")"
echo "PASS interlock_rack"
