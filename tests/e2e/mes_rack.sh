#!/usr/bin/env bash
# Issue 7 MES test: no attempt record is ever lost on its way to the MES.
#
# Modules are flashed on the virtual rack (Unisoc modules plugged in download mode, one
# recipe) while the real daemon pushes each finished attempt to a local receiver
# (mes_receiver.py) that answers 500 to half its requests and 409 to keys it has already,
# and that is down (process killed: connection refused) for MES_OUTAGE_S seconds. The daemon
# is killed with SIGKILL twice while modules flash and records are in flight, and restarted
# each time: first while the receiver holds back the answer to a record it has stored (so the
# record must be sent again, and is answered 409), then during the outage. At the end every attempt row in the database
# reached the receiver and was accepted, every request carried the body of the attempt its
# Idempotency-Key names (so duplicates only ever repeat a key), and the outbox is empty.
#
# The issue's full run is 200 modules and a one-minute outage; CI runs a smaller one. By hand:
#   MES_MODULES=200 MES_OUTAGE_S=60 ctest -R e2e_mes_rack --output-on-failure
#   mes_rack.sh MKPKG_BIN FLASHRACK_CLI_BIN
. "$(dirname "$0")/lib.sh"
mkpkg=$1 cli=$2
MODULES=${MES_MODULES:-40}
OUTAGE_S=${MES_OUTAGE_S:-10}
SLOTS=${MES_SLOTS:-8}
DEADLINE_S=${MES_DEADLINE_S:-$((120 + MODULES * 6 + OUTAGE_S))}
TOKEN=mes-e2e-token-0123456789

rx_start() { # the receiver on port $1 (0 = any)
  e2e_rx_start mes_receiver.py --port "$1" --token "$TOKEN" --fail-ratio 0.5 --seed 7 \
    --hold-file "$E2E_TMP/rx.hold"
}

"$mkpkg" "$E2E_TMP/pkgs" >/dev/null
pkg="$(ls "$E2E_TMP"/pkgs/unisoc-temporary/*.zip)"
json=$("$cli" inspect --json "$pkg") || e2e_fail "inspect $pkg"
series_sub=$(jq -r '"\(.series).\(.submodel)"' <<<"$json")

rx_start 0
{
  printf '[station]\nid = mes-rack\n[http]\nlisten = 127.0.0.1:0\n'
  printf '[storage]\ndatabase = @TMP@/flashrack.db\ndata_dir = @TMP@/data\ncache_dir = @TMP@/cache\n'
  printf '[recipe ec600u]\npackage = %s\n' "$pkg"
  printf '[flow]\nretries = 0\nreboot_timeout_ms = 10000\n[limits]\nno_progress_timeout_ms = 5000\n'
  printf '[mes]\nurl = http://127.0.0.1:%s/records\ntoken = %s\ntimeout_ms = 3000\n' "$RX_PORT" "$TOKEN"
  printf 'max_in_flight = 4\nbackoff_min_ms = 200\nbackoff_max_ms = 2000\n'
  for i in $(seq 1 "$SLOTS"); do printf '[slot S%d]\nport = 1-1.%d\n' "$i" "$i"; done
} > "$E2E_TMP/mes.conf.in"
e2e_start < "$E2E_TMP/mes.conf.in"

# After a restart the daemon listens on a new port: take the latest one from its log.
refresh_port() {
  E2E_PORT=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$E2E_TMP/daemon.log" | tail -1 | sed 's/.*://')
}
kill_daemon() {
  echo "SIGKILL the daemon ($1)"
  rack signal KILL >/dev/null
  rack wait-exit 20000 >/dev/null
  rack restart >/dev/null
  rack wait-ready 30000 >/dev/null
  refresh_port
}

