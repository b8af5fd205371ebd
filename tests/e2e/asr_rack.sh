#!/usr/bin/env bash
# Issue 5 rack test: the real daemon flashes 8 ASR modules at once over USB bulk, 5 Crane
# (`asr-dl`, aboot) and 3 EC200A (`asr1803-dl`, WTPTP), plugged in download mode next to each
# other, from two recipes made by tests/mkpkg. Each module reboots into AT mode as itself and
# must report the package's version. Then every module's flash (the device model's own
# hashes, `rack last-stats`) must equal what the package holds, hashed here from the package
# bytes without the daemon's parsers (unzip, dd, od, sha256sum), and each module has one
# pass attempt row. Phase 2 (no retries): one module per platform pulled mid-write fails as
# disconnected, and an EC200A plugged in AT mode is switched by AT+QDOWNLOAD=1 and flashed.
#   asr_rack.sh MKPKG_BIN FLASHRACK_CLI_BIN
. "$(dirname "$0")/lib.sh"
mkpkg=$1 cli=$2
E2E_WAIT_S=60

pkgs="$E2E_TMP/pkgs"
mkdir -p "$pkgs"
crane=$("$mkpkg" --firmware QPY_OCPU_V0005_EC800M_CNLE_FW "$pkgs")
ec200a=$("$mkpkg" --firmware QPY_OCPU_V0007_EC200A_CNLA_FW "$pkgs")
crane_json=$("$cli" inspect --json "$crane") || e2e_fail "inspect $crane"
ec200a_json=$("$cli" inspect --json "$ec200a") || e2e_fail "inspect $ec200a"
[ "$(jq -r '"\(.platform) \(.series) \(.submodel) \(.version)"' <<<"$crane_json")" = \
  "asr EC800M CNLE V0005" ] || e2e_fail "crane package reads as: $crane_json"
[ "$(jq -r '"\(.platform) \(.series) \(.submodel) \(.version) \(.layout)"' <<<"$ec200a_json")" = \
  "asr1803 EC200A CNLA V0007 asr1803-fbf" ] || e2e_fail "EC200A package reads as: $ec200a_json"

# ---- what each device's flash must hold, from the package bytes -------------------------

# Crane: every "flash" step of download.json writes its image into its partition from block
# 0; the model reports extent = size rounded up to 4 KiB and the hash of that extent, whose
# tail the host pads with 0xFF (erased NOR).
crane_expect() {
  local dir="$E2E_TMP/crane-unz"
  mkdir -p "$dir"
  unzip -q -o "$crane" -d "$dir" || e2e_fail "unzip $crane"
  jq -r '.[] | select(.command == "flash") | "\(.image) \(.partition)"' "$dir/download.json" |
  while read -r image part; do
    local size ext
    size=$(stat -c %s "$dir/$image")
    ext=$(( (size + 4095) / 4096 * 4096 ))
    sha=$( { cat "$dir/$image"; head -c $((ext - size)) /dev/zero | tr '\0' '\377'; } |
      sha256sum | cut -d' ' -f1)
    echo "part_$part=$ext:$sha"
  done
}

