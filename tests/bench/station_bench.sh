#!/usr/bin/env bash
# Station benchmark (issue 10): the real flashrackd on the virtual rack with N modules whose
# device models have production-like timing, the whole flow per module (identify, guard, AT
# switch, flash, reboot, verify). Prints efficiency, daemon CPU and memory, and latencies.
#
#   FLASHRACK_BUILD_DIR=BUILD station_bench.sh N [ROUNDS]
#
# N modules (slots S1.. on ports 1-1.1 .. 1-1.16, 1-2.1 ..), mixed 1:1:1 Unisoc EC200U (CDC-ACM tty, PDL/BSL), ASR Crane
# EC800M (USB bulk, aboot) and EC200A (ASR1803, USB bulk, WTPTP). ROUNDS (default 1): after a
# module passes, it is pulled and a fresh one (new IMEI) goes in, ROUNDS times per slot.
# BENCH_TIMING=0 switches the model timing off (link, program, delays at their minimum).
# BENCH_IMAGE_MB=M: packages whose main image is M MiB of random data (flashrack-mkpkg
# --image-mb; the device models get the flash it needs), for host-side throughput with
# BENCH_TIMING=0. BENCH_PLATFORMS="unisoc asr asr1803" (the default): the platforms given to
# slots S1, S2, S3, S4... in turn (unisoc = EC200U, asr = EC800M, asr1803 = EC200A); e.g.
# BENCH_PLATFORMS=asr puts only EC800Ms on the rack. Per platform it prints the flash phase
# (slot_events flashing -> rebooting), the bytes the daemon wrote and their rate.
# BENCH_LEAVE_MS (timing off only, default 1): delay of a download model's leaving the bus.
#   BENCH_TIMING=0 BENCH_IMAGE_MB=32 BENCH_LEAVE_MS=20 station_bench.sh 3       # one of each
#   BENCH_TIMING=0 BENCH_IMAGE_MB=32 BENCH_PLATFORMS=asr station_bench.sh 1     # one protocol
# Never asserts on time; exits non-zero only if a module does not pass.
# Above ~45 modules umockdev's preload runs out of descriptor slots (50) and aborts the
# daemon: build a larger one with tests/bench/umockdev_fdmap.sh DIR, run with LD_LIBRARY_PATH=DIR.
# The testbed goes where TMPDIR points (docs/performance.md: its file system shows in N=64).
. "$(dirname "$0")/../e2e/lib.sh"
n=${1:?N}
rounds=${2:-1}
timing=${BENCH_TIMING:-1}
mkpkg="$FLASHRACK_BUILD_DIR/tests/mkpkg/flashrack-mkpkg"
E2E_WAIT_S=${BENCH_WAIT_S:-900}

# Model timing. The synthetic packages are ~60-90 KB where a real firmware is 8-16 MB, so the
# link and program rates are the real ones divided by ~100: a module spends about what a real
# one does in transfer and programming (~10-20 s), while the host moves 100 times fewer
# bytes (host cost per byte: see the throughput section of docs/performance.md).
if [ "$timing" = 1 ]; then
  # real: 8910 USB CDC download ~1.5 MB/s, NOR program ~250 KB/s, reset ~1 s, AT boot ~3 s
  u_link=15000 u_flash=5000 u_reset=1000 u_boot=3000 u_swdelay=1500
  # real: Crane USB HS bulk ~8 MB/s, program ~400 KB/s, erase ~1 s per partition, reboot ~3 s
  a_link=80000 a_flash=4000 a_erase=300 a_reboot=3000
  # real: EC200A WTPTP ~4 MB/s, program ~300 KB/s, DKB boot 0.5 s, reset 1 s
  w_link=40000 w_flash=4000 w_dkb=500 w_reset=1000
else
  # BENCH_LEAVE_MS (default 1): how soon a download model leaves the bus after the host's
  # command that makes it leave (Unisoc reset, Crane reboot, EC200A DKB boot and reset). At
  # 1 ms it can be gone before the daemon submits its next transfer, which today's daemon
  # reports as a disconnect (a failed attempt, then a second flash of the same module when
  # it comes back: the WARNING lines below); 20 ms keeps throughput runs clean.
  leave=${BENCH_LEAVE_MS:-1}
  u_link=0 u_flash=0 u_reset=$leave u_boot=0 u_swdelay=1
  a_link=0 a_flash=0 a_erase=0 a_reboot=$leave
  w_link=0 w_flash=0 w_dkb=$leave w_reset=$leave
