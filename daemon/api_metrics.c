/* GET /metrics: the station in the Prometheus text exposition format (version 0.0.4), for a
 * scraper every few seconds. Everything is read from loop state, except the attempt counters,
 * which come from the records: finished attempts never change, so the totals are counted
 * once and then only the attempts finished since the last scrape are added (finish_seq is
 * indexed), which keeps a scrape cheap with millions of records. */
#include <errno.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "db.h"
#include "db_query.h"
#include "log.h"
#include "loop_health.h"
#include "rack.h"
#include "slot_job.h"
#include "station.h"
#include "workflow.h"

#ifdef HTTP_HAVE_TEXT_REPLIES

/* Running totals of finished attempts by result. One station per process; the key also
 * holds its start time so that a new station (tests start several) starts over. */
static struct {
    const struct db *db;
    const struct station *st;
    uint64_t started_unix_ms;
    int64_t seq; /* the largest finish_seq counted */
    uint64_t counts[DB_RESULT_ABORTED + 1];
} attempt_totals;

static int update_totals(struct station *st)
{
    if (attempt_totals.db != st->db || attempt_totals.st != st ||
        attempt_totals.started_unix_ms != st->started_unix_ms) {
        memset(&attempt_totals, 0, sizeof(attempt_totals));
        attempt_totals.db = st->db;
        attempt_totals.st = st;
        attempt_totals.started_unix_ms = st->started_unix_ms;
    }
    /* Counted into a copy: a failed read must not leave half-added totals behind. */
    uint64_t counts[DB_RESULT_ABORTED + 1];
    int64_t seq = attempt_totals.seq;
    memcpy(counts, attempt_totals.counts, sizeof(counts));
    int r = db_attempts_count_finished(st->db, attempt_totals.seq, counts, &seq);
    if (r < 0)
        return r;
    memcpy(attempt_totals.counts, counts, sizeof(counts));
    attempt_totals.seq = seq;
    return 0;
}

