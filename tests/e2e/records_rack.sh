#!/usr/bin/env bash
# Issue 7, read side: the records API of the real daemon after real flashes on the virtual
# rack, checked with curl against what the database holds. Two modules pass; one whose
# download port goes silent fails twice (a transient failure, retried once) and keeps its
# wire trace; the first module is flashed again (attempt 2 of its IMEI).
#   records_rack.sh MKPKG_BIN
. "$(dirname "$0")/lib.sh"
mkpkg=$1
E2E_WAIT_S=90

pkgs="$E2E_TMP/pkgs"
mkdir -p "$pkgs"
ec200u=$("$mkpkg" --firmware QPY_OCPU_V0001_EC200U_CNAA_FW "$pkgs")
{
  printf '[station]\nid = records-rack\n[http]\nlisten = 127.0.0.1:0\n[rack]\nrows = 1\ncolumns = 3\n'
  printf '[storage]\ndatabase = @TMP@/flashrack.db\ndata_dir = @TMP@/data\ncache_dir = @TMP@/cache\n'
  printf '[flow]\nretries = 1\nretry_delay_ms = 300\nreboot_timeout_ms = 4000\n'
  printf '[limits]\nno_progress_timeout_ms = 3000\n'
  printf '[recipe ec200u]\npackage = %s\n' "$ec200u"
  for i in 1 2 3; do printf '[slot S%d]\nport = 1-2.%d\n' "$i" "$i"; done
} > "$E2E_TMP/records.conf.in"
e2e_start < "$E2E_TMP/records.conf.in"

imei() { e2e_imei "$((700 + $1))"; }
plug() { rack plug "1-2.$1" quectel-unisoc-at series=EC200U submodel=CNAA "imei=$(imei "$1")" "${@:2}" >/dev/null; }
plug 1
plug 2
plug 3 download_opts=silent_after:1 # silent in the handshake: nothing confirmed, retried
wait_for "every slot has a verdict" /api/v1/slots \
  '[.slots[] | select(.flow.state == "pass" or .flow.state == "fail")] | length == 3'
rack unplug 1-2.1 >/dev/null
wait_for "S1 empty" /api/v1/slots/S1 '.flow.state == "idle" and .device == null'
plug 1
wait_for "S1 passes again" /api/v1/slots/S1 '.flow.state == "pass"'

check() { # check WHAT JSON JQ_FILTER: the filter must print "true"
  [ "$(jq -r "$3" <<<"$2")" = true ] || e2e_fail "$1: $2"
  echo "ok: $1"
}

# The list, in id order and by finish order: every record once.
list=$(api '/api/v1/attempts?limit=1000')
check "5 attempts, in id order" "$list" \
  '(.attempts | length == 5) and ([.attempts[].id] == ([.attempts[].id] | sort)) and .more == false'
seq=$(api '/api/v1/attempts?since_seq=0&limit=2')
check "since_seq pages" "$seq" '(.attempts | length == 2) and .next_since_seq == 2 and .more'
rest=$(api '/api/v1/attempts?since_seq=2')
check "since_seq rest" "$rest" '[.attempts[].finish_seq] == [3, 4, 5]'

# One failed attempt with its wire trace, read through the API only.
id=$(jq -r '[.attempts[] | select(.result == "fail")][0].id' <<<"$list")
one=$(api "/api/v1/attempts/$id")
check "the failed attempt has its wire trace" "$one" \
  '(.log.ref | startswith("attempts/")) and (.log.text | length > 0) and .log.truncated == false'
uuid=$(jq -r .attempt_uuid <<<"$one")
check "the same attempt by UUID" "$(api "/api/v1/attempts/$uuid")" ".id == $id"
[ "$(jq -r .log.bytes <<<"$one")" = "$(stat -c %s "$E2E_TMP/data/$(jq -r .log.ref <<<"$one")")" ] ||
  e2e_fail "log size differs from the file"

# Units: S1's module twice, passed; S3's module failed.
check "unit S1" "$(api "/api/v1/units/$(imei 1)")" \
  '.attempts_total == 2 and .verdict == "pass" and [.attempts[].attempt_no] == [1, 2]'
check "unit S3" "$(api "/api/v1/units/$(imei 3)")" '.verdict == "fail" and .counts.fail == 2'

# Stats of the last 24 h: 3 units, 2 passed the first time and finally; 3 passes, 2 timeouts.
check "stats" "$(api /api/v1/stats)" \
  '.units.total == 3 and .units.first_pass == 2 and .units.final_pass == 2 and
   .attempts.pass == 3 and .attempts.fail == 2 and .failures_by_code == [{"code":"timeout","count":2}] and
   ([.throughput_per_hour[].passes] | add) == 3 and .pass_duration_ms.p50 > 0'

# Text filters, CSV and metrics need the text replies of the HTTP layer.
if curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$E2E_PORT/metrics" | grep -q 200; then
  check "the unit filter" "$(api "/api/v1/attempts?imei=$(imei 3)")" \
    '[.attempts[] | .result + ":" + .fail_code] == ["fail:timeout", "fail:timeout"]'
  check "a bad filter is a 400" "$(api '/api/v1/attempts?result=great')" '.error.code == "bad_request"'
  csv=$(curl -sS --max-time 10 -D "$E2E_TMP/csv.h" "http://127.0.0.1:$E2E_PORT/api/v1/attempts?format=csv")
  grep -qi '^content-type: text/csv' "$E2E_TMP/csv.h" || e2e_fail "CSV content type: $(cat "$E2E_TMP/csv.h")"
  [ "$(printf '%s\n' "$csv" | wc -l)" = 6 ] || e2e_fail "CSV rows: $csv"
  [ "$(printf '%s\n' "$csv" | head -1 | tr -d '\r')" = "$(jq -r '.attempts[0] | keys_unsorted | join(",")' <<<"$list")" ] ||
    e2e_fail "CSV header differs from the JSON fields: $(printf '%s\n' "$csv" | head -1)"
  echo "ok: CSV export"
  metrics=$(api /metrics)
  grep -q '^flashrack_attempts_total{result="pass"} 3$' <<<"$metrics" || e2e_fail "metrics: $metrics"
  grep -q '^flashrack_slot_flow{state="pass"} 2$' <<<"$metrics" || e2e_fail "metrics: $metrics"
  echo "ok: metrics"
else
  echo "skip: text filters, CSV and /metrics (this build has no text replies)"
fi
e2e_stop

# The API said what the database holds.
[ "$(sql "SELECT count(*) FROM attempts")" = 5 ] || e2e_fail "rows: $(sql "SELECT * FROM attempts")"
echo "PASS records_rack"