fi

read -r -a platforms <<<"${BENCH_PLATFORMS:-unisoc asr asr1803}"
[ ${#platforms[@]} -gt 0 ] || e2e_fail "BENCH_PLATFORMS is empty"
for p in "${platforms[@]}"; do
  case $p in unisoc | asr | asr1803) ;; *) e2e_fail "BENCH_PLATFORMS: unknown platform '$p'" ;; esac
done
# platform_of SLOT: the platform of slot S (1-based), BENCH_PLATFORMS in turn
platform_of() { echo "${platforms[$((($1 - 1) % ${#platforms[@]}))]}"; }
used=" $(for s in $(seq 1 "$n"); do platform_of "$s"; done | sort -u | tr '\n' ' ')"

image_mb=${BENCH_IMAGE_MB:-}
pkgs="$E2E_TMP/pkgs"
mkdir -p "$pkgs"
# mkpkg_one NAME: prints the package's path; with BENCH_IMAGE_MB the device flash the package
# needs goes to $E2E_TMP/flash_size.NAME (the Crane flashinfo declares it, and the model must
# have exactly that size)
mkpkg_one() {
  if [ -n "$image_mb" ]; then
    "$mkpkg" --firmware "$1" "$pkgs" --image-mb "$image_mb" 2> "$E2E_TMP/mkpkg.err" || return 1
    grep -o 'flash_size=0x[0-9a-f]*' "$E2E_TMP/mkpkg.err" | cut -d= -f2 > "$E2E_TMP/flash_size.$1"
  else
    "$mkpkg" --firmware "$1" "$pkgs"
  fi
}
p_u="" p_a="" p_w=""
fw_u=QPY_OCPU_V0001_EC200U_CNAA_FW fw_a=QPY_OCPU_V0005_EC800M_CNLE_FW fw_w=QPY_OCPU_V0007_EC200A_CNLA_FW
if [[ $used == *" unisoc "* ]]; then p_u=$(mkpkg_one $fw_u) || e2e_fail "mkpkg $fw_u failed"; fi
if [[ $used == *" asr "* ]]; then p_a=$(mkpkg_one $fw_a) || e2e_fail "mkpkg $fw_a failed"; fi
if [[ $used == *" asr1803 "* ]]; then p_w=$(mkpkg_one $fw_w) || e2e_fail "mkpkg $fw_w failed"; fi
# The big image needs a bigger flash in the Unisoc and Crane models (the EC200A model keeps
# only a hash of each image: nothing to raise). The Unisoc model stores written pages up to
# mem_limit (default 64 MiB): allow the whole flash.
u_big="" a_big=""
if [ -n "$image_mb" ]; then
  if [ -n "$p_u" ]; then
    fs=$(cat "$E2E_TMP/flash_size.$fw_u")
    u_big="/flash_size:$fs/mem_limit:$fs"
  fi
  if [ -n "$p_a" ]; then a_big="/flash_size:$(cat "$E2E_TMP/flash_size.$fw_a")"; fi
fi

cols=8
# slot S -> USB port: 16 slots per hub (a hub port number stops at 31)
port_of() { echo "1-$((1 + ($1 - 1) / 16)).$((1 + ($1 - 1) % 16))"; }
{
  printf '[station]\nid = bench\n[http]\nlisten = 127.0.0.1:0\n'
  printf '[rack]\nrows = %d\ncolumns = %d\n' $(((n + cols - 1) / cols)) $cols
  printf '[storage]\ndatabase = @TMP@/flashrack.db\ndata_dir = @TMP@/data\ncache_dir = @TMP@/cache\n'
  printf '[flow]\nretries = 0\nreboot_timeout_ms = 30000\n'
  printf '[limits]\nno_progress_timeout_ms = 20000\n'
  [ -z "$p_u" ] || printf '[recipe ec200u]\npackage = %s\n' "$p_u"
  [ -z "$p_a" ] || printf '[recipe ec800m]\npackage = %s\n' "$p_a"
  [ -z "$p_w" ] || printf '[recipe ec200a]\npackage = %s\n' "$p_w"
  for i in $(seq 1 "$n"); do printf '[slot S%d]\nport = %s\n' "$i" "$(port_of "$i")"; done
} > "$E2E_TMP/bench.conf.in"

