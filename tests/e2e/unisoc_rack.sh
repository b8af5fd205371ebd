#!/usr/bin/env bash
# Issue 4 rack test: the real daemon flashes Unisoc modules (the `unisoc` device model behind
# the 0525:a4a7 CDC-ACM download port) plugged in download mode into mapped slots, from
# packages made by tests/mkpkg in each Unisoc layout of seed 003. Afterwards every module's
# flash holds the package's images byte for byte (hashes from the device side against hashes
# of the PAC computed here), NV is untouched, and each module has one attempt row.
#   unisoc_rack.sh MKPKG_BIN FLASHRACK_CLI_BIN
. "$(dirname "$0")/lib.sh"
mkpkg=$1 cli=$2

"$mkpkg" "$E2E_TMP/pkgs" > /dev/null

# expected_regions PACKAGE: "ADDRESS=BYTES:SHA256" per flash image of the package's PAC.
expected_regions() {
  local pkg=$1 json pac
  json=$("$cli" inspect --json "$pkg") || e2e_fail "inspect $pkg"
  pac="$E2E_TMP/flash.pac"
  local flash payload
  flash=$(jq -r .flash_file <<<"$json")
  payload=$(jq -r '.payload_file // .flash_file' <<<"$json")
  case "$pkg" in
    *.zip) unzip -p "$pkg" "$flash" > "$pac" ;;
    *) cp "$pkg" "$pac" ;;
  esac
  # A new-style .bin is a zip around the PAC: payload_file is "<flash_file>/<member>".
  if [ "$payload" != "$flash" ] && [ "${payload#"$flash"/}" != "$payload" ]; then
    unzip -p "$pac" "${payload#"$flash"/}" > "$pac.inner" && mv "$pac.inner" "$pac"
  fi
  jq -r '.images[] | select(.address != null) | "\(.address) \(.offset) \(.size)"' <<<"$json" |
  while read -r addr off size; do
    (( addr >= 0x60000000 && addr < 0x70000000 )) || continue
    sha=$(dd if="$pac" bs=1 skip="$off" count="$size" status=none | sha256sum | cut -d' ' -f1)
    printf 'region_0x%08x=%s:%s\n' "$addr" "$size" "$sha"
  done
}

# unit PACKAGE N: the identity of the N-th module the package fits (unit= of tests/sim/sim.h):
# after the flash it reboots into AT mode as that module and must report the package.
unit() {
  local json
  json=$("$cli" inspect --json "$1") || e2e_fail "inspect $1"
  echo "$(jq -r '"\(.series).\(.submodel)"' <<<"$json").$(e2e_imei "$2").-"
}

