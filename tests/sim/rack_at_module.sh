#!/bin/bash
# Rack check of the at_module model: plug quectel-at as an EC800M CNLA, let rack_at_client
# (the rack's "daemon", inside its testbed) open the AT tty (interface 3), send ATI and
# expect the identity; then check what the model counted.
# usage: rack_at_module.sh RACK CLIENT
set -u
RACK=$1
CLIENT=$2
work=$(mktemp -d /tmp/rack-at.XXXXXX)
trap 'rm -rf "$work"' EXIT
ifdir=/sys/devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1.2/1-1.2:1.3

{
    echo "plug 1-1.2 quectel-at series=EC800M submodel=CNLA"
    echo "wait-exit 120000"
    echo "stats 1-1.2"
    echo "quit"
} | "$RACK" --verbose --daemon-log "$work/client.log" -- "$CLIENT" "$ifdir" \
    "Revision: EC800MCNLAR06A01M08" > "$work/out" 2> "$work/rack.err"
cat "$work/out" "$work/client.log"
fail() {
    echo "FAIL: $*"
    cat "$work/rack.err"
    exit 1
}
grep -q '^ok exit status=0$' "$work/out" || fail "client did not see the ATI answer"
grep -q 'last_command=ATI ' "$work/out" || fail "model did not count ATI last"
grep -q 'revision=EC800MCNLAR06A01M08 ' "$work/out" || fail "model stats"
echo PASS
