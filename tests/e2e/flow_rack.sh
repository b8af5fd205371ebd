#!/usr/bin/env bash
# Issue 6 rack test: the production flow end to end. Modules of mixed models are plugged in
# AT (normal) mode; the real daemon identifies each, picks the recipe that fits its ordering
# code, switches it with AT+QDOWNLOAD=1, flashes it when its download port appears on the
# same physical port, waits for the reboot and verifies the revision before calling it a pass.
# A module no recipe fits is refused and never switched; an unplug mid-flash fails as
# disconnected and the replugged module is attempt 2; a module that never comes back after
# its reboot fails at the verify stage; a transient failure is retried as its own attempt.
#   flow_rack.sh MKPKG_BIN
. "$(dirname "$0")/lib.sh"
mkpkg=$1
E2E_WAIT_S=90 # silent devices take their timeouts, twice

pkgs="$E2E_TMP/pkgs"
mkdir -p "$pkgs"
ec200u=$("$mkpkg" --firmware QPY_OCPU_V0001_EC200U_CNAA_FW "$pkgs")
ec600u=$("$mkpkg" --firmware QPY_OCPU_BETA0002_EC600U_CNLB_FW "$pkgs")
ec600n=$("$mkpkg" --firmware QPY_OCPU_V0004_EC600N_CNLF_FW "$pkgs")
ec800m=$("$mkpkg" --firmware QPY_OCPU_V0005_EC800M_CNLE_FW "$pkgs") # ASR Crane

{
  printf '[station]\nid = flow-rack\n[http]\nlisten = 127.0.0.1:0\n[rack]\nrows = 3\ncolumns = 3\n'
  printf '[storage]\ndatabase = @TMP@/flashrack.db\ndata_dir = @TMP@/data\ncache_dir = @TMP@/cache\n'
  printf '[flow]\nretries = 1\nretry_delay_ms = 500\nreboot_timeout_ms = 4000\n'
  printf '[limits]\nno_progress_timeout_ms = 4000\n'
  printf '[recipe ec200u]\npackage = %s\n' "$ec200u"
  printf '[recipe ec600u]\npackage = %s\n' "$ec600u"
  printf '[recipe ec600n-cnlf]\npackage = %s\n' "$ec600n"
  printf '[recipe ec800m-cnle]\npackage = %s\n' "$ec800m"
  for i in $(seq 1 9); do printf '[slot S%d]\nport = 1-2.%d\n' "$i" "$i"; done
} > "$E2E_TMP/flow.conf.in"
e2e_start < "$E2E_TMP/flow.conf.in"

imei() { e2e_imei "$((600 + $1))"; }
at_unisoc() { # at_unisoc SLOT SERIES SUBMODEL [k=v...]: a Unisoc module in AT mode
  local slot=$1 series=$2 sub=$3
  shift 3
  rack plug "1-2.$slot" quectel-unisoc-at "series=$series" "submodel=$sub" "imei=$(imei "$slot")" "$@" >/dev/null
}
at_unisoc 1 EC200U CNAA
at_unisoc 2 EC600U CNLB
# EC600N CNLA, offered only an EC600N CNLF package: refused before anything is written.
rack plug 1-2.3 quectel-at series=EC600N submodel=CNLA "imei=$(imei 3)" >/dev/null
# A slow module that talks a lot: echo, URCs between echo and reply, slow replies.
at_unisoc 4 EC600U CNLB reply_delay_ms=150 urc_every=2 garbage=40
# Unplugged in the middle of its flash (the download model leaves at chunk 15).
at_unisoc 5 EC200U CNAA download_opts=unplug_at_chunk:15
# Flashed, but it never comes back after its reboot.
at_unisoc 6 EC200U CNAA download_opts=reset_replug:none
# Its download port goes silent in the handshake (nothing confirmed yet): a transient
# failure, retried once.
at_unisoc 7 EC600U CNLB download_opts=silent_after:1
at_unisoc 8 EC200U CNAA sim=absent
# ASR Crane over USB bulk: EC800M CNLA takes the shared EC800M_CNLE firmware (seed 003).
rack plug 1-2.9 quectel-at series=EC800M submodel=CNLA "imei=$(imei 9)" >/dev/null

# (a module that left mid-flash leaves an empty slot that still shows why)
wait_for "every slot has a verdict" /api/v1/slots \
  '[.slots[] | select(.flow.state == "pass" or .flow.state == "fail" or
    (.flow.state == "idle" and .flow.code != ""))] | length == 9'
slots=$(api /api/v1/slots)
verdict() { # verdict SLOT STATE STAGE CODE
  local got
  got=$(jq -r ".slots[] | select(.label == \"S$1\") | .flow | \"\(.state) \(.stage) \(.code)\"" <<<"$slots")
  [ "$got" = "$2 $3 $4" ] || e2e_fail "S$1: expected '$2 $3 $4', got '$got': $(jq -c ".slots[] | select(.label == \"S$1\") | .flow" <<<"$slots")"
  echo "S$1: $got"
}
verdict 1 pass "" ""
verdict 2 pass "" ""
verdict 3 fail guard no_match
verdict 4 pass "" ""
verdict 5 idle flash disconnected
verdict 6 idle verify timeout
verdict 7 fail flash timeout
verdict 8 pass "" ""
verdict 9 pass "" ""

