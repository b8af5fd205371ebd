#!/usr/bin/env bash
# The daemon hears USB devices (libusb's udev monitor) and ttys (its own udev monitor) on two
# sockets, in no fixed order between them. When a module is pulled and the next one plugged on
# the same port, the new USB device can arrive while the old module's ttys are still listed for
# that port. The soak hit it once in ~2,000 cycles: identify opened the old module's ttyUSB63,
# whose node was gone, and the flow failed "internal ... No such file or directory" before the
# module said its IMEI. Here the rack holds the tty uevents (hold-uevents tty) so that order
# happens every time:
#   1. the stale ttys name nodes that are gone: identify must not fail, it must reach the new
#      module (over USB bulk while its ttys are unknown);
#   2. the stale ttys' numbers were given to another module on another port meanwhile:
#      identify must not talk to that module (it would take its IMEI for this slot's).
#   stale_tty_rack.sh MKPKG_BIN
. "$(dirname "$0")/../e2e/lib.sh"
mkpkg=$1

pkgs="$E2E_TMP/pkgs"
mkdir -p "$pkgs"
ec600n=$("$mkpkg" --firmware QPY_OCPU_V0004_EC600N_CNLF_FW "$pkgs")
{
  printf '[station]\nid = stale-tty\n[http]\nlisten = 127.0.0.1:0\n[rack]\nrows = 1\ncolumns = 1\n'
  printf '[storage]\ndatabase = @TMP@/flashrack.db\ndata_dir = @TMP@/data\ncache_dir = @TMP@/cache\n'
  printf '[flow]\nretries = 0\n'
  # the modules are EC600N CNLA: identified, then refused by the guard (nothing is written)
  printf '[recipe ec600n-cnlf]\npackage = %s\n' "$ec600n"
  printf '[slot S1]\nport = 1-2.1\n' # 1-2.5 is not a slot: its modules are never opened
} > "$E2E_TMP/stale.conf.in"
e2e_start < "$E2E_TMP/stale.conf.in"

module() { # module PORT N: an EC600N in AT mode (ttyUSB on interfaces 2, 3, 4) with IMEI N
  rack plug "$1" quectel-at series=EC600N submodel=CNLA "imei=$(e2e_imei "$2")" >/dev/null
}
slot1() { api /api/v1/slots | jq -c '.slots[] | select(.label == "S1")'; }
ttys1() { slot1 | jq -r '[.ttys[].devnode] | join(" ")'; }
# wait_verdict N: S1 judged module N (its IMEI), or failed before knowing one
wait_verdict() {
  local imei
  imei=$(e2e_imei "$1")
  wait_for "S1 judges module $1" /api/v1/slots \
    ".slots[] | select(.label == \"S1\") | .flow | (.imei == \"$imei\" and .state == \"fail\")
     or (.state == \"fail\" and .imei == \"\")"
  local got
  got=$(slot1 | jq -r '.flow | "\(.state) \(.stage) \(.code) \(.imei)"')
  [ "$got" = "fail guard no_match $imei" ] ||
    e2e_fail "S1 should have identified module $1 ($imei) and refused it: got '$got': $(slot1 | jq -c .flow)"
  echo "S1: $got"
}

module 1-2.5 1 # ttyUSB0-2, on a port that is not a slot
module 1-2.1 2 # ttyUSB3-5
wait_verdict 2
wait_for "S1 lists its 3 ttys" /api/v1/slots '.slots[] | select(.label == "S1") | .ttys | length == 3'
[ "$(ttys1)" = "/dev/ttyUSB3 /dev/ttyUSB4 /dev/ttyUSB5" ] || e2e_fail "S1 ttys: $(ttys1)"

# 1. Pull both modules with the tty uevents held: the daemon still lists ttyUSB3-5 on 1-2.1.
# The next module there gets ttyUSB0-2 (lowest free), so ttyUSB3-5 are gone for good.
rack hold-uevents tty >/dev/null
rack unplug 1-2.1 >/dev/null
rack unplug 1-2.5 >/dev/null
module 1-2.1 3
wait_verdict 3
# the precondition held: the daemon still had the old module's ttys for the port
[ "$(ttys1)" = "/dev/ttyUSB3 /dev/ttyUSB4 /dev/ttyUSB5" ] ||
  e2e_fail "the hold did not keep the stale ttys (S1 lists: $(ttys1))"
reply=$(rack release-uevents)
[ "${reply#*released=}" -gt 0 ] || e2e_fail "nothing was held: $reply"
wait_for "S1 lists the new module's ttys" /api/v1/slots \
  '.slots[] | select(.label == "S1") | [.ttys[].devnode] == ["/dev/ttyUSB0", "/dev/ttyUSB1", "/dev/ttyUSB2"]'

# 2. Pull it with the tty uevents held; a module on 1-2.5 takes ttyUSB0-2, the next one on
# 1-2.1 gets ttyUSB3-5. The daemon's stale ttyUSB0-2 on 1-2.1 now are the 1-2.5 module's.
rack hold-uevents tty >/dev/null
rack unplug 1-2.1 >/dev/null
module 1-2.5 4
module 1-2.1 5
wait_verdict 5
[ "$(ttys1)" = "/dev/ttyUSB0 /dev/ttyUSB1 /dev/ttyUSB2" ] ||
  e2e_fail "the hold did not keep the stale ttys (S1 lists: $(ttys1))"
rack release-uevents >/dev/null
wait_for "S1 lists the new module's ttys" /api/v1/slots \
  '.slots[] | select(.label == "S1") | [.ttys[].devnode] == ["/dev/ttyUSB3", "/dev/ttyUSB4", "/dev/ttyUSB5"]'

# The attempts: one per module on S1, each with its own IMEI, none failed inside the station.
rows=$(sql "SELECT imei || ' ' || fail_stage || ' ' || fail_code FROM attempts ORDER BY id" | tr '\n' ',')
want="$(e2e_imei 2) guard no_match,$(e2e_imei 3) guard no_match,$(e2e_imei 5) guard no_match,"
[ "$rows" = "$want" ] || e2e_fail "attempts: $rows (want $want)"
e2e_stop
echo "PASS stale_tty_rack"
