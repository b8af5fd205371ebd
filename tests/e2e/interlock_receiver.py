#!/usr/bin/env python3
"""An MES pre-flash interlock for tests/e2e/interlock_rack.sh (docs/mes-integration.md).

POST /clear with the unit as JSON. It answers 403 with {"reason": ...} to the IMEIs given
with --refuse, holds the answer to the IMEIs given with --hold for --hold-s seconds (so the
test can pull the module while the daemon waits), and 200 to the rest. A request without the
token (--token) is answered 401. Every request becomes one JSON line in --log:
  {"t_ms", "imei", "status", "auth_ok", "body"}
"""
import argparse
import json
import threading
import time

from receiver_base import JsonHandler, serve


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--token", default="")
    ap.add_argument("--refuse", action="append", default=[])
    ap.add_argument("--hold", action="append", default=[])
    ap.add_argument("--hold-s", type=float, default=15)
    args = ap.parse_args()
    lock = threading.Lock()
    log = open(args.log, "a", buffering=1)

    class Handler(JsonHandler):
        def do_POST(self):
            raw = self.read_body()
            auth_ok = self.token_ok(args.token)
            try:
                body = json.loads(raw)
            except ValueError:
                body = {}
            imei = body.get("imei", "") if isinstance(body, dict) else ""
            if self.path != "/clear" or not auth_ok:
                status, answer = 401, {"message": "who are you?"}
            elif imei in args.refuse:
                # control characters and a long tail: the daemon must clean and bound them
                status, answer = 403, {"reason": "unit on QA hold\n(ticket QA-17)\u001b[0m" + "x" * 500}
            else:
                status, answer = 200, {"cleared": True}
            with lock:
                log.write(json.dumps({"t_ms": int(time.time() * 1000), "imei": imei,
                                      "status": status, "auth_ok": auth_ok, "body": body}) + "\n")
            if imei in args.hold:
                time.sleep(args.hold_s)
            try:
                self.send_json(status, answer)
            except OSError:
                pass  # the daemon gave up on this request (the module was pulled)

    serve(Handler, 0, args.port_file)


if __name__ == "__main__":
    main()
