#!/usr/bin/env bash
# Reliability soak (issue 10): module cycles on SLOTS slots of the virtual rack, ~5% of them
# with a fault the device models offer, the daemon SIGKILLed and restarted twice on the way.
# A cycle is one module (one IMEI) from its plug to its verdict; then the harness pulls it
# and plugs the next. Afterwards the records are checked against the harness's plug log:
#   - every attempt row is terminal (nothing 'running'); 'aborted' only for the cycles the
#     kill interrupted (db_attempts_abort_running marks them at the restart);
#   - every finished cycle has its tries numbered 1..k once each (k = 1, or 2 after a
#     retried transient failure) and its last row's result is the verdict the API showed;
#     a module without a fault that did not pass in one row is listed (SOAK_STRICT=1: fails);
#   - no row belongs to a module that was never plugged, no (imei, attempt_no) twice;
#   - the daemon's RSS over the last segment stayed flat; no sanitizer report in its log;
#     the last daemon exits cleanly (LeakSanitizer runs at that exit in an ASan build).
#
#   FLASHRACK_BUILD_DIR=BUILD soak.sh CYCLES [SLOTS]     (SOAK_SEED=N: another fault draw)
#
# The full run is 5000 cycles on 32 slots (docs/testing.md); ctest runs 150.
. "$(dirname "$0")/../e2e/lib.sh"
# SOAK_KEEP=DIR: keep the database, logs and plug log (also when a check fails)
soak_keep() {
  [ -n "${SOAK_KEEP:-}" ] || return 0
  mkdir -p "$SOAK_KEEP"
  cp "$E2E_TMP/flashrack.db" "$E2E_TMP/daemon.log" "$E2E_TMP/rack.log" "$E2E_TMP/plug.log" "$E2E_TMP/rss" \
    "$SOAK_KEEP/" 2>/dev/null || true
}
eval "lib_$(declare -f e2e_fail)"
e2e_fail() { soak_keep; lib_e2e_fail "$@"; }
cycles=${1:?CYCLES}
nslots=${2:-32}
mkpkg="$FLASHRACK_BUILD_DIR/tests/mkpkg/flashrack-mkpkg"
RANDOM=${SOAK_SEED:-10}
fault_pct=5
stuck_s=${SOAK_STUCK_S:-120} # a cycle without a verdict for this long is a failure

pkgs="$E2E_TMP/pkgs"
mkdir -p "$pkgs"
p_u=$("$mkpkg" --firmware QPY_OCPU_V0001_EC200U_CNAA_FW "$pkgs")
p_a=$("$mkpkg" --firmware QPY_OCPU_V0005_EC800M_CNLE_FW "$pkgs")
p_w=$("$mkpkg" --firmware QPY_OCPU_V0007_EC200A_CNLA_FW "$pkgs")
port_of() { echo "1-$((1 + ($1 - 1) / 16)).$((1 + ($1 - 1) % 16))"; }
{
  printf '[station]\nid = soak\n[http]\nlisten = 127.0.0.1:0\n'
  printf '[rack]\nrows = %d\ncolumns = 8\n' $(((nslots + 7) / 8))
  printf '[storage]\ndatabase = @TMP@/flashrack.db\ndata_dir = @TMP@/data\ncache_dir = @TMP@/cache\n'
  # short waits: silent devices and modules that never come back take them
  printf '[flow]\nretries = 1\nretry_delay_ms = 200\nreboot_timeout_ms = 3000\n'
  printf '[limits]\nno_progress_timeout_ms = 2500\n'
  printf '[recipe ec200u]\npackage = %s\n' "$p_u"
  printf '[recipe ec800m]\npackage = %s\n' "$p_a"
  printf '[recipe ec200a]\npackage = %s\n' "$p_w"
  for i in $(seq 1 "$nslots"); do printf '[slot S%d]\nport = %s\n' "$i" "$(port_of "$i")"; done
} > "$E2E_TMP/soak.conf.in"
# e2e_start, plus SOAK_VERBOSE=1: the rack's event log (--verbose) goes to rack.log (kept).
sed -e "s|@TMP@|$E2E_TMP|g" < "$E2E_TMP/soak.conf.in" > "$E2E_TMP/flashrack.conf"
verbose=()
[ "${SOAK_VERBOSE:-0}" = 1 ] && verbose=(--verbose)
coproc RACK { exec umockdev-wrapper "$RACK_BIN" "${verbose[@]}" --daemon-log "$E2E_TMP/daemon.log" -- \
              "$DAEMON_BIN" --config "$E2E_TMP/flashrack.conf" 2> "$E2E_TMP/rack.log"; }
