/* Aggregates over attempts for the API (db_query.h). The window queries read only the
 * covering index attempts_window (ended_unix_ms first), the unit queries attempts_unit
 * (imei, id, result, ...), both from migration 3: no query here looks up the rows of a
 * window one by one. The plans are printed by tests/bench/bench_api.c (docs/performance.md). */
#include "db_query.h"
#include "db_priv.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* These run a few times per API request, not per row: preparing each time (tens of
 * microseconds) keeps the statement cache of db.c to the write paths. */
static int prepare(struct db *db, const char *sql, sqlite3_stmt **ret)
{
    int rc = sqlite3_prepare_v2(db->conn, sql, -1, ret, NULL);
    if (rc != SQLITE_OK) {
        *ret = NULL;
        return db_fail(db, rc, "prepare query");
    }
    return 0;
}

static int bind_window(struct db *db, sqlite3_stmt *st, uint64_t from, uint64_t to)
{
    int r = db_bind_u64(db, st, 1, from, "from_unix_ms");
    if (r == 0)
        r = db_bind_u64(db, st, 2, to, "to_unix_ms");
    if (r == 0 && from >= to)
        r = db_failf(db, -EINVAL, "empty window: from %llu is not before to %llu",
                     (unsigned long long)from, (unsigned long long)to);
    return r;
}

/* Runs a one-row query and copies its integer columns into out[0..n). */
static int one_row(struct db *db, sqlite3_stmt *st, uint64_t *out, int n, const char *what)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        for (int i = 0; i < n; i++)
            out[i] = db_column_u64(st, i);
        return 0;
    }
    if (rc == SQLITE_DONE) {
        for (int i = 0; i < n; i++)
            out[i] = 0;
        return 0;
    }
    return db_fail(db, rc, what);
}

static const char sql_counts[] =
    "SELECT count(*), coalesce(sum(result = 'pass'), 0), coalesce(sum(result = 'fail'), 0),"
    " coalesce(sum(result = 'aborted'), 0)"
    " FROM attempts WHERE ended_unix_ms >= ?1 AND ended_unix_ms < ?2";

/* First and latest verdicts per unit: both subqueries read the unit's entries of
 * attempts_unit (a handful: one per try), so a unit costs one index probe each. */
static const char sql_units[] =
    "WITH u AS (SELECT DISTINCT imei FROM attempts WHERE ended_unix_ms >= ?1"
    "  AND ended_unix_ms < ?2 AND imei <> '' AND result IN ('pass', 'fail'))"
    " SELECT count(*),"
    " coalesce(sum((SELECT f.result FROM attempts f WHERE f.imei = u.imei"
    "  AND f.result IN ('pass', 'fail') ORDER BY f.id LIMIT 1) = 'pass'), 0),"
    " coalesce(sum((SELECT l.result FROM attempts l WHERE l.imei = u.imei"
    "  AND l.result IN ('pass', 'fail') AND l.ended_unix_ms < ?2"
    "  ORDER BY l.id DESC LIMIT 1) = 'pass'), 0)"
    " FROM u";

/* Both percentiles from one sort: the rows from rank p50 to rank p95 in duration order. */
static const char sql_pass_ranks[] =
    "SELECT duration_ms FROM attempts WHERE result = 'pass' AND ended_unix_ms >= ?1"
    " AND ended_unix_ms < ?2 ORDER BY duration_ms LIMIT ?3 OFFSET ?4";

/* Nearest rank: the smallest value with at least pct % of the values at or below it. */
static uint64_t nearest_rank(uint64_t n, unsigned pct)
{
    return (n * pct + 99) / 100; /* 1-based */
}