# EC200A: the FBF container (asr.md §3.5), read here rather than through the package parser:
# the last u32 is the directory offset; the directory is a count, then per member a name
# (UTF-16LE Windows path) and head/mid/tail byte ranges. The bootloader stage receives
# FBF_timheader.bin whole and each *_h.bin without its 4-byte id prefix, asked for by that
# id (stats name it as the FourCC, most significant byte first, as the device reads the u32).
le32() { dd if="$ec200a" bs=1 skip="$1" count=4 status=none | od -An -tu4 | tr -d ' '; }
sha_of() { tail -c +$(($1 + 1)) "$ec200a" | head -c "$2" | sha256sum | cut -d" " -f1; }
ec200a_expect() {
  local dir count pos k nlen name h1 h2 id hex fourcc
  dir=$(le32 $(($(stat -c %s "$ec200a") - 4)))
  count=$(le32 "$dir")
  pos=$((dir + 4))
  for ((k = 0; k < count; k++)); do
    nlen=$(le32 "$pos")
    name=$(dd if="$ec200a" bs=1 skip=$((pos + 4)) count="$nlen" status=none | tr -d '\0')
    name=${name##*\\}
    pos=$((pos + 4 + nlen))
    h1=$(le32 "$pos") h2=$(le32 $((pos + 4)))
    # mkpkg stores every member as one head range: mid and tail are empty
    [ "$(le32 $((pos + 8)))" = "$(le32 $((pos + 12)))" ] &&
      [ "$(le32 $((pos + 16)))" = "$(le32 $((pos + 20)))" ] ||
      e2e_fail "$name: split FBF member (this test reads head ranges only)"
    pos=$((pos + 24))
    case "$name" in
      FBF_timheader.bin) echo "img_bl_TIMH=$((h2 - h1)):$(sha_of "$h1" $((h2 - h1)))" ;;
      *_h.bin)
        id=$(le32 "$h1")
        hex=$(printf '%08X' "$id")
        fourcc=$(printf '%b' "\\x${hex:0:2}\\x${hex:2:2}\\x${hex:4:2}\\x${hex:6:2}")
        [[ $fourcc =~ ^[A-Za-z0-9]{4}$ ]] || fourcc=$(printf '0x%08X' "$id")
        echo "img_bl_$fourcc=$((h2 - h1 - 4)):$(sha_of $((h1 + 4)) $((h2 - h1 - 4)))" ;;
    esac
  done
}
crane_want=$(crane_expect)
ec200a_want=$(ec200a_expect)
[ "$(wc -l <<<"$crane_want")" -ge 6 ] || e2e_fail "crane: too few flash steps: $crane_want"
[ "$(grep -c '^img_bl_' <<<"$ec200a_want")" -eq 3 ] || e2e_fail "EC200A expectations: $ec200a_want"

# ---- phase 1: 8 modules at once --------------------------------------------------------

config() { # config NAME SLOTS [flow lines]
  printf '[station]\nid = asr-rack\n[http]\nlisten = 127.0.0.1:0\n'
  printf '[storage]\ndatabase = @TMP@/%s.db\ndata_dir = @TMP@/%s-data\ncache_dir = @TMP@/%s-cache\n' \
    "$1" "$1" "$1"
  printf '[flow]\n%s\n' "${3:-}"
  printf '[recipe ec800m]\npackage = %s\n' "$crane"
  printf '[recipe ec200a]\npackage = %s\n' "$ec200a"
  for i in $(seq 1 "$2"); do printf '[slot S%d]\nport = 1-3.%d\n' "$i" "$i"; done
}
e2e_start < <(config rack 8)
imei() { e2e_imei "$((500 + $1))"; }
# 5 Crane and 3 EC200A (slots 2, 5, 7), mixed on the hub so neighbours differ
kind() { case $1 in 2 | 5 | 7) echo ec200a ;; *) echo crane ;; esac; }
# Programming takes about 2 s per module (flash_rate, bytes/s; the hosts wait for the OKAY or
# poll the "ready" message), so the 8 flashes overlap by far more than plugging takes.
start_ms=$(date +%s%3N)
for i in $(seq 1 8); do
  if [ "$(kind "$i")" = crane ]; then
    rack plug "1-3.$i" asr-dl "unit=EC800M.CNLE.$(imei "$i").-" flash_rate=60000 >/dev/null
  else
    rack plug "1-3.$i" asr1803-dl "unit=EC200A.CNLA.$(imei "$i").-" flash_rate=35000 >/dev/null
  fi
done
wait_for "8 modules flashed and verified" /api/v1/slots \
  '[.slots[] | select(.flow.state == "pass")] | length == 8'
