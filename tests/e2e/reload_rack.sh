#!/usr/bin/env bash
# Issue 9 acceptance: SIGHUP reloads the configuration without disturbing running jobs.
# A module is flashing on S1 (port 1-2.1) when
#   1. an invalid file is sent: rejected with file:line, nothing changes, the flash goes on;
#   2. a new map is sent: S1 moves to 1-2.3, a new slot N1 takes 1-2.1, S2 goes away, and a
#      recipe for another model is added. The flash on S1 completes on its old port (same
#      attempt); the loopback device on S2 becomes ignored; once the flashed module is
#      removed, S1 takes 1-2.3 (where an ignored device was waiting: it attaches), and the
#      next module on 1-2.1 shows up on N1 and is flashed with the recipe the reload added.
#   reload_rack.sh MKPKG_BIN
. "$(dirname "$0")/lib.sh"
mkpkg=$1
E2E_WAIT_S=120 # the slow flash, under ASan on a busy machine

pkgs="$E2E_TMP/pkgs"
mkdir -p "$pkgs"
ec200u=$("$mkpkg" --firmware QPY_OCPU_V0001_EC200U_CNAA_FW "$pkgs")
ec600u=$("$mkpkg" --firmware QPY_OCPU_BETA0002_EC600U_CNLB_FW "$pkgs")

common() {
  printf '[station]\nid = reload-rack\n[http]\nlisten = 127.0.0.1:0\n[rack]\nrows = 2\ncolumns = 4\n'
  printf '[storage]\ndatabase = @TMP@/flashrack.db\ndata_dir = @TMP@/data\ncache_dir = @TMP@/cache\n'
  printf '[flow]\nretries = 0\nreboot_timeout_ms = 20000\n'
  printf '[recipe ec200u]\npackage = %s\n' "$ec200u"
}
{
  common
  printf '[slot S1]\nport = 1-2.1\n[slot S2]\nport = 1-2.2\n'
} > "$E2E_TMP/v1.conf"
e2e_start < "$E2E_TMP/v1.conf"
conf="$E2E_TMP/flashrack.conf"

slot_field() { api "/api/v1/slots/$1" | jq -r "$2"; }
events_config() { sql "SELECT count(*) FROM slot_events WHERE event = 'config'"; }

# Not modules: a loopback device on S2's port, another on the unmapped port 1-2.3.
rack plug 1-2.2 loopback-usb >/dev/null
rack plug 1-2.3 loopback-usb >/dev/null
wait_for "S2 holds the loopback device" /api/v1/slots/S2 '.device.port_path == "1-2.2"'
wait_for "1-2.3 ignored" /api/v1/ports/ignored '[.devices[] | select(.port_path == "1-2.3")] | length == 1'

# A slow flash (the download model takes its chunks at 10 kB/s: about 6 s for the package).
rack plug 1-2.1 quectel-unisoc-at series=EC200U submodel=CNAA "imei=$(e2e_imei 901)" \
  download_opts=flash_rate:10000 >/dev/null
wait_for "S1 flashing" /api/v1/slots/S1 '.flow.state == "flashing"'
attempt=$(slot_field S1 .flow.attempt_id)

# 1. An invalid file: rejected, named by file and line, nothing changes.
cp "$E2E_TMP/v1.conf" "$E2E_TMP/v1.saved"
sed -e "s|@TMP@|$E2E_TMP|g" "$E2E_TMP/v1.conf" > "$conf"
printf '[slot S9]\nport = 1-2.9\nspeed = fast\n' >> "$conf"
bad_line=$(grep -n '^speed' "$conf" | cut -d: -f1)
rack signal HUP >/dev/null
deadline=$((SECONDS + 30))
until grep -q "reload (SIGHUP): .*flashrack.conf:$bad_line: unknown key 'speed' in section \[slot S9\]; the running configuration is kept" "$E2E_TMP/daemon.log"; do
  [ $SECONDS -lt $deadline ] || e2e_fail "no rejection naming flashrack.conf:$bad_line in the log"
  sleep 0.1
done
[ "$(api /api/v1/slots | jq -r '[.slots[].label] | join(",")')" = "S1,S2" ] ||
  e2e_fail "slots changed by a rejected reload: $(api /api/v1/slots | jq -c '[.slots[].label]')"
[ "$(sql "SELECT json_extract(detail, '$.result') FROM audit_log WHERE action = 'config.reload' AND actor = 'SIGHUP'")" = rejected ] ||
  e2e_fail "rejected reload not in the audit log: $(sql "SELECT * FROM audit_log")"
state=$(slot_field S1 .flow.state)
[ "$state" = flashing ] || e2e_fail "S1 left flashing after a rejected reload: $state"