# The driver: keep every slot busy. A slot is done with its module when its flow reaches a
# verdict for a new attempt; then the module is pulled and the next one goes in.
plugged=0 kills=0 outage_from=0 outage_done=0
declare -A busy last_attempt
for i in $(seq 1 "$SLOTS"); do last_attempt[$i]=none; done
plug_next() {
  plugged=$((plugged + 1))
  rack plug "1-1.$1" unisoc-dl "unit=$series_sub.$(e2e_imei $((700 + plugged))).-" >/dev/null
  busy[$1]=1
}
for i in $(seq 1 "$SLOTS"); do [ $plugged -lt "$MODULES" ] && plug_next "$i"; done
deadline=$((SECONDS + DEADLINE_S))
while :; do
  [ $SECONDS -lt $deadline ] || e2e_fail "modules still flashing after ${DEADLINE_S}s ($plugged plugged)"
  # Disturbances, at fixed points of the run.
  if [ $kills -eq 0 ] && [ $plugged -ge $((MODULES / 4)) ]; then
    # Killed while the receiver holds back the answer to a record it stored: the record
    # stays pending and is sent again after the restart (the MES answers 409).
    seen=$(wc -l < "$E2E_TMP/rx.log" 2>/dev/null || echo 0)
    touch "$E2E_TMP/rx.hold"
    hold_deadline=$((SECONDS + 60))
    until tail -n +$((seen + 1)) "$E2E_TMP/rx.log" 2>/dev/null | grep -q '"status": 201'; do
      [ $SECONDS -lt $hold_deadline ] || e2e_fail "no record reached the receiver in 60 s"
      sleep 0.05
    done
    kill_daemon "1 of 2, MES up, an answer held back"
    rm -f "$E2E_TMP/rx.hold"
    kills=1
  fi
  if [ $outage_from -eq 0 ] && [ $plugged -ge $((MODULES * 2 / 5)) ]; then
    echo "MES down for ${OUTAGE_S}s"
    e2e_rx_stop
    outage_from=$SECONDS
  fi
  if [ $kills -eq 1 ] && [ $outage_from -gt 0 ] && [ $outage_done -eq 0 ] &&
    [ $SECONDS -ge $((outage_from + OUTAGE_S / 2)) ]; then
    kill_daemon "2 of 2, during the MES outage"
    kills=2
  fi
  if [ $outage_from -gt 0 ] && [ $outage_done -eq 0 ] && [ $SECONDS -ge $((outage_from + OUTAGE_S)) ]; then
    echo "MES back"
    rx_start "$RX_PORT"
    outage_done=1
  fi
  slots=$(api /api/v1/slots 2>/dev/null) || { sleep 0.2; continue; }
  active=0
  for i in $(seq 1 "$SLOTS"); do
    [ "${busy[$i]:-0}" = 1 ] || continue
    active=$((active + 1))
    read -r state attempt < <(jq -r ".slots[] | select(.label == \"S$i\") | \"\(.flow.state) \(.flow.attempt_id)\"" <<<"$slots")
    case "$state" in pass | fail) ;; *) continue ;; esac
    [ "$attempt" != "${last_attempt[$i]}" ] || continue
    last_attempt[$i]=$attempt
    rack unplug "1-1.$i" >/dev/null
    busy[$i]=0
    active=$((active - 1))
    if [ $plugged -lt "$MODULES" ]; then
      plug_next "$i"
      active=$((active + 1))
    fi
  done
  if [ $active -eq 0 ] && [ $plugged -ge "$MODULES" ] && [ $kills -eq 2 ] && [ $outage_done -eq 1 ]; then
    break
  fi
  sleep 0.2
done
echo "$plugged modules flashed; waiting for the outbox to drain"
drain_deadline=$((SECONDS + 60))
until [ "$(sql "SELECT count(*) FROM mes_outbox WHERE state <> 'delivered'")" = 0 ]; do
  [ $SECONDS -lt $drain_deadline ] || e2e_fail "outbox not drained: $(sql "SELECT attempt_id, tries, last_error FROM mes_outbox WHERE state <> 'delivered'")"
  sleep 0.2
done
e2e_stop
e2e_rx_stop