# The rack with --verbose: "rack <monotonic ms>: ..." lines go to rack.log.
sed -e "s|@TMP@|$E2E_TMP|g" < "$E2E_TMP/bench.conf.in" > "$E2E_TMP/flashrack.conf"
coproc RACK { exec umockdev-wrapper "$RACK_BIN" --verbose --daemon-log "$E2E_TMP/daemon.log" -- \
              "$DAEMON_BIN" --config "$E2E_TMP/flashrack.conf" 2> "$E2E_TMP/rack.log"; }
rack wait-ready 30000 >/dev/null
E2E_PORT=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$E2E_TMP/daemon.log" | head -1 | sed 's/.*://')
[ -n "$E2E_PORT" ] || e2e_fail "daemon did not log its HTTP address"
dpid=$(pgrep -P "$RACK_PID" -f flashrackd | head -1 || true)
[ -n "$dpid" ] || e2e_fail "no daemon process under the rack"

# plug_module SLOT SERIAL_NO: a fresh module in AT mode on slot SLOT.
plug_module() {
  local s=$1 k=$2 imei
  imei=$(e2e_imei "$k")
  case $(platform_of "$s") in
    unisoc) rack plug "$(port_of "$s")" quectel-unisoc-at series=EC200U submodel=CNAA "imei=$imei" \
         "boot_delay_ms=$u_boot" "download_delay_ms=$u_swdelay" \
         "download_opts=link_rate:$u_link/flash_rate:$u_flash/reset_delay_ms:$u_reset$u_big" >/dev/null ;;
    asr) rack plug "$(port_of "$s")" quectel-at series=EC800M submodel=CNLA "imei=$imei" \
         "boot_delay_ms=$u_boot" "download_delay_ms=$u_swdelay" \
         "download_opts=link_rate:$a_link/flash_rate:$a_flash/erase_ms:$a_erase/reboot_wait_ms:$a_reboot$a_big" >/dev/null ;;
    asr1803) rack plug "$(port_of "$s")" quectel-ec200a-at series=EC200A submodel=CNLA "imei=$imei" \
         "boot_delay_ms=$u_boot" "download_delay_ms=$u_swdelay" \
         "download_opts=link_rate:$w_link/flash_rate:$w_flash/dkb_boot_ms:$w_dkb/reset_delay_ms:$w_reset" >/dev/null ;;
  esac
}

# CPU and memory of the daemon: /proc/PID/stat utime+stime (ticks), status VmRSS/VmHWM.
hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/${1:-$dpid}/stat"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$dpid/status"; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$dpid/status"; }
now_ms() { date +%s%3N; }

# The daemon's loop (flashrack_loop_* on /metrics) and the rack's (rack-stats): how late each
# got to its events during the run, to tell a slow daemon from a slow harness.
metric() { awk -v k="$1" '$1 == k {print $2}' <<<"$2"; }
idle_cpu0=$(cpu_ticks)
idle_rss=$(rss_kb)
sleep 2
idle_cpu=$(($(cpu_ticks) - idle_cpu0)) # ticks in 2 s with N empty slots
t_start=$(now_ms)
cpu0=$(cpu_ticks)
rcpu0=$(cpu_ticks "$RACK_PID")
rack rack-stats reset >/dev/null
m0=$(api /metrics)
load0=$(cut -d' ' -f1 /proc/loadavg)
serial=0
for s in $(seq 1 "$n"); do
  serial=$((serial + 1))
  plug_module "$s" "$serial"