rack wait-ready 30000 >/dev/null
E2E_PORT=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$E2E_TMP/daemon.log" | head -1 | sed 's/.*://')
[ -n "$E2E_PORT" ] || e2e_fail "daemon did not log its HTTP address"
dpid=$(pgrep -P "$RACK_PID" -f flashrackd | head -1)

# rack_try CMD...: like rack, but an "err" reply is returned, not fatal.
rack_try() {
  echo "$*" >&"${RACK[1]}"
  local reply
  IFS= read -r -t 60 reply <&"${RACK[0]}" || e2e_fail "no reply from the rack to '$*'"
  echo "$reply"
}

# Faults per platform (model knobs: tests/sim/*/README.md, tests/sim/at_module.c). Every
# platform also gets a module no recipe fits (guard refuses it) and one that ignores
# AT+QDOWNLOAD=1 (switch fails).
faults_u=(unplug_mid_write:download_opts=unplug_at_chunk:6 silence:download_opts=silent_after:8
  bad_frame:download_opts=bad_check_at:5 nak:download_opts=nak_chunk:6
  lost_reply:download_opts=drop_reply:6 no_return:download_opts=reset_replug:none
  wrong_identity:submodel=CNXX no_switch:download=none)
faults_a=(unplug_mid_write:download_opts=unplug_after_bytes:30000 silence:download_opts=silent_after:6
  bad_frame:download_opts=bad_reply_at:5 fail_reply:download_opts=fail_at:flash
  hang:download_opts=hang_at:flash wrong_identity:submodel=CNXX no_switch:download=none)
faults_w=(unplug_mid_write:download_opts=unplug_after_bytes:20000 silence:download_opts=silent_after:10
  bad_frame:download_opts=bad_reply:6 nak:download_opts=nack_image:3
  silent_image:download_opts=silent_image:4 wrong_identity:submodel=CNXX no_switch:download=none)

declare -A cur_imei cur_fault cur_cycle cur_since
plog="$E2E_TMP/plug.log" # cycle slot imei platform fault segment verdict
: > "$plog"
plugged=0
finished=0
seg=1
kill1=$((cycles / 3))
kill2=$((2 * cycles / 3))
declare -A fault_count

# SOAK_STOP_FILE=PATH: once PATH exists, no more modules are plugged; the cycles under way
# finish and the checks run on what was done (a long run cut short still gets checked).
stopping() { [ -n "${SOAK_STOP_FILE:-}" ] && [ -e "$SOAK_STOP_FILE" ]; }