# ---- the verdict ----
attempts=$(sql "SELECT count(*) FROM attempts")
running=$(sql "SELECT count(*) FROM attempts WHERE result = 'running'")
[ "$running" = 0 ] || e2e_fail "$running attempts still running after a clean stop"
[ "$attempts" -ge "$MODULES" ] || e2e_fail "$attempts attempts for $MODULES modules"
bad=$(jq -c 'select(.why != "")' "$E2E_TMP/rx.log")
[ -z "$bad" ] || e2e_fail "the receiver refused requests: $bad"
# The record whose answer the first SIGKILL cut off was sent again and recognised.
[ "$(jq -r 'select(.status == 409) | .key' "$E2E_TMP/rx.log" | wc -l)" -ge 1 ] ||
  e2e_fail "no record was sent again after the SIGKILL that cut off its answer"
sql "SELECT attempt_uuid FROM attempts ORDER BY 1" > "$E2E_TMP/db.uuids"
jq -r 'select(.status >= 200 and .status < 300) | .key' "$E2E_TMP/rx.log" | sort > "$E2E_TMP/rx.accepted"
# Accepted exactly once each (the receiver answers 409 to a repeat), and exactly the rows.
dups=$(uniq -d "$E2E_TMP/rx.accepted")
[ -z "$dups" ] || e2e_fail "accepted twice: $dups"
missing=$(comm -23 "$E2E_TMP/db.uuids" "$E2E_TMP/rx.accepted")
[ -z "$missing" ] || e2e_fail "records that never reached the MES: $missing"
extra=$(comm -13 "$E2E_TMP/db.uuids" "$E2E_TMP/rx.accepted")
[ -z "$extra" ] || e2e_fail "the MES accepted keys that are no attempt: $extra"
[ "$(sql "SELECT count(*) FROM attempts WHERE mes_state <> 'delivered'")" = 0 ] ||
  e2e_fail "attempts not marked delivered: $(sql "SELECT id, mes_state FROM attempts WHERE mes_state <> 'delivered'")"
# The SIGKILLs left attempts running; the restarts recorded them as aborted and pushed those too.
aborted=$(sql "SELECT count(*) FROM attempts WHERE result = 'aborted'")

# ---- figures ----
requests=$(wc -l < "$E2E_TMP/rx.log")
st() { jq -r "select(.status == $1) | .key" "$E2E_TMP/rx.log" | wc -l; }
sql "SELECT attempt_uuid || ' ' || ended_unix_ms FROM attempts" | sort > "$E2E_TMP/db.ended"
jq -r 'select(.status >= 200 and .status < 300) | "\(.key) \(.t_ms)"' "$E2E_TMP/rx.log" | sort > "$E2E_TMP/rx.t"
latency=$(join "$E2E_TMP/db.ended" "$E2E_TMP/rx.t" | awk '{print $3 - $2}' | sort -n |
  awk '{a[NR] = $1} END {printf "p50 %d ms, p95 %d ms, max %d ms", a[int((NR + 1) / 2)], a[int((NR * 95 + 99) / 100)], a[NR]}')
tries=$(sql "SELECT sum(tries), max(tries), sum(tries = 1) FROM mes_outbox")
echo "figures: modules $MODULES, attempts $attempts ($aborted aborted by the kills), outage ${OUTAGE_S}s"
echo "figures: receiver requests $requests: 201 $(st 201), 500 $(st 500), 409 $(st 409)"
echo "figures: outbox tries sum|max|first-try deliveries: $tries"
first=$(sql "SELECT delivered_unix_ms - queued_unix_ms FROM mes_outbox WHERE tries = 1" | sort -n |
  awk '{a[NR] = $1} END {if (NR) printf "p50 %d ms, max %d ms (%d records)", a[int((NR + 1) / 2)], a[NR], NR}')
echo "figures: delivery latency (attempt end -> accepted), all records: $latency"
echo "figures: delivery latency of records accepted at the first try: $first"
echo "PASS mes_rack"
