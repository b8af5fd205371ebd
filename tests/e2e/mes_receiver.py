#!/usr/bin/env python3
"""A deliberately unreliable MES for tests/e2e/mes_rack.sh.

POST /records with a JSON attempt record and "Idempotency-Key: <attempt uuid>". It answers
500 to a share of the requests (--fail-ratio, seeded, so a run can be repeated), 409 to a
key it has accepted before (the MES idempotency contract: "I have it already"), 201 to the
rest. Every request becomes one JSON line in --log (appended, so the log survives a
restart of this process, which is how the test makes the MES "down"):
  {"t_ms", "key", "uuid", "status", "auth_ok", "why"}
A request whose body does not name the same attempt as its key, or that lacks the token,
is answered 400 and logged with "why": the test fails on any such line.
While --hold-file exists, a 201 is logged (the record is stored) but its answer is held back
until the file goes: the test kills the daemon in that window, so the daemon never learns
that the record arrived and must send it again (and get 409).
"""
import argparse
import json
import os
import random
import threading
import time

from receiver_base import JsonHandler, serve


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--token", default="")
    ap.add_argument("--fail-ratio", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--hold-file", default="")
    args = ap.parse_args()

    rng = random.Random(args.seed)
    lock = threading.Lock()
    accepted = set()
    # A restarted receiver must still know what it accepted: read back its own log.
    try:
        with open(args.log) as f:
            for line in f:
                rec = json.loads(line)
                if 200 <= rec["status"] < 300:
                    accepted.add(rec["key"])
    except FileNotFoundError:
        pass
    log = open(args.log, "a", buffering=1)

    class Handler(JsonHandler):
        def do_POST(self):
            raw = self.read_body()
            key = self.headers.get("Idempotency-Key", "")
            auth_ok = self.token_ok(args.token)
            why = ""
            uuid = ""
            try:
                rec = json.loads(raw)
                uuid = rec.get("attempt_uuid", "")
                for field in ("id", "result", "started_unix_ms", "ended_unix_ms", "slot"):
                    if field not in rec:
                        why = "body lacks " + field
            except ValueError as e:
                why = "body is not JSON: %s" % e
            if self.path != "/records":
                why = "path " + self.path
            elif not key or key != uuid:
                why = "key %r does not match body attempt_uuid %r" % (key, uuid)
            elif not auth_ok:
                why = "bad Authorization"
            with lock:
                if why:
                    status = 400
                elif key in accepted:
                    status = 409
                elif rng.random() < args.fail_ratio:
                    status = 500
                else:
                    status = 201
                    accepted.add(key)
                log.write(json.dumps({"t_ms": int(time.time() * 1000), "key": key, "uuid": uuid,
                                      "status": status, "auth_ok": auth_ok, "why": why}) + "\n")
            for _ in range(600):
                if status != 201 or not args.hold_file or not os.path.exists(args.hold_file):
                    break
                time.sleep(0.05)
            text = why or {500: "try later", 409: "duplicate"}.get(status, "ok")
            self.send_json(status, {"status": text})

    serve(Handler, args.port, args.port_file)


if __name__ == "__main__":
    main()