done
# Each slot: wait for pass, pull, plug the next module, ROUNDS times. Polls /api/v1/slots.
declare -A done_rounds
for s in $(seq 1 "$n"); do done_rounds[$s]=0; done
remaining=$n
rss_max=0
deadline=$((SECONDS + E2E_WAIT_S))
while [ "$remaining" -gt 0 ]; do
  [ $SECONDS -lt $deadline ] || e2e_fail "timed out with $remaining slots busy: $(api /api/v1/slots | jq -c '[.slots[] | {label, s: .flow.state}]')"
  states=$(api /api/v1/slots | jq -r '.slots[] | "\(.label) \(.flow.state) \(.flow.code)"') ||
    e2e_fail "the API does not answer: $(rack wait-exit 100 2>&1)"
  while read -r label state code; do
    s=${label#S}
    [ "${done_rounds[$s]:-x}" != x ] || continue
    case $state in
      pass)
        done_rounds[$s]=$((done_rounds[$s] + 1))
        # the download model's final counters (bytes over the link, bytes programmed)
        echo "S$s $(rack last-stats "$(port_of "$s")")" >> "$E2E_TMP/model_stats"
        rack unplug "$(port_of "$s")" >/dev/null
        if [ "${done_rounds[$s]}" -lt "$rounds" ]; then
          serial=$((serial + 1))
          # the tile must go idle before the next module, or its pass is read again
          while [ "$(api "/api/v1/slots/$label" | jq -r .flow.state)" = pass ]; do sleep 0.05; done
          plug_module "$s" "$serial"
        else
          remaining=$((remaining - 1))
          done_rounds[$s]=x
        fi
        ;;
      fail) e2e_fail "$label failed: $code" ;;
    esac
  done <<<"$states"
  r=$(rss_kb)
  [ "$r" -gt "$rss_max" ] && rss_max=$r
  sleep 0.2
done
cpu=$(($(cpu_ticks) - cpu0))
rcpu=$(($(cpu_ticks "$RACK_PID") - rcpu0))
m1=$(api /metrics)
rack_lag=$(rack rack-stats)
load1=$(cut -d' ' -f1 /proc/loadavg)
hwm=$(hwm_kb)
rack_hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$RACK_PID/status")
rack_exit=$(rack quit)
wait "$RACK_PID" 2>/dev/null || true

# ---- figures ----
q() { sql "$1"; }
total=$(q "SELECT count(*) FROM attempts")
pass=$(q "SELECT count(*) FROM attempts WHERE result = 'pass'")
[ "$pass" = $((n * rounds)) ] || e2e_fail "expected $((n * rounds)) passes, got $pass of $total"
# measured: first plug to the last verdict (the DB's end time; unix ms on both sides)
t_last=$(q "SELECT max(ended_unix_ms) FROM attempts")
measured=$((t_last - t_start))

# Ideal: per module, what its models make it wait, from the module's knobs and the download
# model's own counters (last-stats): AT boot, switch delay, every byte over the link, every
# byte programmed, erases, DKB boot / reset / leave, the AT boot (50 ms) on its return.
# Summed per slot; the station's ideal is the slowest slot. (The EC200A's boot-ROM stage,
# ~6 KB, is not in the counters of its last model: the ideal is that much too short.)
stat() { grep -o " $1=[0-9]*" <<<"$2" | head -1 | cut -d= -f2; }
declare -A ideal_slot
while read -r slot rest; do
  rx=$(stat rx_bytes "$rest")
  case $rest in
    *" chip="*) # unisoc
      t=$(awk -v rx="$rx" -v pb="$(stat bytes_written "$rest")" -v l="$u_link" -v f="$u_flash" \
        -v fixed="$((u_boot + u_swdelay + u_reset + 50))" \
        'BEGIN { t = fixed; if (l) t += rx * 1000 / l; if (f) t += pb * 1000 / f; printf "%d", t }') ;;
    *" bytes_programmed="*) # asr
      t=$(awk -v rx="$rx" -v pb="$(stat bytes_programmed "$rest")" -v er="$(stat erases "$rest")" \
        -v l="$a_link" -v f="$a_flash" -v e="$a_erase" -v fixed="$((u_boot + u_swdelay + 100 + 50))" \
        'BEGIN { t = fixed + er * e; if (l) t += rx * 1000 / l; if (f) t += pb * 1000 / f; printf "%d", t }') ;;
    *) # asr1803
      t=$(awk -v rx="$rx" -v pb="$(stat data_bytes "$rest")" -v l="$w_link" -v f="$w_flash" \
        -v fixed="$((u_boot + u_swdelay + w_dkb + w_reset + 50))" \
        'BEGIN { t = fixed; if (l) t += rx * 1000 / l; if (f) t += pb * 1000 / f; printf "%d", t }') ;;
  esac
  ideal_slot[$slot]=$((${ideal_slot[$slot]:-0} + t))
done < "$E2E_TMP/model_stats"
ideal=0 ideal_sum=0
for s in "${!ideal_slot[@]}"; do
  [ "${ideal_slot[$s]}" -gt "$ideal" ] && ideal=${ideal_slot[$s]}
  ideal_sum=$((ideal_sum + ideal_slot[$s]))