# run_layout NAME PACKAGE MODULES
run_layout() {
  local name=$1 pkg=$2 n=$3
  local expect
  expect=$(expected_regions "$pkg")
  [ "$(wc -l <<<"$expect")" -ge 3 ] || e2e_fail "$name: fewer than 3 flash images in $pkg"
  {
    printf '[station]\nid = unisoc-rack\n[http]\nlisten = 127.0.0.1:0\n'
    printf '[storage]\ndatabase = @TMP@/%s.db\ndata_dir = @TMP@/%s-data\ncache_dir = @TMP@/%s-cache\n' \
      "$name" "$name" "$name"
    printf '[recipe %s]\npackage = %s\n' "$name" "$pkg"
    for i in $(seq 1 "$n"); do printf '[slot S%d]\nport = 1-1.%d\n' "$i" "$i"; done
  } > "$E2E_TMP/$name.conf.in"
  e2e_start < "$E2E_TMP/$name.conf.in"
  # Modules come back in AT mode after the reset, as real ones do.
  for i in $(seq 1 "$n"); do rack plug "1-1.$i" unisoc-dl "unit=$(unit "$pkg" "$i")" >/dev/null; done
  wait_for "$name: $n modules flashed" /api/v1/slots \
    "[.slots[] | select(.last.result == \"pass\")] | length == $n"
  # Each module's last model (before it rebooted into AT mode) holds the package.
  for i in $(seq 1 "$n"); do
    # (no pipe after `rack`: a pipeline's subshell does not get the coprocess fds)
    stats=$(rack last-stats "1-1.$i")
    stats=$(tr ' ' '\n' <<<"$stats")
    while read -r want; do
      grep -qx "$want" <<<"$stats" || e2e_fail "$name S$i: device lacks $want; it has:
$(grep '^region_' <<<"$stats")"
    done <<<"$expect"
    grep -qx "nv_intact=1" <<<"$stats" || e2e_fail "$name S$i: NV changed"
  done
  e2e_stop
  local db="$E2E_TMP/$name.db"
  rows=$(sqlite3 -batch "$db" "SELECT count(*), min(result), max(result), min(bytes_written),
    min(duration_ms) > 0, count(DISTINCT slot), min(protocol), min(package_sha256 <> '')
    FROM attempts")
  [ "$rows" = "$n|pass|pass|$(sqlite3 -batch "$db" 'SELECT max(bytes_written) FROM attempts')|1|$n|unisoc|1" ] \
    || e2e_fail "$name attempt rows: $rows"
  [ "$(sqlite3 -batch "$db" "SELECT min(bytes_written) FROM attempts")" -gt 50000 ] \
    || e2e_fail "$name: bytes_written too small"
  echo "$name: $n modules flashed and verified on the device side"
}

run_layout temporary "$(ls "$E2E_TMP"/pkgs/unisoc-temporary/*.zip)" 8
run_layout official-old "$(ls "$E2E_TMP"/pkgs/unisoc-official-old/*.zip)" 2
run_layout official-new "$(ls "$E2E_TMP"/pkgs/unisoc-official-new/*.zip)" 2
run_layout direct-pac "$(ls "$E2E_TMP"/pkgs/direct/*.pac)" 1
# Faults through the real daemon: each slot ends with its documented code, the healthy slot
# next to them passes, and every try is an attempt row with its stage and message.
pkg="$(ls "$E2E_TMP"/pkgs/unisoc-temporary/*.zip)"
{
  printf '[station]\nid = unisoc-faults\n[http]\nlisten = 127.0.0.1:0\n'
  printf '[storage]\ndatabase = @TMP@/faults.db\ndata_dir = @TMP@/faults-data\ncache_dir = @TMP@/faults-cache\n'
  printf '[recipe ec600u]\npackage = %s\n' "$pkg"
  # driver faults end the attempt at once here; retries are the production-flow test's
  printf '[flow]\nretries = 0\n'
  for i in 1 2 3 4 5; do printf '[slot S%d]\nport = 1-1.%d\n' "$i" "$i"; done
} > "$E2E_TMP/faults.conf.in"
e2e_start < "$E2E_TMP/faults.conf.in"
rack plug 1-1.1 unisoc-dl "unit=$(unit "$pkg" 101)" >/dev/null
rack plug 1-1.2 unisoc-dl unplug_at_chunk=15 >/dev/null
rack plug 1-1.3 unisoc-dl nak_chunk=12 nak_code=0x89 >/dev/null
rack plug 1-1.4 unisoc-dl bad_check_at=20 >/dev/null
rack plug 1-1.5 unisoc-dl silent_after=25 >/dev/null
wait_for "fault slots finished" /api/v1/slots \
  '[.slots[] | select(.last.result == "pass" or .last.result == "fail")] | length == 5'
slots=$(api /api/v1/slots)
expect_slot() {
  local label=$1 result=$2 code=$3 got
  got=$(jq -r ".slots[] | select(.label == \"$label\") | \"\(.last.result) \(.last.message)\"" <<<"$slots")
  case "$got" in "$result $code"*) ;; *) e2e_fail "$label: expected $result $code, got: $got" ;; esac
  echo "$label: $got"
}
expect_slot S1 pass revision
expect_slot S2 fail disconnected
expect_slot S3 fail rejected
expect_slot S4 fail protocol
expect_slot S5 fail timeout
# The operator swaps in the next module at once: it is flashed (the first one came back in AT
# mode, so this is a new module, not the old one failing to reboot).
first=$(jq -r '.slots[] | select(.label == "S1") | .last.attempt_id' <<<"$slots")
rack unplug 1-1.1 >/dev/null
rack plug 1-1.1 unisoc-dl "unit=$(unit "$pkg" 102)" >/dev/null
wait_for "the next module on S1 flashed" /api/v1/slots/S1 \
  ".last.result == \"pass\" and .last.attempt_id != $first"
e2e_stop
rows=$(sqlite3 -batch "$E2E_TMP/faults.db" "SELECT slot || ' ' || result || ' ' || fail_code ||
  ' ' || (log_ref <> '') FROM attempts ORDER BY slot")
expected="S1 pass  0
S1 pass  0
S2 fail disconnected 1
S3 fail rejected 1
S4 fail protocol 1
S5 fail timeout 1"
[ "$rows" = "$expected" ] || e2e_fail "fault attempt rows:
$rows"
echo "PASS unisoc_rack"
