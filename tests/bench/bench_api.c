/* API latency over a large record store: fills a database with N attempts (default one
 * million, in one transaction with raw SQL: only the fill is fast-pathed, every query goes
 * through the daemon's code), starts the real HTTP server in this process on its own loop
 * thread, keeps 32 attempts running and a writer finishing and starting attempts on the loop
 * (the write load of a busy 32-slot rack, a pessimistic 10 attempts/s), and measures the
 * main read queries from a client over real sockets. Prints p50/p99 per query and the query
 * plans; asserts nothing about time, only that each answer is a 200 (and counts rows).
 *
 *   bench_api [attempts (default 1000000)] [requests per query (default 200)] [directory]
 * Environment: BENCH_SQL=<sql> runs after the fill (to try an index before it becomes a
 * migration); BENCH_KEEP=1 leaves the directory with the database behind.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "config.h"
#include "db.h"
#include "http.h"
#include "rack.h"
#include "station.h"

#define BASE_MS  1700000000000ull /* the first attempt starts here, one per second after */
#define SLOTS    32
#define RUNNING  32
#define HOUR_MS  3600000ull
#define RESP_MAX (64u << 20)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *fmt, const char *detail)
{
    fprintf(stderr, "bench_api: ");
    fprintf(stderr, fmt, detail);
    fputc('\n', stderr);
    exit(1);
}

/* ---- the fill --------------------------------------------------------------------------- */

static const char sql_fill[] =
    "INSERT INTO attempts (attempt_uuid, station_id, slot, usb_path, operator, work_order, lot,"
    " module_model, ordering_code, submodel, platform, imei, revision_before, revision_after,"
    " package_name, package_version, package_sha256, protocol, attempt_no, started_unix_ms,"
    " ended_unix_ms, duration_ms, bytes_written, result, fail_stage, fail_code, fail_message,"
    " log_ref, finish_seq) VALUES (?1, 'station-07', ?2, ?3, ?4, ?5, ?6, 'EC800M',"
    " 'EC800MCNGA-I05-SGNSA', 'CNGA', 'asr', ?7, 'EC800MCNGAR01A01M08', ?8,"
    " 'QPY_OCPU_V0001_EC800M_CNGA_FW.zip', 'V0001', ?9, 'asr', ?10, ?11, ?12, ?13, 7340032, ?14,"
    " ?15, ?16, ?17, ?18, ?19)";

static const char *const fail_codes[] = {"handshake_timeout", "io_error", "verify_mismatch",
                                         "device_rejected", "port_missing"};

static void slot_label(int i, char *out, size_t size)
{
    snprintf(out, size, "%c%d", 'A' + (i % SLOTS) / 8, i % 8 + 1);
}

/* One row a second, 32 slots, 4 work orders per 100k, 1 in 20 units retried (the retry
 * follows its first try); 94% pass, 5% fail, 1% aborted. Finished in id order. */