plug_next() { # plug_next SLOT: the next cycle's module in SLOT (if cycles remain)
  local s=$1 plat profile series fault="none" opt="" k list
  [ "$plugged" -lt "$cycles" ] || return 0
  stopping && return 0
  plugged=$((plugged + 1))
  case $((s % 3)) in
    1) plat=unisoc profile=quectel-unisoc-at series=EC200U sub=CNAA list=("${faults_u[@]}") ;;
    2) plat=asr profile=quectel-at series=EC800M sub=CNLA list=("${faults_a[@]}") ;;
    0) plat=asr1803 profile=quectel-ec200a-at series=EC200A sub=CNLA list=("${faults_w[@]}") ;;
  esac
  if [ $((RANDOM % 100)) -lt "$fault_pct" ]; then
    k=${list[$((RANDOM % ${#list[@]}))]}
    fault=${k%%:*}
    opt=${k#*:}
    fault_count[$plat.$fault]=$((${fault_count[$plat.$fault]:-0} + 1))
  fi
  local imei
  imei=$(e2e_imei "$plugged")
  local args=("$profile" "series=$series" "imei=$imei")
  case $opt in
    submodel=*) args+=("$opt") ;;
    *) args+=("submodel=$sub"); [ -n "$opt" ] && args+=("$opt") ;;
  esac
  rack plug "$(port_of "$s")" "${args[@]}" >/dev/null
  cur_imei[$s]=$imei cur_fault[$s]=$fault cur_cycle[$s]=$plugged cur_since[$s]=$SECONDS
}

finish_cycle() { # finish_cycle SLOT VERDICT
  local s=$1
  echo "${cur_cycle[$s]} S$s ${cur_imei[$s]} - ${cur_fault[$s]} $seg $2" >> "$plog"
  unset "cur_imei[$s]"
  finished=$((finished + 1))
}

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$dpid/status" 2>/dev/null || echo 0; }
: > "$E2E_TMP/rss"

check_sanitizer_log() {
  if grep -E -q 'ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: (Address|UndefinedBehavior)' \
    "$E2E_TMP/daemon.log"; then
    e2e_fail "sanitizer report in the daemon log: $(grep -E -m3 'Sanitizer|runtime error' "$E2E_TMP/daemon.log")"
  fi
}

kill_restart() { # SIGKILL the daemon, pull every module (their cycles end "interrupted"), restart
  rack signal KILL >/dev/null
  rack wait-exit 20000 >/dev/null
  check_sanitizer_log
  local s
  for s in "${!cur_imei[@]}"; do
    rack_try unplug "$(port_of "$s")" >/dev/null
    finish_cycle "$s" interrupted
  done
  # A model's re-enumeration already under way (AT -> download port, reboot -> AT) still
  # plugs its next identity after the pull: pull those too, until the rack stays empty.
  local listed p
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    sleep 0.5
    listed=$(rack list) # (not in a pipeline: its subshell would not have the rack's fds)
    listed=${listed#ok list}
    [ -z "${listed// /}" ] && break
    for p in $listed; do rack_try unplug "${p%%:*}" >/dev/null; done
  done
  seg=$((seg + 1))
  rack restart >/dev/null
  rack wait-ready 60000 >/dev/null
  dpid=$(pgrep -P "$RACK_PID" -f flashrackd | head -1)
  E2E_PORT=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$E2E_TMP/daemon.log" | tail -1 | sed 's/.*://')
  echo "restart $seg after $plugged plugged, $finished finished: pid $dpid port $E2E_PORT"
}

t0=$SECONDS
for s in $(seq 1 "$nslots"); do plug_next "$s"; done
while [ "$finished" -lt "$cycles" ]; do
  if stopping && [ "$finished" -ge "$plugged" ]; then
    echo "soak: stopped by $SOAK_STOP_FILE after $finished cycles"
    break
  fi
  if { [ "$seg" = 1 ] && [ "$plugged" -ge "$kill1" ]; } || { [ "$seg" = 2 ] && [ "$plugged" -ge "$kill2" ]; }; then
    kill_restart
    for s in $(seq 1 "$nslots"); do plug_next "$s"; done
    continue
  fi
  states=$(api /api/v1/slots | jq -r '.slots[] | "\(.label) \(.flow.state) \(.flow.imei) \(.device != null) \(.flow.code)"') ||
    e2e_fail "the API does not answer: $(rack wait-exit 100)"
  while read -r label state imei present code; do
    s=${label#S}
    [ -n "${cur_imei[$s]:-}" ] || continue
    if [ "$imei" != "${cur_imei[$s]}" ]; then
      [ $((SECONDS - cur_since[$s])) -lt "$stuck_s" ] ||
        e2e_fail "$label: no flow for module ${cur_imei[$s]} after ${stuck_s}s (state $state, imei $imei)"
      continue
    fi
    verdict=""
    case $state in
      pass) verdict=pass ;;
      fail) verdict="fail:$code" ;;
      idle) [ "$present" = false ] && [ -n "$code" ] && verdict="left:$code" ;;
    esac
    if [ -z "$verdict" ]; then
      [ $((SECONDS - cur_since[$s])) -lt "$stuck_s" ] ||
        e2e_fail "$label: module ${cur_imei[$s]} stuck in $state for ${stuck_s}s"
      continue
    fi
    [ "$present" = true ] && rack unplug "$(port_of "$s")" >/dev/null
    finish_cycle "$s" "$verdict"
    if [ $((finished % 25)) = 0 ]; then echo "$seg $finished $(rss_kb)" >> "$E2E_TMP/rss"; fi
    if [ $((finished % 500)) = 0 ]; then echo "soak: $finished/$cycles cycles, $((SECONDS - t0)) s"; fi
    plug_next "$s"
  done <<<"$states"
  sleep 0.1
done
elapsed=$((SECONDS - t0))
# uevents that found a listener's queue full: sent late, or dropped as the kernel would
uevents=$(rack uevents)
reply=$(rack quit)
case "$reply" in
  *"status=0"*) ;;
  *) e2e_fail "the last daemon did not exit cleanly: $reply" ;;