done
# Per slot: the time from its first attach to its last verdict (no harness plug stagger).
slot_sum=$(q "SELECT sum(t1 - t0) FROM (SELECT slot, min(ts_unix_ms) t0, (SELECT max(ended_unix_ms)
  FROM attempts a WHERE a.slot = e.slot) t1 FROM slot_events e WHERE event = 'attach' GROUP BY slot)")
plug_spread=$(q "SELECT max(t0) - min(t0) FROM (SELECT min(ts_unix_ms) t0 FROM slot_events WHERE event = 'attach' GROUP BY slot)")
echo "attempt bytes per platform: $(q "SELECT platform || '=' || min(bytes_written) FROM attempts GROUP BY platform" | tr '\n' ' ')"
# Flash phase per attempt: its `flow` events (slot_events, detail.state) `flashing` -> the first
# `rebooting`; the rate is the bytes the daemon wrote (attempts.bytes_written) over that time.
flash_rows=$(q "WITH fl AS (SELECT json_extract(detail, '$.attempt_id') id,
    json_extract(detail, '$.state') st, ts_unix_ms ts FROM slot_events WHERE event = 'flow')
  SELECT a.platform, (SELECT min(ts) FROM fl WHERE fl.id = a.id AND st = 'rebooting') -
    (SELECT min(ts) FROM fl WHERE fl.id = a.id AND st = 'flashing'), a.bytes_written
  FROM attempts a WHERE a.result = 'pass'")

echo
echo "## station_bench N=$n rounds=$rounds timing=$timing"
echo "modules: $((n * rounds)) passes: $pass attempts: $total"
echo "measured_ms: $measured  ideal_ms: $ideal  efficiency: $(awk -v i="$ideal" -v m="$measured" 'BEGIN {printf "%.3f", m ? i / m : 0}')  (first plug command to last verdict; the harness's plugs spread over $plug_spread ms)"
echo "slot_efficiency: $(awk -v i="$ideal_sum" -v m="$slot_sum" 'BEGIN {printf "%.3f", m ? i / m : 0}')  (sum of ideal / sum of attach-to-verdict over slots)"
echo "daemon_cpu_s: $(awk -v c="$cpu" -v h="$hz" 'BEGIN {printf "%.2f", c / h}') over $(awk -v m="$measured" 'BEGIN {printf "%.1f", m / 1000}') s" \
  " (idle: $(awk -v c="$idle_cpu" -v h="$hz" 'BEGIN {printf "%.3f", c / h / 2}') s/s)"
echo "daemon_cpu_per_module_ms: $(awk -v c="$cpu" -v h="$hz" -v k="$((n * rounds))" 'BEGIN {printf "%.1f", c * 1000 / h / k}')"
echo "daemon_cpu_load: $(awk -v c="$cpu" -v h="$hz" -v m="$measured" 'BEGIN {printf "%.3f", c / h / (m / 1000)}') cores"
echo "rack_cpu_load: $(awk -v c="$rcpu" -v h="$hz" -v m="$measured" 'BEGIN {printf "%.3f", c / h / (m / 1000)}') cores  loadavg: $load0 -> $load1"
echo "rss_idle_kb: $idle_rss  rss_max_kb: $rss_max  vmhwm_kb: $hwm  per_job_kb: $(((hwm - idle_rss) / n))  rack_vmhwm_kb: $rack_hwm"
# From the rack's own clock (rack.log): a device announced (uevents sent) -> the daemon's
# first open of its usbfs node or tty. "hotplug": a module the harness plugged; "reenum": a
# model's own re-enumeration (AT -> download port, ROM -> DKB, reboot -> AT).
awk '/: model replug / { split($3, a, ":"); pend[a[1]] = 1 }
  $3 == "announce" { p = $4; t[p] = $2 + 0; kind[p] = pend[p] ? "reenum" : "hotplug"; pend[p] = 0 }
  / opened$/ { split($3, a, ":"); p = a[1]; if (p in t) { print kind[p], $2 - t[p]; delete t[p] } }' \
  "$E2E_TMP/rack.log" > "$E2E_TMP/lat"
pct() { sort -n | awk '{a[NR]=$1} END {if (!NR) {print "-"; exit}
  printf "%d/%d/%d (n=%d)", a[int((NR-1)*0.5)+1], a[int((NR-1)*0.99)+1], a[NR], NR}'; }
