/* How late the rack's main loop gets to things. Device models, tty ptys, replugs and the
 * sysfs writes of every plug all run on that one GLib loop, so when it is late every busy
 * module is slowed by the harness, not by the daemon: the station benchmark reads this next to
 * the daemon's own loop lag (flashrack_loop_lag_seconds) to tell the two apart. A timeout
 * every 100 ms; lateness between consecutive runs, from the monotonic clock. Main thread. */
#include <inttypes.h>

#include "rack_app.h"

#define PROBE_MS 100

static const unsigned edges_ms[RACK_LAG_BUCKETS] = {1, 5, 20, 100, 500};

static struct {
    guint source;
    int64_t last_us;
    struct rack_lag_stats st;
} lag;

static gboolean on_probe(gpointer data)
{
    (void)data;
    int64_t now = g_get_monotonic_time();
    int64_t late = now - (lag.last_us + PROBE_MS * 1000);
    lag.last_us = now;
    uint64_t us = late > 0 ? (uint64_t)late : 0;
    size_t b = 0;
    while (b < RACK_LAG_BUCKETS && us > edges_ms[b] * 1000u)
        b++;
    lag.st.counts[b]++;
    lag.st.probes++;
    lag.st.sum_us += us;
    if (us > lag.st.max_us)
        lag.st.max_us = us;
    return G_SOURCE_CONTINUE;
}

void rack_lag_start(void)
{
    lag.last_us = g_get_monotonic_time();
    lag.source = g_timeout_add(PROBE_MS, on_probe, NULL);
}

void rack_lag_stop(void)
{
    if (lag.source)
        g_source_remove(lag.source);
    lag.source = 0;
}

void rack_lag_format(GString *out, bool reset)
{
    g_string_append_printf(
        out, " lag_probes=%" PRIu64 " lag_mean_ms=%.2f lag_max_ms=%.1f", lag.st.probes,
        lag.st.probes ? (double)lag.st.sum_us / 1000.0 / (double)lag.st.probes : 0.0,
        (double)lag.st.max_us / 1000.0);
    for (size_t b = 0; b <= RACK_LAG_BUCKETS; b++) {
        if (b < RACK_LAG_BUCKETS)
            g_string_append_printf(out, " lag_le_%ums=%" PRIu64, edges_ms[b], lag.st.counts[b]);
        else
            g_string_append_printf(out, " lag_over_%ums=%" PRIu64, edges_ms[b - 1],
                                   lag.st.counts[b]);
    }
    if (reset)
        lag.st = (struct rack_lag_stats){0};
}