esac
wait "${RACK_PID:-}" 2>/dev/null || true
check_sanitizer_log

# ---- checks against the plug log ----
# (an attempt the kill interrupted before the module said its IMEI has none: "-")
sql "SELECT coalesce(nullif(imei, ''), '-'), attempt_no, result, coalesce(nullif(fail_stage, ''), '-'),
  coalesce(nullif(fail_code, ''), '-') FROM attempts WHERE imei <> '' ORDER BY imei, attempt_no, id" |
  tr '|' ' ' > "$E2E_TMP/rows"
no_imei=$(sql "SELECT count(*) FROM attempts WHERE imei = '' AND result <> 'aborted'")
[ "$no_imei" = 0 ] || e2e_fail "$no_imei finished attempts without an IMEI: $(sql "SELECT id, slot, result, fail_stage, fail_code FROM attempts WHERE imei = '' AND result <> 'aborted' LIMIT 5")"
running=$(sql "SELECT count(*) FROM attempts WHERE result = 'running'")
[ "$running" = 0 ] || e2e_fail "$running attempts left running"
dups=$(sql "SELECT count(*) FROM (SELECT imei, attempt_no FROM attempts WHERE imei <> '' GROUP BY imei, attempt_no HAVING count(*) > 1)")
[ "$dups" = 0 ] || e2e_fail "$dups (imei, attempt_no) pairs recorded twice"
problems=$(awk '
  FNR == NR { verdict[$3] = $7; fault[$3] = $5; next }        # plug log: cycle slot imei - fault seg verdict
  { n[$1]++; if ($2 != n[$1]) bad = bad "\n" $1 ": try " $2 " where " n[$1] " was due";
    last[$1] = $3; res[$1] = res[$1] " " $3; if (!($1 in verdict)) bad = bad "\n" $1 ": a row for a module never plugged" }
  END {
    for (i in verdict) {
      v = verdict[i]
      if (v == "interrupted") { continue }
      if (!(i in n)) { bad = bad "\n" i ": no attempt row (" v ")"; continue }
      if (res[i] ~ /aborted/) bad = bad "\n" i ": aborted outside a restart:" res[i]
      if (n[i] > 2) bad = bad "\n" i ": " n[i] " tries"
      want = v == "pass" ? "pass" : "fail"
      if (last[i] != want) bad = bad "\n" i ": the API said " v ", the last row says " last[i]
      if (fault[i] == "none" && (v != "pass" || n[i] != 1)) print i, v, n[i] > clean
    }
    printf "%s", bad
  }' clean="$E2E_TMP/clean_failed" "$plog" "$E2E_TMP/rows")
[ -z "$problems" ] || e2e_fail "records do not match the plug log:$(head -20 <<<"$problems")"
# A module without a fault that did not pass: a timeout under load is the machine's, so this
# is reported, and fails the run only with SOAK_STRICT=1 (by hand, on a quiet machine).
touch "$E2E_TMP/clean_failed"
clean_failed=$(wc -l < "$E2E_TMP/clean_failed")
if [ "$clean_failed" -gt 0 ]; then
  echo "clean modules that did not pass in one try: $clean_failed"
  while read -r imei v n; do
    echo "  $imei: $v in $n rows: $(sql "SELECT group_concat(fail_stage || ' ' || fail_code || ': ' || fail_message, ' | ') FROM attempts WHERE imei = '$imei'")"
  done < "$E2E_TMP/clean_failed"
  [ "${SOAK_STRICT:-0}" = 1 ] && e2e_fail "$clean_failed clean modules did not pass (SOAK_STRICT=1)"
fi
interrupted=$(grep -c ' interrupted$' "$plog" || true)
aborted=$(sql "SELECT count(*) FROM attempts WHERE result = 'aborted'")
[ "$aborted" -le "$interrupted" ] || e2e_fail "$aborted aborted rows for $interrupted interrupted cycles"
# every aborted row belongs to an interrupted cycle
stray=$(awk 'FNR == NR { if ($7 == "interrupted") intr[$3] = 1; next } $3 == "aborted" && !($1 in intr)' "$plog" "$E2E_TMP/rows" | wc -l)
[ "$stray" = 0 ] || e2e_fail "$stray aborted rows outside the interrupted cycles"

# Memory: the last segment's RSS after its first third vs at its end.
read -r rss_a rss_z nsamp < <(awk -v s="$seg" '$1 == s { v[++n] = $3 } END { if (n < 3) { print 0, 0, n + 0; exit }
  print v[int(n / 3) + 1], v[n], n }' "$E2E_TMP/rss")
# (an ASan daemon's RSS grows with the allocator's quarantine, by design: reported only)
asan=0
ldd "$DAEMON_BIN" 2>/dev/null | grep -q libasan && asan=1
if [ "$nsamp" -ge 3 ] && [ "$asan" = 0 ]; then
  growth=$((rss_z - rss_a))
  limit=$((rss_a / 10 > 2048 ? rss_a / 10 : 2048))
  [ "$growth" -le "$limit" ] || e2e_fail "RSS grew by $growth kB over the last segment ($rss_a -> $rss_z kB)"
fi

echo
echo "## soak: $finished of $cycles cycles on $nslots slots, $elapsed s, $((seg - 1)) SIGKILL restarts"
echo "attempt rows: $(sql "SELECT count(*) FROM attempts")  by result: $(sql "SELECT group_concat(result || '=' || n, ' ') FROM (SELECT result, count(*) n FROM attempts GROUP BY result)")"
echo "cycles: pass $(grep -c ' pass$' "$plog") fail $(grep -c ' fail:' "$plog") left $(grep -c ' left:' "$plog") interrupted $interrupted"
echo "faults injected: $(for k in "${!fault_count[@]}"; do echo "$k=${fault_count[$k]}"; done | sort | tr '\n' ' ')"
echo "fault verdicts: $(awk '$5 != "none" && $7 != "interrupted" {print $5 "->" $7}' "$plog" | sort | uniq -c | awk '{printf "%s(%d) ", $2, $1}')"
echo "rack ${uevents#ok }"
echo "aborted rows: $aborted (interrupted cycles: $interrupted)  clean modules not passing: $clean_failed"
echo "rss kB (segment $seg$([ "$asan" = 1 ] && echo ", ASan: not judged")): $(awk -v s="$seg" '$1 == s {printf "%s ", $3}' "$E2E_TMP/rss")"
echo "PASS soak"
soak_keep