echo "phase 1: 8 modules passed in $(($(date +%s%3N) - start_ms)) ms"

for i in $(seq 1 8); do
  # (no pipe after `rack`: a pipeline's subshell does not get the coprocess fds)
  stats=$(rack last-stats "1-3.$i")
  stats=$(tr ' ' '\n' <<<"$stats")
  if [ "$(kind "$i")" = crane ]; then
    want=$crane_want prefix=part_
    grep -q '^erased=.*nvm' <<<"$stats" || e2e_fail "S$i: nvm not erased: $(grep erased <<<"$stats")"
    grep -qx 'revision=EC800MCNLER01A01M08_OCPU_QPY_V0005' <<<"$stats" ||
      e2e_fail "S$i: the flash holds no revision marker: $(grep '^revision' <<<"$stats")"
  else
    want=$ec200a_want prefix=img_bl_
    # the FBF headers were checked (ChipID NEZHA3, reset after download) and the marker found
    for kv in fbf_chip_id=15 fbf_opt_value=1 fw_revision=EC200ACNLAR01A01M08_OCPU_QPY_V0007; do
      grep -qx "$kv" <<<"$stats" || e2e_fail "S$i: expected $kv in: $(tr '\n' ' ' <<<"$stats")"
    done
  fi
  while read -r line; do
    grep -qx "$line" <<<"$stats" || e2e_fail "S$i ($(kind "$i")): device lacks $line; it has:
$(grep "^$prefix" <<<"$stats")"
  done <<<"$want"
  # nothing written beyond the package's images
  [ "$(grep -c "^$prefix" <<<"$stats")" = "$(wc -l <<<"$want")" ] ||
    e2e_fail "S$i: the device holds other images: $(grep "^$prefix" <<<"$stats")"
done
echo "phase 1: every flash matches the packages"
e2e_stop

db="$E2E_TMP/rack.db"
q() { sqlite3 -batch -noheader "$db" "$1"; }
crane_sha=$(sha256sum "$crane" | cut -d' ' -f1)
ec200a_sha=$(sha256sum "$ec200a" | cut -d' ' -f1)
rows=$(q "SELECT slot, attempt_no, result, protocol, platform, module_model, imei,
  revision_after, package_version, package_sha256, bytes_written > 0, duration_ms > 0
  FROM attempts ORDER BY slot, id")
expected=""
for i in $(seq 1 8); do
  if [ "$(kind "$i")" = crane ]; then
    line="S$i|1|pass|asr|asr|EC800M|$(imei "$i")|EC800MCNLER01A01M08_OCPU_QPY_V0005|V0005|$crane_sha|1|1"
  else
    line="S$i|1|pass|asr1803|asr1803|EC200A|$(imei "$i")|EC200ACNLAR01A01M08_OCPU_QPY_V0007|V0007|$ec200a_sha|1|1"
  fi
  expected+="$line"$'\n'
done
[ "$rows" = "${expected%$'\n'}" ] || e2e_fail "attempt rows:
$rows
expected:
${expected%$'\n'}"
# bytes written cover at least the images the device received
[ "$(q "SELECT min(bytes_written) FROM attempts WHERE protocol = 'asr'")" -ge \
  "$(awk -F'[=:]' '{s += $2} END {print s}' <<<"$crane_want")" ] ||
  e2e_fail "crane bytes_written: $(q "SELECT slot, bytes_written FROM attempts")"
[ "$(q "SELECT min(bytes_written) FROM attempts WHERE protocol = 'asr1803'")" -ge \
  "$(awk -F'[=:]' '{s += $2} END {print s}' <<<"$ec200a_want")" ] ||
  e2e_fail "EC200A bytes_written: $(q "SELECT slot, bytes_written FROM attempts")"
# Concurrent: one moment when all 8 attempts were open.
[ "$(q "SELECT max(started_unix_ms) < min(ended_unix_ms) FROM attempts")" = 1 ] ||
  e2e_fail "the 8 attempts did not overlap: $(q "SELECT slot, started_unix_ms, ended_unix_ms FROM attempts")"
echo "phase 1: 8 pass rows, all open at once"

# ---- phase 2: pulled mid-write, and the AT switch of an EC200A ---------------------------

e2e_start < <(config faults 3 'retries = 0')
rack plug 1-3.1 asr-dl "unit=EC800M.CNLE.$(imei 11).-" unplug_after_bytes=40000 >/dev/null
rack plug 1-3.2 asr1803-dl "unit=EC200A.CNLA.$(imei 12).-" unplug_after_bytes=30000 >/dev/null
rack plug 1-3.3 quectel-ec200a-at "imei=$(imei 13)" >/dev/null
wait_for "phase 2 verdicts" /api/v1/slots \
  '[.slots[] | select(.flow.state == "pass" or .flow.state == "fail" or
    (.flow.state == "idle" and .flow.code != ""))] | length == 3'