static int pass_percentiles(struct db *db, uint64_t from, uint64_t to, struct db_stats *ret)
{
    sqlite3_stmt *st;
    if (ret->pass == 0)
        return 0;
    uint64_t r50 = nearest_rank(ret->pass, 50), r95 = nearest_rank(ret->pass, 95);
    int r = prepare(db, sql_pass_ranks, &st);
    if (r < 0)
        return r;
    r = bind_window(db, st, from, to);
    if (r == 0)
        r = db_bind_u64(db, st, 3, r95 - r50 + 1, "ranks");
    if (r == 0)
        r = db_bind_u64(db, st, 4, r50 - 1, "rank");
    for (uint64_t rank = r50; r == 0; rank++) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_ROW) {
            r = db_fail(db, rc, "pass duration percentiles");
            break;
        }
        if (rank == r50)
            ret->pass_duration_p50_ms = db_column_u64(st, 0);
        ret->pass_duration_p95_ms = db_column_u64(st, 0); /* the last row is rank p95 */
    }
    sqlite3_finalize(st);
    return r;
}

int db_stats_summary(struct db *db, uint64_t from_unix_ms, uint64_t to_unix_ms,
                     struct db_stats *ret)
{
    sqlite3_stmt *st;
    uint64_t v[4] = {0};
    memset(ret, 0, sizeof(*ret));

    int r = prepare(db, sql_counts, &st);
    if (r < 0)
        return r;
    r = bind_window(db, st, from_unix_ms, to_unix_ms);
    if (r == 0)
        r = one_row(db, st, v, 4, "count attempts");
    sqlite3_finalize(st);
    if (r < 0)
        return r;
    ret->attempts = v[0];
    ret->pass = v[1];
    ret->fail = v[2];
    ret->aborted = v[3];

    r = prepare(db, sql_units, &st);
    if (r < 0)
        return r;
    r = bind_window(db, st, from_unix_ms, to_unix_ms);
    if (r == 0)
        r = one_row(db, st, v, 3, "unit yields");
    sqlite3_finalize(st);
    if (r < 0)
        return r;
    ret->units = v[0];
    ret->units_first_pass = v[1];
    ret->units_final_pass = v[2];

    return pass_percentiles(db, from_unix_ms, to_unix_ms, ret);
}

/* Steps st (window bound at 1, 2) and hands each row to row(); finalizes st. */
static int window_rows(struct db *db, sqlite3_stmt *st, uint64_t from, uint64_t to,
                       int (*row)(sqlite3_stmt *st, void *ctx), void *ctx, const char *what)
{
    int r = bind_window(db, st, from, to);
    if (r == 0)
        r = db_rows(db, st, row, ctx, what);
    sqlite3_finalize(st);
    return r;
}

struct hourly_ctx {
    int (*cb)(uint64_t hour_start_unix_ms, uint64_t passes, void *ud);
    void *ud;
};

static int hourly_row(sqlite3_stmt *st, void *ctx)
{
    struct hourly_ctx *c = ctx;
    return c->cb(db_column_u64(st, 0) * 3600000u, db_column_u64(st, 1), c->ud);
}

static const char sql_hourly[] =
    "SELECT ended_unix_ms / 3600000, count(*) FROM attempts WHERE result = 'pass'"
    " AND ended_unix_ms >= ?1 AND ended_unix_ms < ?2 GROUP BY 1 ORDER BY 1";

int db_stats_hourly(struct db *db, uint64_t from_unix_ms, uint64_t to_unix_ms,
                    int (*cb)(uint64_t hour_start_unix_ms, uint64_t passes, void *ud), void *ud)
{
    struct hourly_ctx c = {.cb = cb, .ud = ud};
    sqlite3_stmt *st;
    int r = db_check_list_args(db, 1, cb != NULL);
    if (r == 0)
        r = prepare(db, sql_hourly, &st);
    if (r < 0)
        return r;
    return window_rows(db, st, from_unix_ms, to_unix_ms, hourly_row, &c, "passes per hour");
}

struct codes_ctx {
    int (*cb)(const char *code, uint64_t count, void *ud);
    void *ud;
};

static int codes_row(sqlite3_stmt *st, void *ctx)
{
    struct codes_ctx *c = ctx;
    char code[DB_LABEL_SIZE];
    db_column_field(st, 0, code, sizeof(code));
    return c->cb(code, db_column_u64(st, 1), c->ud);
}

static const char sql_codes[] = "SELECT fail_code, count(*) FROM attempts WHERE result = 'fail'"
                                " AND ended_unix_ms >= ?1 AND ended_unix_ms < ?2"
                                " GROUP BY fail_code ORDER BY 2 DESC, 1 LIMIT ?3";

