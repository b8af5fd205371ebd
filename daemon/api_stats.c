/* GET /api/v1/stats (docs/http.md "Records"): yields, throughput, durations and failures of
 * a window, computed off the loop thread.
 *
 * A day of records at a busy rate takes a quarter of a second of SQL (docs/performance.md);
 * on the loop that would hold USB events, jobs and every other request for as long. So the
 * handler defers its answer (http_request_defer: the connection waits suspended) and a libuv
 * worker opens its own read-only connection to the database file, runs the queries and
 * builds the JSON; the loop only sends it. WAL lets the worker read the last committed
 * state while the loop goes on writing. At most API_STATS_WORKERS windows are computed at
 * once (the thread pool also loads packages); the others wait their turn in arrival order.
 * Without a file to open (an in-memory database) or when the answer cannot be deferred, the
 * queries run on the loop as before. The answer is the same either way. */
#include <errno.h>
#include <limits.h>
#include <microhttpd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "api_records.h"
#include "db.h"
#include "db_query.h"
#include "log.h"
#include "station.h"

#define API_HOUR_MS             3600000ull
#define API_STATS_DEFAULT_MS    (24 * API_HOUR_MS)
#define API_STATS_WINDOW_MAX_MS (7 * 24 * API_HOUR_MS)
#define API_STATS_LIST_MAX      256 /* fail codes, slots */
#define API_STATS_WORKERS       2

/* ---- the answer (any thread: only its own db connection and JSON) ------------------------ */

struct hours {
    json_t *list;
    uint64_t first_hour; /* start of the first bucket */
};

static int add_hour(uint64_t hour_start, uint64_t passes, void *ud)
{
    struct hours *h = ud;
    size_t i = (size_t)((hour_start - h->first_hour) / API_HOUR_MS);
    json_t *bucket = json_array_get(h->list, i);
    return bucket && json_object_set_new(bucket, "passes", json_integer((json_int_t)passes)) == 0
               ? 0
               : -ENOMEM;
}

static int add_code(const char *code, uint64_t count, void *ud)
{
    return json_array_append_new(ud, json_pack("{s:o, s:I}", "code", http_json_string(code),
                                               "count", (json_int_t)count)) < 0
               ? -ENOMEM
               : 0;
}

static int add_slot(const struct db_slot_stats *s, void *ud)
{
    return json_array_append_new(
               ud, json_pack("{s:o, s:I, s:I, s:I, s:I}", "slot", http_json_string(s->slot),
                             "attempts", (json_int_t)s->attempts, "pass", (json_int_t)s->pass,
                             "fail", (json_int_t)s->fail, "aborted", (json_int_t)s->aborted)) < 0
               ? -ENOMEM
               : 0;
}

static json_t *ratio(uint64_t part, uint64_t whole)
{
    return whole ? json_real((double)part / (double)whole) : json_null();
}

/* The body of the answer, or NULL with *ret < 0 (db_last_error(db) says why). */
static json_t *stats_json(struct db *db, uint64_t from, uint64_t to, int *ret)
{
    struct db_stats s;
    struct hours h = {.list = json_array(), .first_hour = from - from % API_HOUR_MS};
    json_t *codes = json_array(), *slots = json_array();
    int r = h.list && codes && slots ? 0 : -ENOMEM;
    /* Every hour of the window is listed, the quiet ones with 0 passes. */
    for (uint64_t t = h.first_hour; r == 0 && t < to; t += API_HOUR_MS)
        if (json_array_append_new(h.list, json_pack("{s:I, s:i}", "hour_start_unix_ms",
                                                    (json_int_t)t, "passes", 0)) < 0)
            r = -ENOMEM;
    if (r == 0)
        r = db_stats_summary(db, from, to, &s);
    if (r == 0)
        r = db_stats_hourly(db, from, to, add_hour, &h);
    if (r >= 0)
        r = db_stats_fail_codes(db, from, to, API_STATS_LIST_MAX, add_code, codes);
    if (r >= 0)
        r = db_stats_slots(db, from, to, API_STATS_LIST_MAX, add_slot, slots);
    if (r < 0) {
        json_decref(h.list);
        json_decref(codes);
        json_decref(slots);
        *ret = r;
        return NULL;
    }
    json_t *durations = s.pass ? json_pack("{s:I, s:I}", "p50", (json_int_t)s.pass_duration_p50_ms,
                                           "p95", (json_int_t)s.pass_duration_p95_ms)
                               : json_null();
    json_t *o = json_pack(
        "{s:I, s:I, s:{s:I, s:I, s:I, s:I}, s:{s:I, s:I, s:I}, s:o, s:o, s:o, s:o, "
        "s:o, s:o}",
        "from_unix_ms", (json_int_t)from, "to_unix_ms", (json_int_t)to, "attempts", "total",
        (json_int_t)s.attempts, "pass", (json_int_t)s.pass, "fail", (json_int_t)s.fail, "aborted",
        (json_int_t)s.aborted, "units", "total", (json_int_t)s.units, "first_pass",
        (json_int_t)s.units_first_pass, "final_pass", (json_int_t)s.units_final_pass,
        "first_pass_yield", ratio(s.units_first_pass, s.units), "final_yield",
        ratio(s.units_final_pass, s.units), "pass_duration_ms", durations, "throughput_per_hour",
        h.list, "failures_by_code", codes, "failures_by_slot", slots);
    *ret = o ? 0 : -ENOMEM;
    return o;
}

