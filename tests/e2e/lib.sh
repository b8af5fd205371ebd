# Shared helpers for end-to-end tests: run the real flashrackd under the virtual rack
# (tests/rack, control protocol in tests/rack/README.md) and talk to it over HTTP.
# Source it from a test script; call e2e_start with the config text on stdin.
set -euo pipefail

: "${FLASHRACK_BUILD_DIR:?run through ctest (FLASHRACK_BUILD_DIR unset)}"
RACK_BIN="$FLASHRACK_BUILD_DIR/tests/rack/flashrack-rack"
DAEMON_BIN="${E2E_DAEMON_BIN:-$FLASHRACK_BUILD_DIR/daemon/flashrackd}"

E2E_TMP=$(mktemp -d /tmp/flashrack-e2e.XXXXXX)
E2E_PORT=""
RACK_PID=""
RX_PID=""

e2e_fail() {
  echo "FAIL: $*" >&2
  if [ -f "$E2E_TMP/daemon.log" ]; then
    # the whole log stays for a look after the temp dir is gone
    mkdir -p "$FLASHRACK_BUILD_DIR/e2e-logs"
    cp "$E2E_TMP/daemon.log" "$FLASHRACK_BUILD_DIR/e2e-logs/$(basename "$0" .sh).log"
    echo "---- whole daemon log: $FLASHRACK_BUILD_DIR/e2e-logs/$(basename "$0" .sh).log" >&2
    echo "---- daemon log (last 40 lines)" >&2
    tail -n 40 "$E2E_TMP/daemon.log" >&2
  fi
  exit 1
}

e2e_cleanup() {
  [ -n "${RX_PID:-}" ] && kill "$RX_PID" 2>/dev/null || true
  # bash unsets RACK and RACK_PID when the coprocess exits
  # (copy the pid: bash unsets RACK_PID when the coprocess exits, and "kill" with an empty
  # or 0 pid would signal this whole process group, ctest included)
  local pid=${RACK_PID:-}
  if [ -n "$pid" ] && [ "$pid" != 0 ] && kill -0 "$pid" 2>/dev/null; then
    [ -n "${RACK[1]:-}" ] && echo quit >&"${RACK[1]}" 2>/dev/null || true
    sleep 0.5
    kill "$pid" 2>/dev/null || true
  fi
  rm -rf "$E2E_TMP"
}
trap e2e_cleanup EXIT

# e2e_rx_start SCRIPT [ARG...]: starts one of the fake MES servers (tests/e2e/SCRIPT, built on
# receiver_base.py) with --port-file and --log (rx.log) in E2E_TMP and the ARGs, waits until it
# listens, and sets RX_PID and RX_PORT. e2e_rx_stop ends it; the cleanup does too.
e2e_rx_start() {
  local script=$1 deadline=$((SECONDS + 20))
  shift
  rm -f "$E2E_TMP/rx.port"
  python3 "$(dirname "${BASH_SOURCE[0]}")/$script" --port-file "$E2E_TMP/rx.port" \
    --log "$E2E_TMP/rx.log" "$@" 2>>"$E2E_TMP/rx.err" &
  RX_PID=$!
  until [ -s "$E2E_TMP/rx.port" ]; do
    [ $SECONDS -lt $deadline ] || e2e_fail "$script did not start: $(cat "$E2E_TMP/rx.err")"
    sleep 0.05
  done
  RX_PORT=$(cat "$E2E_TMP/rx.port")
}
e2e_rx_stop() {
  [ -n "$RX_PID" ] || return 0
  kill "$RX_PID" 2>/dev/null || true
  wait "$RX_PID" 2>/dev/null || true
  RX_PID=""
}

# rack CMD...: sends one command, prints the reply, fails the test unless it starts with "ok".
rack() {
  echo "$*" >&"${RACK[1]}"
  local reply
  if ! IFS= read -r -t 60 reply <&"${RACK[0]}"; then
    e2e_fail "no reply from the rack to '$*'"
  fi
  case "$reply" in
    ok*) echo "$reply" ;;
    *) e2e_fail "rack '$*' answered: $reply" ;;
  esac
}

# e2e_start: config on stdin ("@TMP@" is replaced by the test's temp dir). Call it in the
# current shell (e2e_start < FILE or < <(cmd)), never at the end of a pipe: the rack runs as
# a coprocess of this shell.
e2e_start() {
  sed -e "s|@TMP@|$E2E_TMP|g" > "$E2E_TMP/flashrack.conf"
  coproc RACK { exec umockdev-wrapper "$RACK_BIN" --daemon-log "$E2E_TMP/daemon.log" -- \
                "$DAEMON_BIN" --config "$E2E_TMP/flashrack.conf"; }
  rack wait-ready 30000 >/dev/null
  E2E_PORT=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$E2E_TMP/daemon.log" | head -1 | sed 's/.*://')
  [ -n "$E2E_PORT" ] || e2e_fail "daemon did not log its HTTP address"
}

# api PATH: GET from the daemon, prints the body; fails on a transport error.
api() {
  curl -sS --max-time 10 "http://127.0.0.1:$E2E_PORT$1"
}

# wait_for DESCRIPTION PATH JQ_FILTER: polls until the filter prints "true" (E2E_WAIT_S,
# default 30 s, at most).
wait_for() {
  local what=$1 path=$2 filter=$3 deadline=$((SECONDS + ${E2E_WAIT_S:-30})) out=""
  while [ $SECONDS -lt $deadline ]; do
    out=$(api "$path" | jq -r "$filter" 2>/dev/null || true)
    [ "$out" = "true" ] && return 0
    sleep 0.1
  done
  e2e_fail "timed out waiting for: $what (last: $out); $path: $(api "$path")"
}

# e2e_stop: asks the rack to stop the daemon; fails unless the daemon exited with status 0.
e2e_stop() {
  local reply
  reply=$(rack quit)
  case "$reply" in
    *"status=0"*) ;;
    *) e2e_fail "daemon did not exit cleanly: $reply" ;;
  esac
  wait "${RACK_PID:-}" 2>/dev/null || true
}

sql() {
  sqlite3 -batch -noheader "$E2E_TMP/flashrack.db" "$1"
}

# e2e_imei N: a valid IMEI (Luhn check digit) made from a test TAC and the number N.
e2e_imei() {
  local body sum=0 d i
  body=$(printf '86612305%06d' "$1")
  for ((i = 0; i < 14; i++)); do
    d=${body:i:1}
    if ((i % 2 == 1)); then d=$((d * 2)); ((d > 9)) && d=$((d - 9)); fi
    sum=$((sum + d))
  done
  echo "$body$(((10 - sum % 10) % 10))"
}
