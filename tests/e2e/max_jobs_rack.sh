#!/usr/bin/env bash
# [limits] max_jobs = 1 on the real daemon and the virtual rack: at most one module is in its
# download part (switch .. end of the flash session) at a time; the others wait `queued`,
# still in AT mode, and go on first come first served.
#  1. Three modules plugged at once all pass; the slot timeline never shows two download
#     parts at once, and some module was queued.
#  2. While a slow flash holds the place: a queued module that is unplugged leaves the line
#     (its attempt ends once, disconnected at switch, never switched); a module that arrives
#     already in download mode queues too; a paused slot waits out of line and joins at the
#     end on resume; a queued module aborted over the API ends aborted once. The others are
#     flashed in their order when the place frees.
#  3. A reload that raises max_jobs starts the waiting module at once, beside the running one.
#   max_jobs_rack.sh MKPKG_BIN
. "$(dirname "$0")/lib.sh"
mkpkg=$1
E2E_WAIT_S=90

OP=op-$(openssl rand -hex 12)
pkgs="$E2E_TMP/pkgs"
mkdir -p "$pkgs"
ec200u=$("$mkpkg" --firmware QPY_OCPU_V0001_EC200U_CNAA_FW "$pkgs")
{
  printf '[station]\nid = max-jobs-rack\n[http]\nlisten = 127.0.0.1:0\n[rack]\nrows = 1\ncolumns = 8\n'
  printf '[storage]\ndatabase = @TMP@/flashrack.db\ndata_dir = @TMP@/data\ncache_dir = @TMP@/cache\n'
  printf '[limits]\nmax_jobs = 1\n[flow]\nretries = 0\nreboot_timeout_ms = 20000\n'
  printf '[auth]\ntoken = operator:line1:%s\n' "$OP"
  printf '[recipe ec200u]\npackage = %s\n' "$ec200u"
  for i in $(seq 1 8); do printf '[slot S%d]\nport = 1-2.%d\n' "$i" "$i"; done
} > "$E2E_TMP/max_jobs.conf.in"
e2e_start < "$E2E_TMP/max_jobs.conf.in"

imei() { e2e_imei "$((900 + $1))"; }
at_module() { # at_module SLOT FLASH_RATE [N]: an EC200U (IMEI of N, else of SLOT) in AT mode;
  # its flash takes about size/FLASH_RATE seconds
  rack plug "1-2.$1" quectel-unisoc-at series=EC200U submodel=CNAA "imei=$(imei "${3:-$1}")" \
    download_delay_ms=50 "download_opts=flash_rate:$2/reset_delay_ms:50" >/dev/null
}
slot() { api "/api/v1/slots/S$1"; }
post() { # post PATH: an operator's POST, prints the HTTP status
  curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -X POST \
    -H "Authorization: Bearer $OP" "http://127.0.0.1:$E2E_PORT$1"
}
# The most download parts at once over the whole timeline (flow events in the order they
# happened: ids, not clocks), and how many slots entered one.
overlap() {
  sql "SELECT slot, json_extract(detail, '$.state') FROM slot_events WHERE event = 'flow'
       ORDER BY id" | awk -F'|' '
    { now = ($2 == "switching" || $2 == "waiting_download" || $2 == "flashing")
      if (now && !dl[$1]) { cur++; starts++ }
      if (!now && dl[$1]) cur--
      dl[$1] = now
      if (cur > most) most = cur }
    END { print most + 0, starts + 0 }'
}
attempts() { # attempts SLOT: "result fail_stage fail_code" of each attempt, one line each
  sql "SELECT result || ' ' || coalesce(fail_stage, '') || ' ' || coalesce(fail_code, '')
       FROM attempts WHERE slot = 'S$1' ORDER BY id"
}

# ---- 1. three at once ---------------------------------------------------------------------
for i in 1 2 3; do at_module "$i" 300000; done
wait_for "S1..S3 pass" /api/v1/slots \
  '[.slots[] | select(.flow.state == "pass")] | length == 3'
read -r most starts < <(overlap)
echo "part 1: most download parts at once: $most (of $starts)"
[ "$most" = 1 ] && [ "$starts" = 3 ] ||
  e2e_fail "download parts overlapped: $most at once, $starts started; timeline:
$(sql "SELECT slot, json_extract(detail, '$.state') FROM slot_events WHERE event = 'flow' ORDER BY id")"
queued=$(sql "SELECT count(DISTINCT slot) FROM slot_events WHERE event = 'flow' AND
  json_extract(detail, '$.state') = 'queued'")
echo "part 1: slots that were queued: $queued"
[ "$queued" -ge 1 ] || e2e_fail "no module was queued with max_jobs = 1"
for i in 1 2 3; do
  [ "$(attempts "$i")" = "pass  " ] || e2e_fail "S$i attempts: $(attempts "$i")"
done
# A queued module's timeline: it waited between the guard and the switch.
q=$(sql "SELECT slot FROM slot_events WHERE event = 'flow' AND
  json_extract(detail, '$.state') = 'queued' ORDER BY id LIMIT 1")
steps=$(sql "SELECT group_concat(json_extract(detail, '$.state'), ' ') FROM
  (SELECT detail FROM slot_events WHERE slot = '$q' AND event = 'flow' ORDER BY id)")
[ "$steps" = "identifying queued switching waiting_download flashing rebooting verifying pass" ] ||
  e2e_fail "$q flow events: $steps"

# ---- 2. leaving the line ------------------------------------------------------------------
at_module 4 4000 # about 20 s of flash: holds the one place meanwhile
wait_for "S4 flashes" /api/v1/slots/S4 '.flow.state == "flashing"'
at_module 5 300000
wait_for "S5 queued first" /api/v1/slots/S5 '.flow.state == "queued" and .flow.queue_position == 1'
# Arrives in download mode (boot pin): it needs a place as well.
rack plug 1-2.6 unisoc-dl "unit=EC200U.CNAA.$(imei 6).-" flash_rate=300000 reset_delay_ms=50 >/dev/null
wait_for "S6 queued second" /api/v1/slots/S6 '.flow.state == "queued" and .flow.queue_position == 2'
at_module 7 300000
wait_for "S7 queued third" /api/v1/slots/S7 '.flow.state == "queued" and .flow.queue_position == 3'
# S5 pulled while it waits: out of the line, its try ends as disconnected.
rack unplug 1-2.5 >/dev/null
wait_for "S5 left the line" /api/v1/slots/S5 '.flow.state == "idle" and .flow.code == "disconnected"'
wait_for "S6 moved up" /api/v1/slots/S6 '.flow.queue_position == 1'
# S7 paused: it waits out of line; resumed, it joins at the end (behind S8 that came meanwhile).
[ "$(post /api/v1/slots/S7/pause)" = 200 ] || e2e_fail "pause S7"
wait_for "S7 out of line" /api/v1/slots/S7 \
  '.flow.state == "queued" and .flow.paused and .flow.queue_position == 0'
at_module 8 300000
wait_for "S8 queued behind S6" /api/v1/slots/S8 '.flow.state == "queued" and .flow.queue_position == 2'
[ "$(post /api/v1/slots/S7/resume)" = 200 ] || e2e_fail "resume S7"
wait_for "S7 back in line, last" /api/v1/slots/S7 '.flow.state == "queued" and .flow.queue_position == 3'
# S8 aborted by the operator while it waits.
[ "$(post /api/v1/slots/S8/abort)" = 200 ] || e2e_fail "abort S8"
wait_for "S8 aborted" /api/v1/slots/S8 '.flow.state == "fail" and .flow.code == "aborted"'
wait_for "S7 moved up" /api/v1/slots/S7 '.flow.queue_position == 2'
[ "$(api /api/v1/slots/S4 | jq -r .flow.state)" = flashing ] ||
  e2e_fail "S4 finished before the line was tested: $(api /api/v1/slots/S4 | jq -c .flow)"
wait_for "S4, S6, S7 pass" /api/v1/slots \
  '[.slots[] | select(.label == ("S4", "S6", "S7")) | select(.flow.state == "pass")] | length == 3'

read -r most starts < <(overlap)
echo "part 2: most download parts at once: $most (of $starts)"
[ "$most" = 1 ] && [ "$starts" = 6 ] || e2e_fail "download parts: $most at once, $starts started"
# Each try ended exactly once: one attempt row and one attempt event per module.
expected="S1 1 1
S2 1 1
S3 1 1
S4 1 1
S5 1 1
S6 1 1
S7 1 1
S8 1 1"
got=$(sql "SELECT s, (SELECT count(*) FROM attempts a WHERE a.slot = s),
  (SELECT count(*) FROM slot_events e WHERE e.slot = s AND e.event = 'attempt')
  FROM (SELECT DISTINCT slot AS s FROM slot_events WHERE slot <> '') ORDER BY s" | tr '|' ' ')
[ "$got" = "$expected" ] || e2e_fail "attempts (rows, events) per slot:
$got"
[ "$(attempts 5)" = "fail switch disconnected" ] || e2e_fail "S5 attempt: $(attempts 5)"
[ "$(attempts 8)" = "aborted switch aborted" ] || e2e_fail "S8 attempt: $(attempts 8)"
for i in 4 6 7; do
  [ "$(attempts "$i")" = "pass  " ] || e2e_fail "S$i attempts: $(attempts "$i")"
done
# Neither module that left the line was ever switched to download mode.
grep -q "qdownload=0" <<<"$(rack last-stats 1-2.5)" || e2e_fail "S5 was switched: $(rack last-stats 1-2.5)"
grep -q "qdownload=0" <<<"$(rack stats 1-2.8)" || e2e_fail "S8 was switched: $(rack stats 1-2.8)"
# First come first served: S6 (waiting longer) got the place before S7 (joined again last).
first=$(sql "SELECT slot FROM slot_events WHERE event = 'flow' AND slot IN ('S6', 'S7') AND
  json_extract(detail, '$.state') IN ('switching', 'flashing') ORDER BY id LIMIT 1")
[ "$first" = S6 ] || e2e_fail "S7 started before S6"
steps=$(sql "SELECT group_concat(json_extract(detail, '$.state'), ' ') FROM
  (SELECT detail FROM slot_events WHERE slot = 'S6' AND event = 'flow' ORDER BY id)")
case "$steps" in
  "queued flashing rebooting verifying pass" | "queued waiting_download flashing rebooting verifying pass") ;;
  *) e2e_fail "S6 flow events: $steps" ;;
esac

# ---- 3. max_jobs raised by a reload -------------------------------------------------------
rack unplug 1-2.1 >/dev/null
wait_for "S1 empty" /api/v1/slots/S1 '.flow.state == "idle" and .device == null'
at_module 5 4000 15 # slow again: holds the place
wait_for "S5 flashes" /api/v1/slots/S5 '.flow.state == "flashing"'
at_module 1 300000 11
wait_for "S1 queued" /api/v1/slots/S1 '.flow.state == "queued" and .flow.queue_position == 1'
sed -e "s|@TMP@|$E2E_TMP|g" -e 's/^max_jobs = 1$/max_jobs = 2/' "$E2E_TMP/max_jobs.conf.in" \
  > "$E2E_TMP/flashrack.conf"
rack signal HUP >/dev/null
wait_for "S1 starts beside S5" /api/v1/slots/S1 '.flow.state != "queued"'
[ "$(api /api/v1/slots/S5 | jq -r .flow.state)" = flashing ] ||
  e2e_fail "S5 finished before the reload was tested: $(api /api/v1/slots/S5 | jq -c .flow)"
wait_for "S1 passes" /api/v1/slots/S1 '.flow.state == "pass"'
read -r most starts < <(overlap)
echo "part 3: most download parts at once: $most (of $starts)"
[ "$most" = 2 ] && [ "$starts" = 8 ] || e2e_fail "after the reload: $most at once, $starts started"
e2e_stop # S5's flash is cut by the shutdown
[ "$(attempts 1)" = "pass  
pass  " ] || e2e_fail "S1 attempts: $(attempts 1)"
[ "$(attempts 5)" = "fail switch disconnected
aborted flash aborted" ] || e2e_fail "S5 attempts: $(attempts 5)"
echo "PASS max_jobs_rack"
