#!/bin/bash
# Self-test of the virtual rack: drives `flashrack-rack -- rack_selftest_client` through the
# control protocol and checks both sides: the device models (stats) and the client's log.
#
# usage: selftest.sh RACK CLIENT [--bench]
#   --bench  64 MiB SINK/SOURCE per device, prints throughput and hotplug latency only
#
# Waits are for conditions with generous deadlines; nothing here asserts on time.
set -u

RACK=$1
CLIENT=$2
MODE=${3:-test}
MIB=4
[ "$MODE" = --bench ] && MIB=64
DEADLINE=${SELFTEST_DEADLINE:-180}

work=$(mktemp -d /tmp/rack-selftest.XXXXXX)
log=$work/client.log
rackerr=$work/rack.err
line=""
status=0

cleanup() {
    if [ -n "${RACK_PID:-}" ] && kill -0 "$RACK_PID" 2>/dev/null; then
        kill "$RACK_PID" 2>/dev/null
        wait "$RACK_PID" 2>/dev/null
    fi
    if [ "$status" != 0 ] || [ -n "${SELFTEST_KEEP:-}" ]; then
        echo "--- rack stderr ($rackerr)"; cat "$rackerr"
        echo "--- client log ($log)"; cat "$log"
    fi
    rm -rf "$work"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*"
    status=1
    exit 1
}

export SELFTEST_MIB=$MIB
coproc RACKP { exec "$RACK" --verbose --daemon-log "$log" -- "$CLIENT" 2>"$rackerr"; }
RACK_PID=$RACKP_PID
exec {TO_RACK}>&"${RACKP[1]}" {FROM_RACK}<&"${RACKP[0]}"

send() {
    echo "> $*"
    echo "$*" >&"$TO_RACK" || fail "rack is gone (sending '$*')"
}

recv() {
    IFS= read -r -t "$DEADLINE" line <&"$FROM_RACK" || fail "no reply from the rack"
    echo "< $line"
}

# cmd ARGS...: one command that must answer "ok".
cmd() {
    send "$*"
    recv
    case $line in ok*) ;; *) fail "'$*' answered '$line'" ;; esac
}

# expect_err ARGS...: one command that must answer "err ...".
expect_err() {
    send "$*"
    recv
    case $line in "err "*) ;; *) fail "'$*' should fail, answered '$line'" ;; esac
}

# wait_log PATTERN [COUNT]: until the client logged PATTERN (COUNT times).
wait_log() {
    local want=${2:-1} end=$((SECONDS + DEADLINE))
    while [ "$(grep -c -- "$1" "$log" 2>/dev/null)" -lt "$want" ]; do
        grep -q "FAIL" "$log" 2>/dev/null && fail "client reported: $(grep FAIL "$log" | head -3)"
        [ $SECONDS -ge $end ] && fail "client never logged '$1'"
        kill -0 "$RACK_PID" 2>/dev/null || fail "rack exited while waiting for '$1'"
        sleep 0.1
    done
}

# stat_is PORT KEY VALUE: the device model's stats for PORT have KEY=VALUE.
stat_is() {
    cmd stats "$1"
    case " $line " in *" $2=$3 "*) ;; *) fail "stats $1: want $2=$3 in '$line'" ;; esac
}

ms_of() { # monotonic ms of the first log line matching $2 in file $1
    grep -m1 -- "$2" "$1" | sed -E 's/^[a-z]+ ([0-9]+):.*/\1/'
}

t_start=$SECONDS
cmd wait-ready 60000
if [ "$MODE" = --bench ]; then
    # One device at a time, so the figures do not share the CPU.
    cmd plug 1-1.2 loopback-usb
    wait_log "usb 1-1.2 holding a pending IN"
    cmd plug 1-1.3 loopback-tty
    wait_log "tty 1-1.3 streaming"
else
    # Both at once: the client serves them concurrently.
    cmd plug 1-1.2 loopback-usb
    cmd plug 1-1.3 loopback-tty
    wait_log "usb 1-1.2 holding a pending IN"
    wait_log "tty 1-1.3 streaming"
fi

if [ "$MODE" != --bench ]; then
    bytes=$((MIB * 1048576))
    stat_is 1-1.2 sink_ok 1
    stat_is 1-1.2 sink_bad 0
    stat_is 1-1.2 rx_bytes $((bytes + 48))   # two 24-byte commands and the SINK data
    stat_is 1-1.2 tx_bytes $((bytes + 40))   # the SINK reply and the SOURCE data
    stat_is 1-1.2 dtr 1                      # CDC SET_CONTROL_LINE_STATE from libusb
    stat_is 1-1.2 baud 921600                # CDC SET_LINE_CODING from libusb
    stat_is 1-1.3 sink_ok 1
    stat_is 1-1.3 sink_bad 0
    stat_is 1-1.3 dtr 1                      # raised by opening the tty
    stat_is 1-1.3 baud 115200                # what libserialport configured
    wait_log "usb 1-1.2 timeout ok"
    wait_log "tty 1-1.3 usbfs view ok"
    cmd list
    [ "$line" = "ok list 1-1.2:loopback-usb 1-1.3:loopback-tty" ] || fail "list: $line"

    # Protocol errors answer "err" and change nothing.
    expect_err plug 1-1.2 loopback-usb
    expect_err plug 1-1.9 no-such-profile
    expect_err plug 1-x loopback-usb
    expect_err plug 1-1.4 loopback-usb bogus_option=1
    expect_err unplug 9-9
    expect_err unplug 1-1
    expect_err stats 9-9
    expect_err signal NOPE
    expect_err frobnicate
