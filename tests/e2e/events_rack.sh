#!/usr/bin/env bash
# Live events (docs/http.md "Live events") against the real daemon on the virtual rack, read
# with `curl -N`: events arrive as modules are plugged and flashed (attach, flow steps, the
# attempt's verdict, coalesced slot snapshots with progress); a stream cut in the middle and
# resumed with Last-Event-ID loses nothing and repeats nothing; a stream resumes across a
# daemon restart from the database; a bad id gets `event: reset`. Prints the plug -> attach
# latency and how many events per second one stream takes in.
#   events_rack.sh MKPKG_BIN
. "$(dirname "$0")/lib.sh"
mkpkg=$1
E2E_WAIT_S=90

pkgs="$E2E_TMP/pkgs"
mkdir -p "$pkgs"
ec200u=$("$mkpkg" --firmware QPY_OCPU_V0001_EC200U_CNAA_FW "$pkgs")
{
  printf '[station]\nid = events-rack\n[http]\nlisten = 127.0.0.1:0\n[rack]\nrows = 1\ncolumns = 3\n'
  printf '[storage]\ndatabase = @TMP@/flashrack.db\ndata_dir = @TMP@/data\ncache_dir = @TMP@/cache\n'
  printf '[recipe ec200u]\npackage = %s\n' "$ec200u"
  for i in 1 2 3; do printf '[slot S%d]\nport = 1-2.%d\n' "$i" "$i"; done
} > "$E2E_TMP/events.conf.in"
e2e_start < "$E2E_TMP/events.conf.in"

refresh_port() {
  E2E_PORT=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$E2E_TMP/daemon.log" | tail -1 | sed 's/.*://')
}

# On a failure the streams stay for a look, next to the daemon log.
fail() {
  mkdir -p "$FLASHRACK_BUILD_DIR/e2e-logs/events_rack"
  cp "$E2E_TMP"/[A-Z] "$FLASHRACK_BUILD_DIR/e2e-logs/events_rack/" 2>/dev/null || true
  e2e_fail "$* (streams in $FLASHRACK_BUILD_DIR/e2e-logs/events_rack)"
}