/* ---- off the loop -------------------------------------------------------------------------- */

struct stats_job {
    uv_work_t work;
    struct http_deferred *d;
    char path[PATH_MAX];
    uint64_t from, to;
    json_t *body; /* the answer, built by the worker; NULL: error says why */
    int r;
    char error[512];
    char log[PATH_MAX + 256]; /* names the file: for the log, not for the client */
    struct stats_job *next;   /* waiting for a worker */
};

/* Loop thread only. */
static struct stats_queue {
    struct stats_job *head, **tail;
    unsigned running;
} queue = {NULL, &queue.head, 0};

static void on_work(uv_work_t *w)
{
    struct stats_job *job = w->data;
    struct db *db = NULL;
    char err[sizeof(job->error)] = "";

    job->r = db_open_readonly(job->path, &db, err, sizeof(err));
    if (job->r == 0) {
        job->body = stats_json(db, job->from, job->to, &job->r);
        if (!job->body)
            snprintf(job->error, sizeof(job->error), "%s", db_last_error(db));
        db_close(db);
    } else {
        snprintf(job->log, sizeof(job->log), "%s", err); /* logged on the loop */
        snprintf(job->error, sizeof(job->error), "cannot open the database read-only");
    }
}

static void queue_next(uv_loop_t *loop);

static void on_work_done(uv_work_t *w, int status)
{
    struct stats_job *job = w->data;
    uv_loop_t *loop = w->loop;

    queue.running--;
    if (job->log[0])
        log_warning("api: statistics: %s", job->log);
    if (status < 0) {
        job->r = status == UV_ECANCELED ? -ECANCELED : -EIO;
        snprintf(job->error, sizeof(job->error), "the worker did not run");
    }
    if (job->body)
        http_deferred_reply_json(job->d, MHD_HTTP_OK, job->body);
    else
        http_deferred_reply_error(job->d, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                                  "cannot read statistics: %s (%s)", strerror(-job->r), job->error);
    free(job);
    queue_next(loop);
}

static void queue_next(uv_loop_t *loop)
{
    while (queue.head && queue.running < API_STATS_WORKERS) {
        struct stats_job *job = queue.head;
        queue.head = job->next;
        if (!queue.head)
            queue.tail = &queue.head;
        job->work.data = job;
        int r = uv_queue_work(loop, &job->work, on_work, on_work_done);
        if (r < 0) {
            http_deferred_reply_error(job->d, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                                      "cannot read statistics: %s", uv_strerror(r));
            free(job);
            continue;
        }
        queue.running++;
    }
}

/* 0 when a worker will answer (the request is deferred); < 0: answer on the loop instead. */
static int stats_defer(struct http_request *req, uint64_t from, uint64_t to)
{
    struct station *st = http_request_station(req);
    struct stats_job *job = calloc(1, sizeof(*job));

    if (!job)
        return -ENOMEM;
    int r = db_file_path(st->db, job->path, sizeof(job->path));
    if (r < 0 || !(job->d = http_request_defer(req))) {
        free(job);
        return r < 0 ? r : -ENOMEM;
    }
    job->from = from;
    job->to = to;
    *queue.tail = job;
    queue.tail = &job->next;
    queue_next(st->loop);
    return 0;
}

/* ---- the handler ------------------------------------------------------------------------- */

void api_stats_get(struct http_request *req)
{
    struct db *db = http_request_station(req)->db;
    uint64_t now = station_now_unix_ms(), from, to;
    if (http_query_u64(req, "to", 1, INT64_MAX, now, &to) < 0 ||
        http_query_u64(req, "from", 0, INT64_MAX,
                       to > API_STATS_DEFAULT_MS ? to - API_STATS_DEFAULT_MS : 0, &from) < 0)
        return;
    if (from >= to || to - from > API_STATS_WINDOW_MAX_MS) {
        http_reply_error(req, MHD_HTTP_BAD_REQUEST, "bad_request",
                         "'from' must be before 'to' and the window at most %llu ms (7 days)",
                         (unsigned long long)API_STATS_WINDOW_MAX_MS);
        return;
    }
    if (!db) {
        http_reply_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                         "the station has no database");
        return;
    }
    if (stats_defer(req, from, to) == 0)
        return;
    int r;
    json_t *body = stats_json(db, from, to, &r);
    if (body)
        http_reply_json(req, MHD_HTTP_OK, body);
    else
        http_reply_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                         "cannot read statistics: %s (%s)", strerror(-r), db_last_error(db));
}