echo "hotplug_to_first_open_ms p50/p99/max: $(awk '$1 == "hotplug" {print $2}' "$E2E_TMP/lat" | pct)"
echo "reenum_pickup_ms p50/p99/max: $(awk '$1 == "reenum" {print $2}' "$E2E_TMP/lat" | pct)"
# Daemon loop: busy share over the run, lag histogram of the run (cumulative buckets, before
# and after), the max since start (the idle seconds before add nothing).
busy=$(awk -v a="$(metric flashrack_loop_busy_seconds_total "$m0")" \
  -v b="$(metric flashrack_loop_busy_seconds_total "$m1")" -v m="$measured" \
  'BEGIN {printf "%.3f", m ? (b - a) * 1000 / m : 0}')
lag_q() { # lag_q Q: the upper edge (ms) of the bucket that holds quantile Q of the run's probes
  paste <(grep '^flashrack_loop_lag_seconds_bucket' <<<"$m0") \
        <(grep '^flashrack_loop_lag_seconds_bucket' <<<"$m1") |
    awk -v q="$1" '{ le = $1; sub(/.*le="/, "", le); sub(/".*/, "", le); n[NR] = $4 - $2; e[NR] = le }
      END { t = n[NR]; for (i = 1; i <= NR; i++) if (n[i] >= q * t) {
              print (e[i] == "+Inf" ? ">5000" : "<=" e[i] * 1000); exit } }'
}
echo "daemon_loop: busy $busy of the run  lag p50 $(lag_q 0.5) ms  p99 $(lag_q 0.99) ms  max $(awk -v x="$(metric flashrack_loop_lag_max_seconds "$m1")" 'BEGIN {printf "%.1f", x * 1000}') ms  (100 ms probe; under umockdev the loop also waits for each usbfs ioctl's round trip to the rack)"
echo "rack_loop:${rack_lag#ok rack-stats}"
echo "rack: $rack_exit"
echo "flash phase per platform (flashing -> rebooting; MB = 10^6 bytes):"
awk -F'|' '{ n[$1]++; t[$1] += $2; b[$1] += $3; if (!($1 in lo) || $2 < lo[$1]) lo[$1] = $2
    if ($2 > hi[$1]) hi[$1] = $2 }
  END { for (p in n) printf "  %s: attempts %d  flash_ms mean %d (min %d, max %d)  bytes %d  %.2f MB/s\n",
    p, n[p], t[p] / n[p], lo[p], hi[p], b[p] / n[p], t[p] ? b[p] / t[p] / 1000 : 0 }' <<<"$flash_rows"
# CPU per MiB over every attempt's bytes (a failed attempt's too: its CPU is in the figure)
all_bytes=$(q "SELECT sum(bytes_written) FROM attempts")
echo "daemon_cpu_s_per_MiB: $(awk -v b="$all_bytes" -v c="$cpu" -v h="$hz" 'BEGIN {printf "%.4f", b ? c / h / (b / 1048576) : 0}')" \
  " rack_cpu_s_per_MiB: $(awk -v b="$all_bytes" -v c="$rcpu" -v h="$hz" 'BEGIN {printf "%.4f", b ? c / h / (b / 1048576) : 0}')" \
  " (whole run: identify, switch, flash, verify; rack = models + umockdev)"
# A module whose attempt failed and that the daemon flashed again once it came back in AT
# mode still ends in a pass: say so, the figures then hold two flashes of it.
q "SELECT 'WARNING: failed attempt ' || slot || ' ' || platform || ': ' || coalesce(fail_code, '') ||
  ' ' || coalesce(fail_message, '') FROM attempts WHERE result <> 'pass'"
if [ -n "${BENCH_KEEP:-}" ]; then
  mkdir -p "$BENCH_KEEP"
  cp "$E2E_TMP/flashrack.db" "$E2E_TMP/daemon.log" "$E2E_TMP/rack.log" "$E2E_TMP/model_stats" "$BENCH_KEEP/"
  # the attempt logs (data_dir/attempts/*.log: each session's last I/O), not the packages
  [ ! -d "$E2E_TMP/data/attempts" ] || cp -r "$E2E_TMP/data/attempts" "$BENCH_KEEP/"
fi