# stream NAME [Last-Event-ID]: curl -N into $E2E_TMP/NAME in the background; its pid in
# STREAM_PID.
stream() {
  local args=(-sS -N --max-time 600 -o "$E2E_TMP/$1")
  [ $# -ge 2 ] && args+=(-H "Last-Event-ID: $2")
  curl "${args[@]}" "http://127.0.0.1:$E2E_PORT/api/v1/events/stream" 2>"$E2E_TMP/$1.err" &
  STREAM_PID=$!
}
stop_stream() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
# ids NAME: ids of the timeline events of a stream, in order (not sync / reset / slot)
ids() {
  awk 'BEGIN { RS = ""; FS = "\n" }
       { id = ""; ev = ""
         for (i = 1; i <= NF; i++) {
           if ($i ~ /^id: /) id = substr($i, 5)
           if ($i ~ /^event: /) ev = substr($i, 8)
         }
         if (id != "" && ev != "sync" && ev != "reset") print id }' "$E2E_TMP/$1"
}
# data NAME EVENT: the data of every event EVENT of a stream, one JSON per line
data() {
  awk -v want="$2" 'BEGIN { RS = ""; FS = "\n" }
       { ev = ""; d = ""
         for (i = 1; i <= NF; i++) {
           if ($i ~ /^event: /) ev = substr($i, 8)
           if ($i ~ /^data: /) d = substr($i, 7)
         }
         if (ev == want) print d }' "$E2E_TMP/$1"
}
# wait_stream DESCRIPTION NAME EVENT JQ_FILTER: until an event EVENT of the stream matches
wait_stream() {
  local deadline=$((SECONDS + E2E_WAIT_S))
  while [ $SECONDS -lt $deadline ]; do
    # (not jq -e: jq 1.6 fails it when the last input selects nothing)
    [ -n "$(data "$2" "$3" | jq -c "select($4)" 2>/dev/null | head -1)" ] && return 0
    sleep 0.02
  done
  fail "stream $2: timed out waiting for $1"
}
sync_id() { # sync_id NAME: the id of the stream's sync event
  data "$1" sync | head -1 | jq -r .head
}
db_ids() { # db_ids AFTER UPTO
  sql "SELECT id FROM slot_events WHERE id > $1 AND id <= $2 ORDER BY id"
}

# ---- live ---------------------------------------------------------------------------------
stream A
pid_a=$STREAM_PID
wait_stream "the first sync" A sync 'true'
head_a=$(sync_id A)
[ "$(data A slot | jq -r .label | sort | tr '\n' ' ')" = "S1 S2 S3 " ] ||
  fail "the start of a stream has every slot: $(data A slot | jq -c .label)"
grep -qi '^Content-Type: text/event-stream' < <(curl -sS -m 1 -D - -o /dev/null \
  "http://127.0.0.1:$E2E_PORT/api/v1/events/stream" 2>/dev/null || true) ||
  fail "no text/event-stream"
stream B
pid_b=$STREAM_PID
wait_stream "B's sync" B sync 'true'

t0=$(date +%s%3N)
rack plug 1-2.1 quectel-unisoc-at series=EC200U submodel=CNAA "imei=$(e2e_imei 801)" >/dev/null
wait_stream "S1 attached" A attach '.slot == "S1"'
t1=$(date +%s%3N)
ts=$(data A attach | jq -r 'select(.slot == "S1") | .ts_unix_ms' | head -1)
echo "latency plug -> attach event: $((t1 - t0)) ms (rack plug reply included);" \
  "row written -> seen by curl: $((t1 - ts)) ms (20 ms polling included)"
wait_stream "S1 flashing with progress" A slot '.label == "S1" and .flow.state == "flashing" and .flow.progress.done > 0'
wait_stream "S1's verdict" A attempt '.slot == "S1" and .detail.result == "pass"'
wait_stream "S1 pass" A flow '.slot == "S1" and .detail.state == "pass"'
flashing=$(data A slot | jq -c 'select(.label == "S1" and .flow.state == "flashing")' | wc -l)
echo "S1 snapshots while flashing: $flashing"
# Progress snapshots never carry an id: they are not replayed.
awk 'BEGIN { RS = "" } /event: slot/ && /id: / { bad = 1 } END { exit bad }' "$E2E_TMP/A" ||
  fail "a slot snapshot carries an id"

# B is cut here; S2 and S3 happen while it is away.
stop_stream "$pid_b"
last_b=$(ids B | tail -1)
[ -n "$last_b" ] || fail "B saw no event"
rack plug 1-2.2 quectel-unisoc-at series=EC200U submodel=CNAA "imei=$(e2e_imei 802)" >/dev/null
rack plug 1-2.3 quectel-unisoc-at series=EC200U submodel=CNAA "imei=$(e2e_imei 803)" >/dev/null
wait_stream "S2's verdict" A attempt '.slot == "S2"'
wait_stream "S3's verdict" A attempt '.slot == "S3"'
stream C "$last_b"
pid_c=$STREAM_PID
wait_stream "C's sync" C sync 'true'
stop_stream "$pid_c"
last_c=$(ids C | tail -1) # C may have gone on live after its sync
want=$(db_ids "$head_a" "$last_c")
[ "$(ids A | awk -v m="$last_c" '$1 <= m')" = "$want" ] || fail "A is not the timeline"
[ "$( (ids B; ids C) | tr '\n' ' ')" = "$(echo $want) " ] ||
  fail "B cut at $last_b + C resumed: $( (ids B; ids C) | tr '\n' ' ') want $(echo $want)"
[ "$(data C sync | jq .replayed)" = "$(ids C | awk -v m="$(sync_id C)" '$1 <= m' | wc -l)" ] ||
  fail "C's replayed count"
echo "resume: B saw $(ids B | wc -l), C replayed $(ids C | wc -l), none lost or repeated"

# A bad id: reset, then a fresh start.
stream R "not-a-number"
pid_r=$STREAM_PID
wait_stream "R's sync" R sync 'true'
stop_stream "$pid_r"
[ "$(data R reset | jq -r .reason)" = bad_id ] || fail "bad id: $(cat "$E2E_TMP/R")"

# ---- throughput: rows written behind the daemon's back reach the stream by the tick -------
stream T
pid_t=$STREAM_PID
wait_stream "T's sync" T sync 'true'
n=20000
t0=$(date +%s%3N)
sql "INSERT INTO slot_events (ts_unix_ms, slot, event, detail)
     WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < $n)
     SELECT 1700000000000 + i, 'S1', 'bench', '{\"i\":' || i || '}' FROM k"
last=$(sql "SELECT max(id) FROM slot_events")
deadline=$((SECONDS + E2E_WAIT_S))
until grep -q "^id: $last\$" "$E2E_TMP/T"; do
  [ $SECONDS -lt $deadline ] || fail "T did not get to event $last"
  sleep 0.01
done
t1=$(date +%s%3N)
echo "one stream: $n events in $((t1 - t0)) ms ($((n * 1000 / (t1 - t0 + 1))) events/s, insert included)"
stop_stream "$pid_t"
[ "$(ids T | wc -l)" = "$n" ] || fail "T got $(ids T | wc -l) of $n events"
wait_stream "A caught up too" A bench ".detail.i == $n"

# ---- a restart: A ends, and resumes from the database ---------------------------------------
last_a=$(ids A | tail -1)
rack signal TERM >/dev/null
rack wait-exit 30000 >/dev/null
deadline=$((SECONDS + 30))
while kill -0 "$pid_a" 2>/dev/null; do
  [ $SECONDS -lt $deadline ] || fail "stream A did not end with the daemon"
  sleep 0.1
done
wait "$pid_a" 2>/dev/null || true
last_a=$(ids A | tail -1)
rack restart >/dev/null
rack wait-ready 30000 >/dev/null
refresh_port
# The modules still plugged attach again after the restart: events the client missed.
stream D "$last_a"
pid_d=$STREAM_PID
wait_stream "D's sync" D sync 'true'
stop_stream "$pid_d"
want=$(db_ids "$last_a" "$(ids D | tail -1)")
[ -n "$want" ] || fail "nothing happened across the restart"
[ "$(ids D)" = "$want" ] || fail "D after the restart: $(ids D | tr '\n' ' ') want $(echo $want)"
echo "restart: D resumed after $last_a with $(ids D | wc -l) events ($(data D attach | wc -l) attach)"
e2e_stop
echo "events_rack: ok"
