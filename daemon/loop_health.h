/* How responsive the loop thread is: one thread owns every slot, USB transfer and HTTP
 * request, so a callback that takes long delays all of them. A probe timer measures how late
 * the loop gets to it (the lag any event waited), and libuv's idle-time metric gives the
 * share of time the loop was busy rather than waiting for events. Served on /metrics and
 * read by the station benchmark: "the daemon is never the bottleneck" as figures. */
#ifndef FLASHRACK_LOOP_HEALTH_H
#define FLASHRACK_LOOP_HEALTH_H

#include <stdint.h>
#include <uv.h>

/* Upper bounds (ms) of the lag histogram's buckets; one more bucket holds the rest. */
#define LOOP_LAG_BUCKETS 11
extern const uint32_t loop_lag_bucket_ms[LOOP_LAG_BUCKETS];

struct loop_health {
    uv_timer_t timer;
    uv_loop_t *loop;
    int on;
    int idle_known; /* uv_metrics_idle_time works on this loop */
    uint64_t period_ms;
    uint64_t start_ns, last_ns;            /* uv_hrtime() at start and at the last probe */
    uint64_t idle_start_ns;                /* libuv's idle total when started */
    uint64_t counts[LOOP_LAG_BUCKETS + 1]; /* per bucket, not cumulative */
    uint64_t probes, sum_ns, max_ns;
};

/* Starts the probe on loop every period_ms and turns on libuv's idle-time metric (call before
 * uv_run). 0 or a negative errno. */
int loop_health_start(struct loop_health *h, uv_loop_t *loop, uint64_t period_ms);
/* Closes the probe timer (its close callback runs on the loop). */
void loop_health_close(struct loop_health *h);
/* Counts one probe that ran lag_ns late (exposed for tests). */
void loop_health_record(struct loop_health *h, uint64_t lag_ns);
/* Nanoseconds the loop was not waiting for events since start; 0 when libuv cannot tell. */
uint64_t loop_health_busy_ns(const struct loop_health *h);

#endif
