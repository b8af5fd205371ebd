#!/usr/bin/env python3
"""How long the daemon's loop is held while GET /api/v1/stats runs (docs/performance.md).

One client asks for a stats window N times, one after the other; another sends
GET /api/v1/station every 5 ms while a stats request is in flight and records how long each
took. A station answer needs only the loop, so its latency is the loop's stall. By hand,
against a flashrackd whose database is big enough to matter (BENCH_KEEP=1 bench_api keeps
its million-attempt file):
  stats_stall.py PORT [N (default 20)] [STATS_QUERY]
Prints p50/p99/max of those station requests and of the stats requests. Asserts nothing.
"""
import http.client
import sys
import threading
import time

port = int(sys.argv[1])
n = int(sys.argv[2]) if len(sys.argv) > 2 else 20
stats_path = sys.argv[3] if len(sys.argv) > 3 else \
    "/api/v1/stats?from=1700913600000&to=1701000000000"  # bench_api's 24 h window
busy = threading.Event()
done = threading.Event()
stats_ms, station_ms = [], []


def get(path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    t = time.perf_counter()
    c.request("GET", path)
    r = c.getresponse()
    r.read()
    c.close()
    if r.status != 200:
        sys.exit("%s answered %d" % (path, r.status))
    return (time.perf_counter() - t) * 1000


def stats():
    for _ in range(n):
        busy.set()
        stats_ms.append(get(stats_path))
        busy.clear()
        time.sleep(0.05)
    done.set()


th = threading.Thread(target=stats)
th.start()
while not done.is_set():
    if busy.is_set():  # started while a stats request was in flight
        station_ms.append(get("/api/v1/station"))
    time.sleep(0.005)
th.join()


def q(a, p):
    a = sorted(a)
    return a[min(len(a) - 1, int(p * len(a)))] if a else float("nan")


print("station while stats ran: n=%d p50=%.2f p99=%.2f max=%.2f ms" %
      (len(station_ms), q(station_ms, .5), q(station_ms, .99), max(station_ms or [0])))
print("stats: n=%d p50=%.1f max=%.1f ms" % (len(stats_ms), q(stats_ms, .5), max(stats_ms)))