# The operator sees what to do, in words, for each failure class.
instr() { jq -r ".slots[] | select(.label == \"S$1\") | .flow.instruction" <<<"$slots"; }
grep -q "set it aside" <<<"$(instr 3)" || e2e_fail "S3 instruction: $(instr 3)"
grep -q "EC600NCNLA" <<<"$(instr 3)" || e2e_fail "S3 instruction names no module: $(instr 3)"
grep -q "plug it in again" <<<"$(instr 5)" || e2e_fail "S5 instruction: $(instr 5)"
grep -q "did not restart" <<<"$(instr 6)" || e2e_fail "S6 instruction: $(instr 6)"
# The refused module was never switched to download mode.
stats=$(rack stats 1-2.3)
grep -q "qdownload=0" <<<"$stats" || e2e_fail "S3 was switched: $stats"

# The operator replugs the module that was pulled mid-flash (S5): the same IMEI, attempt 2.
rack plug 1-2.5 quectel-unisoc-at series=EC200U submodel=CNAA "imei=$(imei 5)" >/dev/null
wait_for "S5 passes on its second attempt" /api/v1/slots/S5 '.flow.state == "pass"'

# Pulling finished modules empties the tiles.
rack unplug 1-2.1 >/dev/null
wait_for "S1 empty after removal" /api/v1/slots/S1 '.flow.state == "idle" and .device == null'
e2e_stop

# Records: one row per try, with the identity, both revisions, the package and timings.
rows=$(sql "SELECT slot, attempt_no, result, fail_stage, fail_code, imei <> '',
  revision_before <> '', revision_after, package_version, package_sha256 <> '',
  duration_ms > 0, module_model FROM attempts ORDER BY slot, id")
expected="S1|1|pass|||1|1|EC200UCNAAR01A01M08_OCPU_QPY_V0001|V0001|1|1|EC200U
S2|1|pass|||1|1|EC600UCNLBR01A01M08_OCPU_QPY_BETA0002|BETA0002|1|1|EC600U
S3|1|fail|guard|no_match|1|1|||0|1|EC600N
S4|1|pass|||1|1|EC600UCNLBR01A01M08_OCPU_QPY_BETA0002|BETA0002|1|1|EC600U
S5|1|fail|flash|disconnected|1|1||V0001|1|1|EC200U
S5|2|pass|||1|1|EC200UCNAAR01A01M08_OCPU_QPY_V0001|V0001|1|1|EC200U
S6|1|fail|verify|timeout|1|1||V0001|1|1|EC200U
S7|1|fail|flash|timeout|1|1||BETA0002|1|1|EC600U
S7|2|fail|flash|timeout|1|1||BETA0002|1|1|EC600U
S8|1|pass|||1|1|EC200UCNAAR01A01M08_OCPU_QPY_V0001|V0001|1|1|EC200U
S9|1|pass|||1|1|EC800MCNLER01A01M08_OCPU_QPY_V0005|V0005|1|1|EC800M"
[ "$rows" = "$expected" ] || e2e_fail "attempt rows:
$rows
expected:
$expected"
[ "$(sql "SELECT protocol || ' ' || platform FROM attempts WHERE slot = 'S9'")" = "asr asr" ] ||
  e2e_fail "S9 was not flashed by the ASR driver"
# Same module, same IMEI across its two attempts; bytes written only where the flash ran.
[ "$(sql "SELECT count(DISTINCT imei) FROM attempts WHERE slot = 'S5'")" = 1 ] || e2e_fail "S5 IMEIs differ"
[ "$(sql "SELECT min(bytes_written) > 50000 FROM attempts WHERE result = 'pass'")" = 1 ] ||
  e2e_fail "a pass without the bytes written"
[ "$(sql "SELECT bytes_written FROM attempts WHERE slot = 'S3'")" = 0 ] || e2e_fail "S3 wrote bytes"
# The failed flashes kept their wire trace.
[ "$(sql "SELECT count(*) FROM attempts WHERE fail_stage = 'flash' AND log_ref <> ''")" = 3 ] ||
  e2e_fail "wire traces missing: $(sql "SELECT slot, log_ref FROM attempts")"
# The slot timeline has every step of S1's flow.
steps=$(sql "SELECT group_concat(json_extract(detail, '$.state'), ' ') FROM
  (SELECT detail FROM slot_events WHERE slot = 'S1' AND event = 'flow' ORDER BY id)")
[ "$steps" = "identifying switching waiting_download flashing rebooting verifying pass idle" ] ||
  e2e_fail "S1 flow events: $steps"
echo "PASS flow_rack"
