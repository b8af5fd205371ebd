#!/usr/bin/env bash
# Issue 7 (write side) rack test: bearer tokens, the job context and slot control against the
# real daemon on the virtual rack. A supervisor and an operator set the job context; slot S1
# is paused before its module arrives and starts nothing until resumed; the slow
# identification on S2 is aborted by the operator and its attempt ends aborted, naming who;
# S3's retry is held while S3 is paused and starts on resume; every attempt carries the
# context; every write is in the audit log with who and from where.
#   control_rack.sh MKPKG_BIN
. "$(dirname "$0")/lib.sh"
mkpkg=$1
E2E_WAIT_S=90

OP=op-$(printf 'x%.0s' $(seq 1 20))
SUP=sup-$(openssl rand -hex 16)
pkgs="$E2E_TMP/pkgs"
mkdir -p "$pkgs"
ec200u=$("$mkpkg" --firmware QPY_OCPU_V0001_EC200U_CNAA_FW "$pkgs")
{
  printf '[station]\nid = control-rack\n[http]\nlisten = 127.0.0.1:0\n[rack]\nrows = 1\ncolumns = 3\n'
  printf '[storage]\ndatabase = @TMP@/flashrack.db\ndata_dir = @TMP@/data\ncache_dir = @TMP@/cache\n'
  printf '[limits]\nno_progress_timeout_ms = 4000\n[flow]\nretries = 1\nretry_delay_ms = 3000\n'
  printf '[auth]\ntoken = operator:line3-tablet:%s\ntoken = supervisor:%s\n' "$OP" "$SUP"
  printf '[recipe ec200u]\npackage = %s\n' "$ec200u"
  for i in 1 2 3; do printf '[slot S%d]\nport = 1-2.%d\n' "$i" "$i"; done
} > "$E2E_TMP/control.conf.in"
e2e_start < "$E2E_TMP/control.conf.in"