int db_stats_fail_codes(struct db *db, uint64_t from_unix_ms, uint64_t to_unix_ms, int limit,
                        int (*cb)(const char *code, uint64_t count, void *ud), void *ud)
{
    struct codes_ctx c = {.cb = cb, .ud = ud};
    sqlite3_stmt *st;
    int r = db_check_list_args(db, limit, cb != NULL);
    if (r == 0)
        r = prepare(db, sql_codes, &st);
    if (r < 0)
        return r;
    sqlite3_bind_int(st, 3, limit);
    return window_rows(db, st, from_unix_ms, to_unix_ms, codes_row, &c, "failures by code");
}

struct slots_ctx {
    int (*cb)(const struct db_slot_stats *s, void *ud);
    void *ud;
    struct db_slot_stats row;
};

static int slots_row(sqlite3_stmt *st, void *ctx)
{
    struct slots_ctx *c = ctx;
    db_column_field(st, 0, c->row.slot, sizeof(c->row.slot));
    c->row.attempts = db_column_u64(st, 1);
    c->row.pass = db_column_u64(st, 2);
    c->row.fail = db_column_u64(st, 3);
    c->row.aborted = db_column_u64(st, 4);
    return c->cb(&c->row, c->ud);
}

static const char sql_slots[] =
    "SELECT slot, count(*), sum(result = 'pass'), sum(result = 'fail'), sum(result = 'aborted')"
    " FROM attempts WHERE ended_unix_ms >= ?1 AND ended_unix_ms < ?2"
    " GROUP BY slot ORDER BY slot LIMIT ?3";

int db_stats_slots(struct db *db, uint64_t from_unix_ms, uint64_t to_unix_ms, int limit,
                   int (*cb)(const struct db_slot_stats *s, void *ud), void *ud)
{
    struct slots_ctx c = {.cb = cb, .ud = ud};
    sqlite3_stmt *st;
    int r = db_check_list_args(db, limit, cb != NULL);
    if (r == 0)
        r = prepare(db, sql_slots, &st);
    if (r < 0)
        return r;
    sqlite3_bind_int(st, 3, limit);
    return window_rows(db, st, from_unix_ms, to_unix_ms, slots_row, &c, "attempts by slot");
}

static const char sql_window_ids[] =
    "SELECT coalesce(min(id), 0), coalesce(max(id), 0) FROM attempts"
    " WHERE ended_unix_ms >= ?1 AND ended_unix_ms < ?2";
static const char sql_window_seqs[] =
    "SELECT coalesce(min(finish_seq), 0), coalesce(max(finish_seq), 0) FROM attempts"
    " WHERE ended_unix_ms >= ?1 AND ended_unix_ms < ?2";

int db_window_range(struct db *db, uint64_t from_unix_ms, uint64_t to_unix_ms, bool by_seq,
                    int64_t *lo, int64_t *hi)
{
    sqlite3_stmt *st;
    uint64_t v[2] = {0};
    uint64_t to = to_unix_ms ? to_unix_ms : INT64_MAX;
    *lo = *hi = 0;
    if (from_unix_ms >= to)
        return 0; /* an empty window holds nothing */
    int r = prepare(db, by_seq ? sql_window_seqs : sql_window_ids, &st);
    if (r < 0)
        return r;
    r = bind_window(db, st, from_unix_ms, to);
    if (r == 0)
        r = one_row(db, st, v, 2, "window range");
    sqlite3_finalize(st);
    if (r == 0) {
        *lo = (int64_t)v[0];
        *hi = (int64_t)v[1];
    }
    return r;
}

static const char sql_unit[] =
    "SELECT count(*), coalesce(sum(result = 'pass'), 0), coalesce(sum(result = 'fail'), 0),"
    " coalesce(sum(result = 'aborted'), 0), coalesce(sum(result = 'running'), 0),"
    " coalesce(min(id), 0), coalesce(max(id), 0) FROM attempts WHERE imei = ?1";
