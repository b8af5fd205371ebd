#!/usr/bin/env bash
# Foundation acceptance: the real daemon under the virtual rack; 8 mapped ports and 1 unmapped
# port plugged, one unplugged and replugged. Checked through HTTP and in the database.
. "$(dirname "$0")/lib.sh"

config() {
  cat <<CONF
[station]
id = e2e-station
log_level = debug
[http]
listen = 127.0.0.1:0
[storage]
database = @TMP@/flashrack.db
data_dir = @TMP@/data
cache_dir = @TMP@/cache
[rack]
rows = 2
columns = 4
CONF
  for i in 1 2 3 4 5 6 7 8; do
    printf '[slot S%d]\nport = 1-1.%d\n' "$i" "$i"
  done
}
e2e_start < <(config)

for i in 1 2 3 4 5 6 7 8; do rack plug "1-1.$i" quectel-at >/dev/null; done
rack plug 1-1.9 quectel-at >/dev/null   # no slot maps 1-1.9

wait_for "8 slots attached with their 3 ttys each" /api/v1/slots \
  '[.slots[] | select(.state == "attached" and (.ttys | length) == 3)] | length == 8'
wait_for "unmapped port shown as ignored" /api/v1/ports/ignored \
  '[.devices[] | select(.port_path == "1-1.9")] | length == 1'

slots=$(api /api/v1/slots)
for i in 1 2 3 4 5 6 7 8; do
  got=$(jq -r ".slots[] | select(.label == \"S$i\") | \"\(.port) \(.device.port_path) \(.device.vid):\(.device.pid) \([.ttys[].interface] | join(\",\"))\"" <<<"$slots")
  [ "$got" = "1-1.$i 1-1.$i 2c7c:6001 2,3,4" ] || e2e_fail "slot S$i: $got"
done
[ "$(jq '[.slots[].device.port_path] | index("1-1.9")' <<<"$slots")" = "null" ] \
  || e2e_fail "unmapped port appears in a slot"
# The ignored device was never opened by the daemon (the rack counts usbfs opens).
opened=$(rack stats 1-1.9)
case "$opened" in *"opens=0"*) ;; *) e2e_fail "ignored device was opened: $opened" ;; esac

rack unplug 1-1.3 >/dev/null
wait_for "S3 empty after unplug" /api/v1/slots/S3 '.state == "empty" and .device == null'
rack plug 1-1.3 quectel-at >/dev/null
wait_for "S3 attached again" /api/v1/slots/S3 '.state == "attached" and .attach_count == 2'

station=$(api /api/v1/station)
[ "$(jq -r .station_id <<<"$station")" = e2e-station ] || e2e_fail "station: $station"
[ "$(jq .counts.ignored <<<"$station")" = 1 ] || e2e_fail "ignored count: $station"

e2e_stop

# The timeline in the database: every event carries the right slot label.
attach=$(sql "SELECT slot || '@' || usb_path FROM slot_events WHERE event='attach' ORDER BY id")
expected=$(printf 'S%d@1-1.%d\n' 1 1 2 2 3 3 4 4 5 5 6 6 7 7 8 8; echo 'S3@1-1.3')
[ "$(sort <<<"$attach")" = "$(sort <<<"$expected")" ] || e2e_fail "attach events: $attach"
[ "$(sql "SELECT slot || '@' || usb_path FROM slot_events WHERE event='detach'")" = "S3@1-1.3" ] \
  || e2e_fail "detach events wrong"
[ "$(sql "SELECT count(*) FROM slot_events WHERE event='ignored' AND slot='' AND usb_path='1-1.9'")" = 1 ] \
  || e2e_fail "ignored event missing"
[ "$(sql "SELECT count(*) FROM slot_events WHERE usb_path='1-1.9' AND slot<>''")" = 0 ] \
  || e2e_fail "unmapped port got a slot label"
[ "$(sql "SELECT count(*) FROM slot_events WHERE event='ports' AND slot='S3'")" -ge 2 ] \
  || e2e_fail "tty resolution events missing for S3"
echo "PASS rack_slots"