slots=$(api /api/v1/slots)
verdict() { # verdict SLOT STATE STAGE CODE
  local got
  got=$(jq -r ".slots[] | select(.label == \"S$1\") | .flow | \"\(.state) \(.stage) \(.code)\"" <<<"$slots")
  [ "$got" = "$2 $3 $4" ] || e2e_fail "S$1: expected '$2 $3 $4', got '$got': $(jq -c ".slots[] | select(.label == \"S$1\") | .flow" <<<"$slots")"
  echo "phase 2 S$1: $got"
}
verdict 1 idle flash disconnected
verdict 2 idle flash disconnected
verdict 3 pass "" ""
# Both left in the middle of writing the firmware, not before or after it.
stats=$(rack last-stats 1-3.1)
stats=$(tr ' ' '\n' <<<"$stats")
grep -qx 'phase=flashing' <<<"$stats" && grep -q '^part_' <<<"$stats" &&
  [ "$(grep -c '^part_' <<<"$stats")" -lt "$(wc -l <<<"$crane_want")" ] ||
  e2e_fail "S1 was not pulled mid-write: $(grep -E '^(phase|part_)' <<<"$stats")"
stats=$(rack last-stats 1-3.2)
stats=$(tr ' ' '\n' <<<"$stats")
grep -q '^img_bl_TIMH=' <<<"$stats" && ! grep -q '^img_bl_FBF' <<<"$stats" ||
  e2e_fail "S2 was not pulled mid-write: $(grep -E '^(state|img_)' <<<"$stats")"
stats=$(rack last-stats 1-3.3)
stats=$(tr ' ' '\n' <<<"$stats")
while read -r line; do
  grep -qx "$line" <<<"$stats" || e2e_fail "S3 (AT switch): device lacks $line"
done <<<"$ec200a_want"
e2e_stop
db="$E2E_TMP/faults.db"
# (a module flashed from download mode has no identity until it comes back: no IMEI yet;
# the failed flashes keep their wire trace)
rows=$(q "SELECT slot, result, fail_stage, fail_code, protocol, imei, revision_before <> '',
  revision_after, package_version, log_ref <> '' FROM attempts ORDER BY slot, id")
expected="S1|fail|flash|disconnected|asr||0||V0005|1
S2|fail|flash|disconnected|asr1803||0||V0007|1
S3|pass|||asr1803|$(imei 13)|1|EC200ACNLAR01A01M08_OCPU_QPY_V0007|V0007|0"
[ "$rows" = "$expected" ] || e2e_fail "phase 2 attempt rows:
$rows
expected:
$expected"
[ "$(q "SELECT min(bytes_written) > 0 FROM attempts WHERE slot IN ('S1', 'S2')")" = 1 ] ||
  e2e_fail "the pulled modules show no bytes written: $(q "SELECT slot, bytes_written FROM attempts")"
echo "PASS asr_rack"