static const char sql_unit_verdict[] =
    "SELECT id, result, ended_unix_ms FROM attempts WHERE imei = ?1 AND result <> 'running'"
    " ORDER BY id DESC LIMIT 1";

int db_unit_get(struct db *db, const char *imei, struct db_unit *ret)
{
    sqlite3_stmt *st;
    uint64_t v[7] = {0};
    memset(ret, 0, sizeof(*ret));
    if (!imei || !*imei)
        return db_failf(db, -EINVAL, "empty IMEI");

    int r = prepare(db, sql_unit, &st);
    if (r < 0)
        return r;
    r = db_bind_field(db, st, 1, imei, DB_IMEI_SIZE, "imei");
    if (r == 0)
        r = one_row(db, st, v, 7, "unit history");
    sqlite3_finalize(st);
    if (r < 0)
        return r;
    if (v[0] == 0)
        return db_failf(db, -ENOENT, "no attempt with IMEI %s", imei);
    ret->attempts = v[0];
    ret->pass = v[1];
    ret->fail = v[2];
    ret->aborted = v[3];
    ret->running = v[4];
    ret->first_id = (int64_t)v[5];
    ret->latest_id = (int64_t)v[6];

    r = prepare(db, sql_unit_verdict, &st);
    if (r < 0)
        return r;
    r = db_bind_field(db, st, 1, imei, DB_IMEI_SIZE, "imei");
    if (r == 0) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            int res = db_result_from_string((const char *)sqlite3_column_text(st, 1));
            ret->verdict_id = sqlite3_column_int64(st, 0);
            ret->verdict = res < 0 ? DB_RESULT_ANY : (enum db_result)res;
            ret->verdict_unix_ms = db_column_u64(st, 2);
        } else if (rc != SQLITE_DONE) {
            r = db_fail(db, rc, "unit verdict");
        }
    }
    sqlite3_finalize(st);
    return r;
}

/* From the start: a scan of the (covering) result index, and the largest finish_seq, in one
 * statement so both come from the same snapshot. After that only the attempts finished since
 * the last call are read, through the finish_seq index: a GROUP BY there would make SQLite
 * walk the whole result index instead. */
static const char sql_finished_all[] =
    "SELECT result, count(*), (SELECT coalesce(max(finish_seq), 0) FROM attempts)"
    " FROM attempts GROUP BY result";
static const char sql_finished_since[] =
    "SELECT result, 1, finish_seq FROM attempts WHERE finish_seq > ?1";

int db_attempts_count_finished(struct db *db, int64_t after_seq, uint64_t counts[5],
                               int64_t *ret_max_seq)
{
    sqlite3_stmt *st;
    int r = prepare(db, after_seq > 0 ? sql_finished_since : sql_finished_all, &st);
    if (r < 0)
        return r;
    if (after_seq > 0)
        sqlite3_bind_int64(st, 1, after_seq);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int res = db_result_from_string((const char *)sqlite3_column_text(st, 0));
        int64_t max = sqlite3_column_int64(st, 2);
        if (res > DB_RESULT_RUNNING && res <= DB_RESULT_ABORTED)
            counts[res] += db_column_u64(st, 1);
        if (max > *ret_max_seq)
            *ret_max_seq = max;
    }
    if (rc != SQLITE_DONE)
        r = db_fail(db, rc, "count finished attempts");
    sqlite3_finalize(st);
    return r;
}

static const char sql_running[] = "SELECT count(*) FROM attempts WHERE result = 'running'";

int db_attempts_count_running(struct db *db, uint64_t *ret)
{
    sqlite3_stmt *st;
    int r = prepare(db, sql_running, &st);
    if (r < 0)
        return r;
    r = one_row(db, st, ret, 1, "count running attempts");
    sqlite3_finalize(st);
    return r;
}

int db_file_path(struct db *db, char *out, size_t outlen)
{
    const char *f = sqlite3_db_filename(db->conn, "main");

    if (!f || !*f)
        return -ENOENT;
    if ((size_t)snprintf(out, outlen, "%s", f) >= outlen)
        return -ENAMETOOLONG;
    return 0;
}