fi

# Pull both devices while transfers are pending or streaming.
cmd unplug 1-1.2
wait_log "usb 1-1.2 pending IN ended NO_DEVICE"
wait_log "left 1209:0001 port 1-1.2"
cmd unplug 1-1.3
wait_log "tty 1-1.3 hangup: write -> EIO"
wait_log "left 1209:0002 port 1-1.3"

if [ "$MODE" != --bench ]; then
    # The same port again gets a new address, and the client runs the stream again.
    cmd plug 1-1.2 loopback-usb
    case $line in *" dev=3") fail "re-plug reused address 3: $line" ;; esac
    wait_log "usb 1-1.2 holding a pending IN" 2
    cmd unplug 1-1.2
    wait_log "usb 1-1.2 pending IN ended NO_DEVICE" 2

    # 130 plug/unplug cycles wrap bus 3's addresses (2..127): nodes and ioctl sockets are
    # reused, and a device on a recycled address must still work end to end.
    for i in $(seq 130); do
        send plug 3-1 asr-dl; recv; case $line in ok*) ;; *) fail "cycle $i: $line" ;; esac
        send unplug 3-1; recv; case $line in ok*) ;; *) fail "cycle $i: $line" ;; esac
    done > /dev/null
    cmd plug 3-2 loopback-usb
    wait_log "usb 3-2 holding a pending IN"
    cmd unplug 3-2
    wait_log "usb 3-2 pending IN ended NO_DEVICE"

    # A host that abandons a transfer mid-way (the daemon aborting a flash): the model's
    # link still waits for bytes that never come, a wake-up time now in the past. The rack
    # must stay still (its model timer once fired at 0 ms for ever: full CPU, and no other
    # module re-enumerated) and go on serving the others: the replug below needs that.
    cmd plug 2-1.3 loopback-usb serial=ABANDON link_rate=50000
    wait_log "usb 2-1.3 abandoned the SINK"
    wait_log "usb 2-1.3 closed"
    stat_is 2-1.3 sink_ok 0
    cmd rack-stats reset
    fires0=${line##*timer_fires=} fires0=${fires0%% *}
    cmd sleep 1000
    cmd rack-stats
    fires1=${line##*timer_fires=} fires1=${fires1%% *}
    # The main loop's lag probe runs every 100 ms and counts since the reset above.
    probes=${line##*lag_probes=} probes=${probes%% *}
    [ "$probes" -ge 3 ] || fail "the rack's loop lag probe ran $probes times in 1 s: $line"
    # Nothing plugged has a timed event now, so nothing should wake the rack (a margin of 5
    # for a last link slice that may still have been due).
    [ $((fires1 - fires0)) -le 5 ] ||
        fail "the rack's model timer fired $((fires1 - fires0)) times in 1 s with nothing due (busy loop)"

    # A model can re-enumerate: "silent" leaves after 200 ms and comes back as asr-dl.
    cmd plug 2-1.4 quectel-at leave_after_ms=200 replug=asr-dl
    end=$((SECONDS + DEADLINE))
    while :; do
        cmd list
        case $line in *"2-1.4:asr-dl"*) break ;; esac
        [ $SECONDS -ge $end ] && fail "quectel-at never came back as asr-dl"
        cmd sleep 100
    done
    cmd unplug 2-1.4
    cmd unplug 2-1.3

    # A listener that does not read its uevents (the client stopped; libusb's monitor queue
    # holds 10): the rack waits for room a while, then drops that listener's events as the
    # kernel would, instead of aborting in umockdev's sender (uevent_send.c).
    cmd signal STOP
    for i in $(seq 1 14); do cmd plug "3-1.$i" quectel-at; done
    cmd uevents
    case $line in
        *" dropped=0") fail "no uevent dropped for a stopped listener: $line" ;;
        "ok uevents "*) ;;
        *) fail "uevents: $line" ;;
    esac
    cmd signal CONT
    for i in $(seq 1 14); do cmd unplug "3-1.$i"; done
fi

cmd quit
[ "$line" = "ok quit status=0" ] || fail "client did not exit cleanly: $line"
wait "$RACK_PID"
rc=$?
RACK_PID=
[ "$rc" = 0 ] || fail "flashrack-rack exited $rc"
grep -q "FAIL" "$log" && fail "client reported failures"
grep -q "exit, 0 failure(s)" "$log" || fail "client summary missing"

echo "--- measurements (${MIB} MiB per stream, $((SECONDS - t_start)) s total)"
grep -E "(sink|source) ok" "$log" | sed -E 's/^selftest [0-9]+: //'
plug_ms=$(ms_of "$rackerr" "announce 1-1.2")
arr_ms=$(ms_of "$log" "arrived 1209:0001 port 1-1.2")
[ -n "$plug_ms" ] && [ -n "$arr_ms" ] && echo "hotplug arrival 1-1.2: $((arr_ms - plug_ms)) ms from the rack's add to the client's callback"
left_ms=$(ms_of "$log" "left 1209:0001 port 1-1.2")
unplug_line=$(grep -m1 "unplug 1-1.2 loopback-usb" "$rackerr")
if [ -n "$left_ms" ] && [ -n "$unplug_line" ]; then
    u_end=$(echo "$unplug_line" | sed -E 's/^rack ([0-9]+):.*/\1/')
    u_took=$(echo "$unplug_line" | sed -E 's/.*took ([0-9]+) ms.*/\1/')
    echo "hotplug departure 1-1.2: $((left_ms - (u_end - u_took))) ms from the unplug to the client's callback"
fi
echo "PASS"