static void family(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void attempts_metrics(FILE *out, struct station *st)
{
    static const enum db_result finished[] = {DB_RESULT_PASS, DB_RESULT_FAIL, DB_RESULT_ABORTED};
    uint64_t running = 0;
    bool ok = st->db && update_totals(st) == 0 && db_attempts_count_running(st->db, &running) == 0;
    family(out, "flashrack_records_up", "gauge",
           "1 when the attempt counters below could be read from the database.");
    fprintf(out, "flashrack_records_up %d\n", ok ? 1 : 0);
    if (!ok) {
        if (st->db)
            log_warning("http: /metrics cannot read the records: %s", db_last_error(st->db));
        return;
    }
    family(out, "flashrack_attempts_total", "counter",
           "Finished attempts in the station's records, by result.");
    for (size_t i = 0; i < sizeof(finished) / sizeof(finished[0]); i++)
        fprintf(out, "flashrack_attempts_total{result=\"%s\"} %llu\n",
                db_result_to_string(finished[i]),
                (unsigned long long)attempt_totals.counts[finished[i]]);
    family(out, "flashrack_attempts_running", "gauge", "Attempts not finished yet.");
    fprintf(out, "flashrack_attempts_running %llu\n", (unsigned long long)running);
    family(out, "flashrack_attempts_finish_seq", "gauge",
           "finish_seq of the latest finished attempt (the MES since_seq cursor).");
    fprintf(out, "flashrack_attempts_finish_seq %lld\n", (long long)attempt_totals.seq);
}

static void slot_metrics(FILE *out, struct station *st)
{
    size_t slots = rack_slot_count(st->rack);
    size_t by_state[SLOT_STATE_COUNT] = {0}, by_flow[FLOW_COUNT] = {0};
    for (size_t i = 0; i < slots; i++) {
        const struct slot *s = rack_slot(st->rack, i);
        struct flow_view v;
        if ((unsigned)s->state < SLOT_STATE_COUNT)
            by_state[s->state]++;
        if (st->workflow && workflow_slot_view(st->workflow, i, &v) == 0 &&
            (unsigned)v.state < FLOW_COUNT)
            by_flow[v.state]++;
    }
    family(out, "flashrack_jobs_active", "gauge", "Jobs (flash sessions) running now.");
    fprintf(out, "flashrack_jobs_active %zu\n", slot_jobs_active(st));
    family(out, "flashrack_slots", "gauge", "Slots by presence state.");
    for (unsigned i = 0; i < SLOT_STATE_COUNT; i++)
        fprintf(out, "flashrack_slots{state=\"%s\"} %zu\n",
                slot_state_to_string((enum slot_state)i), by_state[i]);
    family(out, "flashrack_ports_ignored", "gauge", "Devices on ports no slot maps.");
    fprintf(out, "flashrack_ports_ignored %zu\n", rack_ignored_count(st->rack));
    if (!st->workflow)
        return;
    family(out, "flashrack_slot_flow", "gauge", "Slots by production-flow state.");
    for (unsigned i = 0; i < FLOW_COUNT; i++)
        fprintf(out, "flashrack_slot_flow{state=\"%s\"} %zu\n",
                flow_state_to_string((enum flow_state)i), by_flow[i]);
}

static void http_metrics(FILE *out, struct http_request *req)
{
    struct http_stats hs;
    http_server_stats(http_request_server(req), &hs);
    family(out, "flashrack_http_requests_total", "counter",
           "HTTP requests answered since start, by status class (this scrape not included).");
    for (unsigned c = 1; c <= 5; c++)
        fprintf(out, "flashrack_http_requests_total{code=\"%uxx\"} %llu\n", c,
                (unsigned long long)hs.by_class[c]);
    family(out, "flashrack_http_connections", "gauge", "HTTP connections open now.");
    fprintf(out, "flashrack_http_connections %u\n", hs.connections);
}

/* The loop thread's responsiveness (loop_health.h): flashrackd only. */
static void loop_metrics(FILE *out, const struct loop_health *h)
{
    if (!h)
        return;
    if (h->idle_known) {
        family(out, "flashrack_loop_busy_seconds_total", "counter",
               "Time the loop thread spent running callbacks rather than waiting for events.");
        fprintf(out, "flashrack_loop_busy_seconds_total %.6f\n",
                (double)loop_health_busy_ns(h) / 1e9);
    }
    family(out, "flashrack_loop_lag_seconds", "histogram",
           "How late the loop ran a probe timer due every 100 ms: what any event waited.");
    uint64_t cumulative = 0;
    for (size_t b = 0; b < LOOP_LAG_BUCKETS; b++) {
        cumulative += h->counts[b];
        fprintf(out, "flashrack_loop_lag_seconds_bucket{le=\"%.3f\"} %llu\n",
                loop_lag_bucket_ms[b] / 1000.0, (unsigned long long)cumulative);
    }
    fprintf(out, "flashrack_loop_lag_seconds_bucket{le=\"+Inf\"} %llu\n",
            (unsigned long long)h->probes);
    fprintf(out, "flashrack_loop_lag_seconds_sum %.6f\n", (double)h->sum_ns / 1e9);
    fprintf(out, "flashrack_loop_lag_seconds_count %llu\n", (unsigned long long)h->probes);
    family(out, "flashrack_loop_lag_max_seconds", "gauge", "The largest lag since start.");
    fprintf(out, "flashrack_loop_lag_max_seconds %.6f\n", (double)h->max_ns / 1e9);
}

static void get_metrics(struct http_request *req)
{
    struct station *st = http_request_station(req);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out) {
        http_reply_json(req, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }
    uint64_t now = station_now_unix_ms();
    family(out, "flashrack_build_info", "gauge", "Version of flashrackd.");
    fprintf(out, "flashrack_build_info{version=\"%s\"} 1\n", FLASHRACK_VERSION);
    family(out, "flashrack_start_time_seconds", "gauge", "When flashrackd started (unix time).");
    fprintf(out, "flashrack_start_time_seconds %.3f\n", (double)st->started_unix_ms / 1000.0);
    family(out, "flashrack_uptime_seconds", "gauge", "Seconds since flashrackd started.");
    fprintf(out, "flashrack_uptime_seconds %.3f\n",
            now > st->started_unix_ms ? (double)(now - st->started_unix_ms) / 1000.0 : 0.0);
    attempts_metrics(out, st);
    slot_metrics(out, st);
    http_metrics(out, req);
    loop_metrics(out, st->health);
    bool failed = ferror(out) != 0;
    if (fclose(out) != 0 || failed) {
        free(text);
        text = NULL;
    }
    http_reply_text(req, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", text, len);
}

const struct http_route api_metrics_routes[] = {
    {.methods = HTTP_GET, .pattern = "/metrics", .query = NULL, .handler = get_metrics},
    {.handler = NULL},
};

#else

/* Without text replies in http.h there is nothing to serve /metrics with. */
const struct http_route api_metrics_routes[] = {
    {.handler = NULL},
};

#endif