# 2. The new map and a new recipe, while S1 still flashes.
{
  common
  printf '[recipe ec600u]\npackage = %s\n' "$ec600u"
  printf '[slot N1]\nport = 1-2.1\n[slot S1]\nport = 1-2.3\n'
} | sed -e "s|@TMP@|$E2E_TMP|g" > "$conf"
rack signal HUP >/dev/null
wait_for "reload applied: N1 listed" /api/v1/slots '[.slots[].label] | join(",") == "N1,S1"'
[ "$(events_config)" = 2 ] || e2e_fail "config events: $(sql "SELECT detail FROM slot_events WHERE event = 'config'")"
deferred=$(sql "SELECT json_extract(detail, '$.deferred') FROM slot_events WHERE event = 'config' ORDER BY id DESC LIMIT 1")
[ "$deferred" = '["S1"]' ] || e2e_fail "S1 not deferred: $deferred"
# S1 keeps its old port and its attempt until its module is gone; S2's device is ignored now.
got=$(api /api/v1/slots/S1 | jq -r '"\(.port) \(.flow.attempt_id)"')
[ "$got" = "1-2.1 $attempt" ] || e2e_fail "S1 during its flash: $got (attempt $attempt)"
wait_for "S2's device ignored" /api/v1/ports/ignored '[.devices[] | select(.port_path == "1-2.2")] | length == 1'
[ "$(slot_field N1 .device)" = null ] || e2e_fail "N1 took S1's module"

wait_for "S1 passes" /api/v1/slots/S1 '.flow.state == "pass"'
# The reload was applied while the flash ran, not after it.
order=$(grep -n -e "reload (SIGHUP): applied" -e "slot S1 \[1-2.1\]: unisoc: done" "$E2E_TMP/daemon.log" | cut -d: -f2- | cut -c1-30)
[ "$(head -1 <<<"$order")" = "<5>reload (SIGHUP): applied /t" ] ||
  e2e_fail "the flash ended before the reload was applied: $order"
[ "$(sql "SELECT count(*) || ' ' || min(result) || ' ' || min(slot) || ' ' || min(usb_path) FROM attempts")" = "1 pass S1 1-2.1" ] ||
  e2e_fail "attempts: $(sql "SELECT id, slot, usb_path, result FROM attempts")"

# The module is removed: S1 takes its new port, the waiting loopback device joins it.
rack unplug 1-2.1 >/dev/null
wait_for "S1 on 1-2.3 with the loopback device" /api/v1/slots/S1 '.port == "1-2.3" and .device.port_path == "1-2.3"'

# The next module on 1-2.1 is N1's, and the recipe the reload added flashes it.
rack plug 1-2.1 quectel-unisoc-at series=EC600U submodel=CNLB "imei=$(e2e_imei 902)" >/dev/null
wait_for "N1 passes" /api/v1/slots/N1 '.flow.state == "pass"'
got=$(api /api/v1/slots/N1 | jq -r '"\(.flow.recipe) \(.flow.version)"')
[ "$got" = "ec600u BETA0002" ] || e2e_fail "N1 flashed with: $got"

# SIGTERM is unchanged: a flash running on a slot frozen by a reload ends as aborted and
# the daemon exits cleanly (the reload's timer closes with everything else).
rack unplug 1-2.1 >/dev/null
rack plug 1-2.1 quectel-unisoc-at series=EC600U submodel=CNLB "imei=$(e2e_imei 903)" \
  download_opts=flash_rate:5000 >/dev/null
wait_for "N1 flashing again" /api/v1/slots/N1 '.flow.state == "flashing"'
sed -i -e 's|^port = 1-2.1$|port = 1-2.4|' "$conf" # N1 moves while busy: it is frozen
rack signal HUP >/dev/null
wait_for "third reload applied" /api/v1/slots/N1 '.port == "1-2.1"'
deadline=$((SECONDS + 30))
until [ "$(events_config)" = 3 ]; do
  [ $SECONDS -lt $deadline ] || e2e_fail "third reload not recorded"
  sleep 0.1
done
e2e_stop

rows=$(sql "SELECT slot, usb_path, result, package_version FROM attempts ORDER BY id")
expected="S1|1-2.1|pass|V0001
N1|1-2.1|pass|BETA0002
N1|1-2.1|aborted|BETA0002"
[ "$rows" = "$expected" ] || e2e_fail "attempt rows:
$rows
expected:
$expected"
# The timeline: S2's device left the slot because of the reload, then S1 attached the other.
[ "$(sql "SELECT count(*) FROM slot_events WHERE slot = 'S2' AND event = 'detach' AND json_extract(detail, '$.reason') = 'config reload'")" = 1 ] ||
  e2e_fail "S2 detach not recorded: $(sql "SELECT slot, event, detail FROM slot_events WHERE slot = 'S2'")"
applied=$(sql "SELECT json_extract(detail, '$.added') || ' ' || json_extract(detail, '$.removed') FROM audit_log WHERE action = 'config.reload' AND json_extract(detail, '$.result') = 'applied' ORDER BY id LIMIT 1")
[ "$applied" = '["N1"] ["S2"]' ] || e2e_fail "applied reload audit: $applied"
echo "PASS reload_rack"
