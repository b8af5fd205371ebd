/* Loop responsiveness (loop_health.h). The probe is a repeating libuv timer: libuv runs due
 * timers first in an iteration, so a probe is late by what the previous iteration's callbacks
 * took (plus the poll's millisecond rounding), which is what any USB completion or request
 * that arrived meanwhile waited too. Lateness is measured between consecutive probes with
 * uv_hrtime, not uv_now: the loop's cached time may be a coarse clock. */
#include "loop_health.h"

#include <errno.h>
#include <string.h>

const uint32_t loop_lag_bucket_ms[LOOP_LAG_BUCKETS] = {1,   2,   5,   10,   20,  50,
                                                       100, 200, 500, 1000, 5000};

void loop_health_record(struct loop_health *h, uint64_t lag_ns)
{
    size_t b = 0;
    while (b < LOOP_LAG_BUCKETS && lag_ns > (uint64_t)loop_lag_bucket_ms[b] * 1000000u)
        b++;
    h->counts[b]++;
    h->probes++;
    h->sum_ns += lag_ns;
    if (lag_ns > h->max_ns)
        h->max_ns = lag_ns;
}

static void on_probe(uv_timer_t *t)
{
    struct loop_health *h = t->data;
    uint64_t now = uv_hrtime();
    uint64_t due = h->last_ns + h->period_ms * 1000000u;
    h->last_ns = now;
    loop_health_record(h, now > due ? now - due : 0);
}

int loop_health_start(struct loop_health *h, uv_loop_t *loop, uint64_t period_ms)
{
    memset(h, 0, sizeof(*h));
    if (!loop || period_ms == 0)
        return -EINVAL;
    h->loop = loop;
    h->period_ms = period_ms;
    /* Idle time is only counted once asked for; a loop that refuses still gets the probe. */
    h->idle_known = uv_loop_configure(loop, UV_METRICS_IDLE_TIME) == 0;
    h->idle_start_ns = h->idle_known ? uv_metrics_idle_time(loop) : 0;
    int r = uv_timer_init(loop, &h->timer);
    if (r < 0)
        return r;
    h->timer.data = h;
    uv_unref((uv_handle_t *)&h->timer); /* the probe alone does not keep the daemon running */
    h->start_ns = h->last_ns = uv_hrtime();
    r = uv_timer_start(&h->timer, on_probe, period_ms, period_ms);
    if (r < 0) {
        uv_close((uv_handle_t *)&h->timer, NULL);
        return r;
    }
    h->on = 1;
    return 0;
}

void loop_health_close(struct loop_health *h)
{
    if (!h->on)
        return;
    h->on = 0;
    uv_close((uv_handle_t *)&h->timer, NULL);
}

uint64_t loop_health_busy_ns(const struct loop_health *h)
{
    if (!h->idle_known || !h->loop)
        return 0;
    uint64_t wall = uv_hrtime() - h->start_ns;
    uint64_t idle = uv_metrics_idle_time(h->loop) - h->idle_start_ns;
    return wall > idle ? wall - idle : 0;
}