static void fill(const char *path, int n)
{
    sqlite3 *c;
    sqlite3_stmt *st;
    char sha[65];
    memset(sha, '7', 64);
    sha[64] = '\0';
    if (sqlite3_open(path, &c) != SQLITE_OK)
        die("cannot open %s", path);
    sqlite3_exec(c, "PRAGMA synchronous=OFF; PRAGMA cache_size=-400000; BEGIN", NULL, NULL, NULL);
    if (sqlite3_prepare_v2(c, sql_fill, -1, &st, NULL) != SQLITE_OK)
        die("prepare fill: %s", sqlite3_errmsg(c));
    for (int i = 0; i < n; i++) {
        char uuid[40], slot[8], usb[16], op[8], wo[24], lot[16], imei[20], ref[64] = "";
        int unit = i % 20 == 19 ? i - 1 : i;
        int roll = (int)((unsigned)i * 2654435761u % 100);
        const char *result = roll < 94 ? "pass" : roll < 99 ? "fail" : "aborted";
        uint64_t start = BASE_MS + (uint64_t)i * 1000, dur = 30000 + (uint64_t)(i % 61) * 1000;
        snprintf(uuid, sizeof(uuid), "%08x-0000-4000-8000-%012x", (unsigned)i, (unsigned)i);
        slot_label(i, slot, sizeof(slot));
        snprintf(usb, sizeof(usb), "1-4.%d.%d", (i % SLOTS) / 8 + 1, i % 8 + 1);
        snprintf(op, sizeof(op), "op-%d", i % 3);
        snprintf(wo, sizeof(wo), "WO-2024-%04d", i / 25000);
        snprintf(lot, sizeof(lot), "LOT-%d", i / 5000);
        snprintf(imei, sizeof(imei), "86%013d", unit);
        bool failed = result[0] == 'f';
        if (failed)
            snprintf(ref, sizeof(ref), "attempts/%s.log", uuid);
        sqlite3_bind_text(st, 1, uuid, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, slot, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, usb, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 4, op, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 5, wo, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 6, lot, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 7, imei, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 8, failed ? "" : "EC800MCNGAR06A01M08", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 9, sha, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 10, unit == i ? 1 : 2);
        sqlite3_bind_int64(st, 11, (sqlite3_int64)start);
        sqlite3_bind_int64(st, 12, (sqlite3_int64)(start + dur));
        sqlite3_bind_int64(st, 13, (sqlite3_int64)dur);
        sqlite3_bind_text(st, 14, result, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 15, failed ? "flash" : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 16, failed ? fail_codes[i % 5] : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 17, failed ? "no answer to FLASH_DATA in 5000 ms" : "", -1,
                          SQLITE_STATIC);
        sqlite3_bind_text(st, 18, ref, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 19, i + 1);
        if (sqlite3_step(st) != SQLITE_DONE)
            die("fill: %s", sqlite3_errmsg(c));
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    if (sqlite3_exec(c, "COMMIT; PRAGMA wal_checkpoint(TRUNCATE); ANALYZE", NULL, NULL, NULL) !=
        SQLITE_OK)
        die("commit fill: %s", sqlite3_errmsg(c));
    /* To try an index before it becomes a migration. */
    if (getenv("BENCH_SQL") && sqlite3_exec(c, getenv("BENCH_SQL"), NULL, NULL, NULL) != SQLITE_OK)
        die("BENCH_SQL: %s", sqlite3_errmsg(c));
    sqlite3_close(c);
}

static void print_plan(sqlite3 *c, const char *label, const char *sql)
{
    sqlite3_stmt *st;
    char q[2048];
    snprintf(q, sizeof(q), "EXPLAIN QUERY PLAN %s", sql);
    if (sqlite3_prepare_v2(c, q, -1, &st, NULL) != SQLITE_OK)
        die("explain: %s", sqlite3_errmsg(c));
    printf("  plan %-22s", label);
    while (sqlite3_step(st) == SQLITE_ROW)
        printf(" | %s", (const char *)sqlite3_column_text(st, 3));
    printf("\n");
    sqlite3_finalize(st);
}

/* ---- the server, with 32 attempts running and a writer ------------------------------------- */

struct server {
    uv_loop_t loop;
    struct station st;
    uv_thread_t thread;
    uv_async_t stop;
    uv_timer_t writer;
    int64_t running[RUNNING];
    unsigned next, written;
    uint16_t port;
};

static void begin_one(struct server *s, unsigned k)
{
    struct db_attempt a;
    memset(&a, 0, sizeof(a));
    slot_label((int)k, a.slot, sizeof(a.slot));
    snprintf(a.imei, sizeof(a.imei), "87%013u", s->written + k);
    snprintf(a.work_order, sizeof(a.work_order), "WO-LIVE");
    a.started_unix_ms = station_now_unix_ms();
    if (db_attempt_begin(s->st.db, &a, &s->running[k]) < 0)
        die("begin: %s", db_last_error(s->st.db));
}

/* Every 100 ms one of the 32 running attempts finishes and its slot starts the next. */
static void on_write(uv_timer_t *t)
{
    struct server *s = t->data;
    unsigned k = s->next++ % RUNNING;
    struct db_attempt a;
    if (db_attempt_get(s->st.db, s->running[k], &a) < 0)
        die("get: %s", db_last_error(s->st.db));
    a.result = DB_RESULT_PASS;
    a.ended_unix_ms = station_now_unix_ms();
    a.duration_ms = a.ended_unix_ms - a.started_unix_ms;
    if (db_attempt_finish(s->st.db, &a) < 0)
        die("finish: %s", db_last_error(s->st.db));
    s->written++;
    begin_one(s, k);
}

static void on_closed(void *ud)
{
    (void)ud;
}

static void on_stop(uv_async_t *a)
{
    struct server *s = a->data;
    http_close(s->st.http, on_closed, NULL);
    uv_close((uv_handle_t *)&s->writer, NULL);
    uv_close((uv_handle_t *)&s->stop, NULL);
}

static void loop_thread(void *arg)
{
    struct server *s = arg;
    uv_run(&s->loop, UV_RUN_DEFAULT);
}

static void server_start(struct server *s, const char *db_path, const char *data_dir)
{
    char cfg[8192], err[256];
    int n = snprintf(cfg, sizeof(cfg),
                     "[http]\nlisten = 127.0.0.1:0\nmax_connections = 64\n[storage]\n"
                     "data_dir = %s\n[rack]\nrows = 4\ncolumns = 8\n",
                     data_dir);
    for (int i = 0; i < SLOTS; i++) {
        char label[8];
        slot_label(i, label, sizeof(label));
        n += snprintf(cfg + n, sizeof(cfg) - (size_t)n,
                      "[slot %s]\nport = 1-4.%d.%d\nrow = %d\ncolumn = %d\n", label, i / 8 + 1,
                      i % 8 + 1, i / 8 + 1, i % 8 + 1);
    }
    if (config_load_string(cfg, &s->st.cfg, err, sizeof(err)) < 0)
        die("config: %s", err);
    uv_loop_init(&s->loop);
    s->st.loop = &s->loop;
    s->st.started_unix_ms = station_now_unix_ms();
    if (db_open(db_path, &s->st.db, err, sizeof(err)) < 0)
        die("db_open: %s", err);
    if (rack_new(&s->st.cfg, s->st.db, &s->st.rack) < 0 || http_start(&s->st, &s->st.http) < 0)
        die("%s", "cannot start the rack or the server");
    s->port = http_port(s->st.http);
    for (unsigned k = 0; k < RUNNING; k++)
        begin_one(s, k);
    uv_timer_init(&s->loop, &s->writer);
    s->writer.data = s;
    uv_timer_start(&s->writer, on_write, 100, 100);
    uv_async_init(&s->loop, &s->stop, on_stop);
    s->stop.data = s;
    uv_thread_create(&s->thread, loop_thread, s);
}

static void server_stop(struct server *s)
{
    uv_async_send(&s->stop);
    uv_thread_join(&s->thread);
    uv_loop_close(&s->loop);
    rack_free(s->st.rack);
    db_close(s->st.db);
}

/* ---- the client ----------------------------------------------------------------------------- */

static char *resp_buf;

/* One GET over a fresh connection; returns the bytes of the answer, dies unless 200. */
static size_t get(uint16_t port, const char *target)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    struct timeval tv = {60, 0};
    char req[1024];
    size_t len = 0;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
        die("connect: %s", strerror(errno));
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n",
                     target);
    if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n)
        die("send: %s", strerror(errno));
    for (;;) {
        ssize_t got = recv(fd, resp_buf + len, RESP_MAX - len, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            die("recv: %s", strerror(errno));
        if (got == 0 || (len += (size_t)got) == RESP_MAX)
            break;
    }
    close(fd);
    if (len < 12 || strncmp(resp_buf, "HTTP/1.1 200", 12) != 0) {
        resp_buf[len < 300 ? len : 300] = '\0';
        die("answer: %s", resp_buf);
    }
    return len;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void measure(uint16_t port, const char *label, const char *target, int reps)
{
    double *t = malloc(sizeof(double) * (size_t)reps);
    size_t bytes = 0;
    for (int i = 0; i < reps; i++) {
        double t0 = now_s();
        bytes = get(port, target);
        t[i] = (now_s() - t0) * 1000.0;
    }
    qsort(t, (size_t)reps, sizeof(double), cmp_double);
    printf("| %-26s | %8.2f | %8.2f | %8.2f | %9zu | `%s`\n", label, t[reps / 2],
           t[(reps * 99 + 99) / 100 - 1], t[reps - 1], bytes, target);
    free(t);
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 1000000, reps = argc > 2 ? atoi(argv[2]) : 200;
    const char *base = argc > 3 ? argv[3] : getenv("TMPDIR");
    char dir[512], path[600], data[600], err[256];
    struct db *db;
    if (n < 10000 || reps < 1) {
        fprintf(stderr, "usage: bench_api [attempts >= 10000] [requests per query] [dir]\n");
        return 2;
    }
    snprintf(dir, sizeof(dir), "%s/flashrack-bench-api-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir))
        die("mkdtemp: %s", strerror(errno));
    snprintf(path, sizeof(path), "%s/station.db", dir);
    snprintf(data, sizeof(data), "%s/data", dir);
    mkdir(data, 0750);
    if (db_open(path, &db, err, sizeof(err)) < 0) /* the schema, at this binary's version */
        die("db_open: %s", err);
    db_close(db);
    double t0 = now_s();
    fill(path, n);
    printf("bench_api: %d attempts filled in %.1f s (one transaction), %d requests per query\n", n,
           now_s() - t0, reps);

    /* The plans of the queries below, as SQLite chose them on this file. */
    sqlite3 *c;
    sqlite3_open_v2(path, &c, SQLITE_OPEN_READONLY, NULL);
    print_plan(c, "list by work_order",
               "SELECT * FROM attempts WHERE id > 0 AND work_order = 'x' ORDER BY id LIMIT 100");
    print_plan(c, "list by slot",
               "SELECT * FROM attempts WHERE id > 0 AND slot = 'x' ORDER BY id LIMIT 100");
    print_plan(c, "window id range",
               "SELECT min(id), max(id) FROM attempts WHERE"
               " ended_unix_ms >= 1 AND ended_unix_ms < 2");
    print_plan(c, "window page", "SELECT * FROM attempts WHERE id > 5 ORDER BY id LIMIT 500");
    print_plan(c, "unit first verdict",
               "SELECT result FROM attempts WHERE imei = 'x' AND result IN ('pass', 'fail')"
               " ORDER BY id LIMIT 1");
    print_plan(c, "metrics since seq",
               "SELECT result, 1, finish_seq FROM attempts WHERE finish_seq > 5");
    print_plan(c, "stats pass percentile",
               "SELECT duration_ms FROM attempts WHERE result = 'pass' AND ended_unix_ms >= 1"
               " AND ended_unix_ms < 2 ORDER BY duration_ms LIMIT 1 OFFSET 5");
    print_plan(c, "stats by slot",
               "SELECT slot, count(*) FROM attempts WHERE ended_unix_ms >= 1 AND"
               " ended_unix_ms < 2 GROUP BY slot");
    sqlite3_close(c);

    struct server s;
    memset(&s, 0, sizeof(s));
    server_start(&s, path, data);
    resp_buf = malloc(RESP_MAX);
    uint64_t end = BASE_MS + (uint64_t)n * 1000;
    char t[26][200];
    snprintf(t[0], sizeof(t[0]), "/api/v1/attempts?since_id=%d&limit=100", n / 2);
    snprintf(t[1], sizeof(t[1]), "/api/v1/attempts?since_seq=%d&limit=1000", n - 1000);
    snprintf(t[2], sizeof(t[2]), "/api/v1/attempts?from=%llu&to=%llu&limit=100",
             (unsigned long long)(end - 2 * HOUR_MS), (unsigned long long)(end - HOUR_MS));
    snprintf(t[3], sizeof(t[3]), "/api/v1/attempts/%d", n / 3);
    snprintf(t[4], sizeof(t[4]), "/api/v1/units/86%013d", n / 3 - n / 3 % 20 + 18);
    snprintf(t[5], sizeof(t[5]), "/api/v1/stats?from=%llu&to=%llu",
             (unsigned long long)(end - 24 * HOUR_MS), (unsigned long long)end);
    snprintf(t[6], sizeof(t[6]), "/api/v1/stats?from=%llu&to=%llu",
             (unsigned long long)(end - HOUR_MS), (unsigned long long)end);
    snprintf(t[12], sizeof(t[12]), "/api/v1/attempts?from=%llu&to=%llu&since_id=%d&limit=100",
             (unsigned long long)(end - 24 * HOUR_MS), (unsigned long long)end,
             n > 50000 ? n - 50000 : 0);
#ifdef HTTP_HAVE_TEXT_REPLIES
    snprintf(t[7], sizeof(t[7]), "/api/v1/attempts?imei=86%013d", n / 3 - n / 3 % 20 + 18);
    snprintf(t[8], sizeof(t[8]), "/api/v1/attempts?work_order=WO-2024-%04d&since_id=%d&limit=100",
             n / 2 / 25000, n / 2);
    snprintf(t[9], sizeof(t[9]), "/api/v1/attempts?slot=C4&since_id=%d&limit=100", n / 2);
    snprintf(t[10], sizeof(t[10]), "/api/v1/attempts?result=fail&since_id=%d&limit=100", n / 2);
    snprintf(t[11], sizeof(t[11]), "/api/v1/attempts?format=csv&since_id=%d&limit=10000", n / 2);
#endif
    printf(
        "\n| query | p50 ms | p99 ms | max ms | bytes | request\n|---|---:|---:|---:|---:|---|\n");
    measure(s.port, "station", "/api/v1/station", reps);
    measure(s.port, "attempts, first page", "/api/v1/attempts?limit=100", reps);
    measure(s.port, "attempts, deep cursor", t[0], reps);
    measure(s.port, "attempts, MES since_seq", t[1], reps);
    measure(s.port, "attempts, 1 h window", t[2], reps);
    measure(s.port, "attempts, 24 h window", t[12], reps);
    measure(s.port, "one attempt", t[3], reps);
    measure(s.port, "unit history", t[4], reps);
    measure(s.port, "stats, 1 h", t[6], reps);
    measure(s.port, "stats, 24 h", t[5], reps / 10 ? reps / 10 : 1);
#ifdef HTTP_HAVE_TEXT_REPLIES
    measure(s.port, "attempts by imei", t[7], reps);
    measure(s.port, "attempts by work_order", t[8], reps);
    measure(s.port, "attempts by slot", t[9], reps);
    measure(s.port, "attempts by result", t[10], reps);
    measure(s.port, "CSV export, 10000 rows", t[11], reps / 10 ? reps / 10 : 1);
    measure(s.port, "metrics", "/metrics", reps);
#endif
    printf("\nwriter: %u attempts finished during the run; %d running throughout\n", s.written,
           RUNNING);
    server_stop(&s);
    free(resp_buf);
    if (getenv("BENCH_KEEP"))
        printf("kept %s\n", path);
    else
        nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
    return 0;
}