# call METHOD PATH TOKEN [JSON]: prints "STATUS BODY"
call() {
  local args=(-sS --max-time 10 -o "$E2E_TMP/body" -w '%{http_code}' -X "$1")
  [ -n "$3" ] && args+=(-H "Authorization: Bearer $3")
  [ $# -ge 4 ] && args+=(-H 'Content-Type: application/json' --data "$4")
  local status
  status=$(curl "${args[@]}" "http://127.0.0.1:$E2E_PORT$2")
  echo "$status $(cat "$E2E_TMP/body")"
}
expect() { # expect WANT_STATUS METHOD PATH TOKEN [JSON]
  local want=$1 got
  shift
  got=$(call "$@")
  [ "${got%% *}" = "$want" ] || e2e_fail "$1 $2: expected $want, got $got"
  echo "$1 $2 -> $got"
}

# Writes need a token; a stranger's is refused before anything is read.
expect 401 POST /api/v1/slots/S1/pause ""
hdr=$(curl -sS -D - -o /dev/null -X POST "http://127.0.0.1:$E2E_PORT/api/v1/slots/S1/pause")
grep -qi '^WWW-Authenticate: Bearer realm="flashrack"' <<<"$hdr" || e2e_fail "no WWW-Authenticate: $hdr"
expect 401 POST /api/v1/slots/S1/pause "wrong-0123456789abcdef"
expect 403 PUT /api/v1/context "$OP" '{"lot":"LOT-9"}'
expect 400 PUT /api/v1/context "$SUP" # no body at all
form=$(curl -sS -o /dev/null -w '%{http_code}' -X PUT -H "Authorization: Bearer $SUP" \
  --data 'lot=LOT-9' "http://127.0.0.1:$E2E_PORT/api/v1/context")
[ "$form" = 415 ] || e2e_fail "a form body: $form, want 415"
expect 200 PUT /api/v1/context "$SUP" '{"work_order":"WO-77","lot":"LOT-9"}'
expect 200 PUT /api/v1/context "$OP" '{"operator":"Li Na"}'
[ "$(api /api/v1/context | jq -r '"\(.work_order)|\(.lot)|\(.operator)|\(.updated_by)"')" = \
  "WO-77|LOT-9|Li Na|line3-tablet" ] || e2e_fail "context: $(api /api/v1/context)"

expect 200 POST /api/v1/slots/S1/pause "$OP"
rack plug 1-2.1 quectel-unisoc-at series=EC200U submodel=CNAA "imei=$(e2e_imei 701)" >/dev/null
# S2 answers each AT command after 1.5 s: its identification job runs for a while.
rack plug 1-2.2 quectel-unisoc-at series=EC200U submodel=CNAA "imei=$(e2e_imei 702)" \
  reply_delay_ms=1500 >/dev/null
# S3's download port goes silent in the handshake (nothing confirmed yet): a flash timeout,
# which is retried once.
rack plug 1-2.3 quectel-unisoc-at series=EC200U submodel=CNAA "imei=$(e2e_imei 703)" \
  download_opts=silent_after:1 >/dev/null
wait_for "S2 identifying" /api/v1/slots/S2 '.state == "busy" and .flow.state == "identifying"'
expect 202 POST /api/v1/slots/S2/abort "$OP"
wait_for "S2 aborted" /api/v1/slots/S2 '.flow.state == "fail" and .flow.code == "aborted"'
expect 409 POST /api/v1/slots/S2/abort "$OP"

wait_for "S3 waits for its retry" /api/v1/slots/S3 '.flow.state == "retry_wait"'
expect 200 POST /api/v1/slots/S3/pause "$OP"
# The retry delay is 3 s: let it pass while paused (if it has not passed, the retry still
# cannot start before the resume, so the check below holds either way).
sleep 4
[ "$(api /api/v1/slots/S3 | jq -r .flow.state)" = retry_wait ] ||
  e2e_fail "paused S3 went on: $(api /api/v1/slots/S3 | jq -c .flow)"
resumed_ms=$(date +%s%3N)
expect 200 POST /api/v1/slots/S3/resume "$OP"
wait_for "S3 retried and failed" /api/v1/slots/S3 '.flow.state == "fail" and .flow.try == 2'
retry_started=$(sql "SELECT started_unix_ms FROM attempts WHERE slot = 'S3' ORDER BY id DESC LIMIT 1")
[ "$retry_started" -ge "$resumed_ms" ] || e2e_fail "S3's retry started at $retry_started, before the resume at $resumed_ms"

# S2 and S3 went through identify, switch and flash meanwhile: S1 would have started.
s1=$(api /api/v1/slots/S1)
[ "$(jq -r '"\(.flow.paused) \(.flow.state) \(.flow.attempt_id)"' <<<"$s1")" = "true idle 0" ] ||
  e2e_fail "paused S1 started something: $(jq -c .flow <<<"$s1")"
expect 200 POST /api/v1/slots/S1/resume "$OP"
wait_for "S1 passes" /api/v1/slots/S1 '.flow.state == "pass" and .flow.paused == false'

row() { sql "SELECT result, operator, work_order, lot, fail_message FROM attempts WHERE slot = '$1' ORDER BY id"; }
[ "$(row S1)" = "pass|Li Na|WO-77|LOT-9|" ] || e2e_fail "S1 attempt: $(row S1)"
[ "$(row S2)" = "aborted|Li Na|WO-77|LOT-9|aborted by line3-tablet (operator)" ] ||
  e2e_fail "S2 attempt: $(row S2)"
[ "$(sql "SELECT count(*) || ' ' || group_concat(result || '/' || work_order) FROM attempts WHERE slot = 'S3'")" = \
  "2 fail/WO-77,fail/WO-77" ] || e2e_fail "S3 attempts: $(row S3)"
echo "S1: $(row S1)"
echo "S2: $(row S2)"
echo "S3: $(row S3)"

audit=$(sql "SELECT actor || ' ' || role || ' ' || action || ' ' || target || ' ' || remote_addr || ' ' || json_extract(detail, '\$.status') FROM audit_log ORDER BY id")
echo "$audit"
want="line3-tablet operator PUT /api/v1/context /api/v1/context 127.0.0.1 403
supervisor supervisor PUT /api/v1/context /api/v1/context 127.0.0.1 400
supervisor supervisor PUT /api/v1/context /api/v1/context 127.0.0.1 415
supervisor supervisor context.set context 127.0.0.1 200
line3-tablet operator context.set context 127.0.0.1 200
line3-tablet operator slot.pause S1 127.0.0.1 200
line3-tablet operator slot.abort S2 127.0.0.1 202
line3-tablet operator POST /api/v1/slots/S2/abort /api/v1/slots/S2/abort 127.0.0.1 409
line3-tablet operator slot.pause S3 127.0.0.1 200
line3-tablet operator slot.resume S3 127.0.0.1 200
line3-tablet operator slot.resume S1 127.0.0.1 200"
[ "$audit" = "$want" ] || e2e_fail "audit log differs; want:
$want"
# A pause is the supervisor's decision about the physical slot: it outlasts a restart.
expect 200 POST /api/v1/slots/S2/pause "$OP"
e2e_stop

# The context and the pause survive a restart (settings table, schema v4).
e2e_start < "$E2E_TMP/control.conf.in"
[ "$(api /api/v1/slots/S2 | jq -r '.flow.paused')" = true ] ||
  e2e_fail "S2's pause was lost in the restart: $(api /api/v1/slots/S2 | jq -c .flow)"
[ "$(api /api/v1/slots/S1 | jq -r '.flow.paused')" = false ] || e2e_fail "S1 came back paused"
grep -q "slot S2: paused before the restart, still paused" "$E2E_TMP/daemon.log" ||
  e2e_fail "the restart did not log the kept pause"
expect 200 POST /api/v1/slots/S2/resume "$OP"
[ "$(api /api/v1/context | jq -r '"\(.work_order)|\(.lot)|\(.operator)|\(.updated_by)"')" = \
  "WO-77|LOT-9|Li Na|line3-tablet" ] || e2e_fail "context after a restart: $(api /api/v1/context)"
grep -q "context: work order 'WO-77', lot 'LOT-9', operator 'Li Na'" "$E2E_TMP/daemon.log" ||
  e2e_fail "the restart did not log the restored context"
e2e_stop
echo "control rack: ok"
