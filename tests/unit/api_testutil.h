/* Shared by test_api_records.c and test_api_stats.c: the HTTP server and its database in a
 * real libuv loop on its own thread (as in flashrackd), jobs run on that thread to seed
 * records, and a small HTTP/1.1 client over real sockets. Header-only (static inline), so
 * each test stays one program. Reads have generous deadlines; nothing asserts on time. */
#ifndef FLASHRACK_API_TESTUTIL_H
#define FLASHRACK_API_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "config.h"
#include "db.h"
#include "http.h"
#include "rack.h"
#include "station.h"

#define DEADLINE_S 30
#define HOUR       3600000ull
#define T0         1700002800000ull /* a whole UTC hour */

/* ---- loop thread fixture ------------------------------------------------------------- */

/* loop_fixture.h declares struct fixture: its fields and these. */
#define LOOP_FIXTURE_EXTRA char dir[64];
#include "loop_fixture.h"

static inline void on_http_closed(void *ud)
{
    ((struct fixture *)ud)->http_closed = true;
}

static void fixture_on_stop(struct fixture *f)
{
    http_close(f->st.http, on_http_closed, f);
}

static inline struct fixture *fixture_start(void)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char cfg[512], err[256] = "", path[128];
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/test_api_records.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(path, sizeof(path), "%s/data", f->dir);
    assert_int_equal(mkdir(path, 0750), 0);
    snprintf(cfg, sizeof(cfg),
             "[station]\nid = st-rec\n[http]\nlisten = 127.0.0.1:0\n[storage]\ndata_dir = %s\n"
             "[rack]\nrows = 1\ncolumns = 2\n[slot A1]\nport = 1-1.1\nrow = 1\ncolumn = 1\n"
             "[slot A2]\nport = 1-1.2\nrow = 1\ncolumn = 2\n",
             path);
    if (config_load_string(cfg, &f->st.cfg, err, sizeof(err)) < 0)
        fail_msg("config: %s", err);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    f->st.loop = &f->loop;
    f->st.started_unix_ms = station_now_unix_ms();
    snprintf(path, sizeof(path), "%s/flashrack.db", f->dir);
    assert_int_equal(db_open(path, &f->st.db, err, sizeof(err)), 0);
    assert_int_equal(rack_new(&f->st.cfg, f->st.db, &f->st.rack), 0);
    assert_int_equal(http_start(&f->st, &f->st.http), 0);
    f->port = http_port(f->st.http);
    assert_int_equal(fixture_thread_start(f), 0);
    return f;
}

static inline int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static inline void fixture_stop(struct fixture *f)
{
    assert_int_equal(fixture_thread_join(f), 0);
    assert_true(f->http_closed);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    rack_free(f->st.rack);
    db_close(f->st.db);
    nftw(f->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
    free(f);
}

/* ---- seeding (on the loop thread: the db belongs to it) -------------------------------- */

struct seed {
    const char *imei, *slot, *work_order, *code, *log_ref;
    enum db_result result; /* DB_RESULT_RUNNING: left running */
    uint64_t ended_ms, duration_ms;
    int64_t id; /* out */
    char uuid[DB_UUID_SIZE];
};

static inline void job_seed(struct fixture *f, void *arg)
{
    struct seed *s = arg;
    struct db_attempt a;
    memset(&a, 0, sizeof(a));
    snprintf(a.station_id, sizeof(a.station_id), "st-rec");
    snprintf(a.imei, sizeof(a.imei), "%s", s->imei ? s->imei : "");
    snprintf(a.slot, sizeof(a.slot), "%s", s->slot ? s->slot : "A1");
    snprintf(a.work_order, sizeof(a.work_order), "%s", s->work_order ? s->work_order : "WO-1");
    snprintf(a.log_ref, sizeof(a.log_ref), "%s", s->log_ref ? s->log_ref : "");
    snprintf(a.fail_message, sizeof(a.fail_message), "said \"no\", then\nstopped");
    a.started_unix_ms = s->ended_ms - s->duration_ms;
    assert_int_equal(db_attempt_begin(f->st.db, &a, &s->id), 0);
    memcpy(s->uuid, a.attempt_uuid, sizeof(s->uuid));
    if (s->result == DB_RESULT_RUNNING)
        return;
    a.result = s->result;
    a.ended_unix_ms = s->ended_ms;
    a.duration_ms = s->duration_ms;
    snprintf(a.fail_code, sizeof(a.fail_code), "%s", s->code ? s->code : "");
    assert_int_equal(db_attempt_finish(f->st.db, &a), 0);
}

static inline int64_t seed(struct fixture *f, struct seed s)
{
    run_on_loop(f, job_seed, &s);
    return s.id;
}

static inline void job_finish(struct fixture *f, void *arg)
{
    struct db_attempt a;
    assert_int_equal(db_attempt_get(f->st.db, *(int64_t *)arg, &a), 0);
    a.result = DB_RESULT_PASS;
    a.ended_unix_ms = a.started_unix_ms + 1000;
    assert_int_equal(db_attempt_finish(f->st.db, &a), 0);
}

/* ---- a small HTTP/1.1 client ---------------------------------------------------------- */

struct response {
    int status;
    char *raw, *body; /* body: de-chunked copy, NUL-terminated */
    size_t body_len;
    char content_type[96];
    json_t *json;
};

static inline void response_free(struct response *r)
{
    json_decref(r->json);
    free(r->raw);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

static inline void dechunk(struct response *r, const char *p, size_t avail)
{
    const char *end = p + avail;
    r->body = malloc(avail + 1);
    assert_non_null(r->body);
    for (;;) {
        char *next;
        unsigned long n = strtoul(p, &next, 16);
        const char *data = strstr(next, "\r\n");
        assert_non_null(data);
        data += 2;
        if (n == 0)
            break;
        assert_true(data + n <= end);
        memcpy(r->body + r->body_len, data, n);
        r->body_len += n;
        p = data + n + 2;
    }
    r->body[r->body_len] = '\0';
}

static inline void get(struct fixture *f, const char *target, struct response *r)
{
    memset(r, 0, sizeof(*r));
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(f->port)};
    struct timeval tv = {DEADLINE_S, 0};
    assert_true(fd >= 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    char req[1024];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                     target);
    assert_int_equal(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
    size_t cap = 1 << 16, len = 0;
    r->raw = malloc(cap + 1);
    for (;;) { /* until the server closes */
        if (len == cap)
            assert_non_null(r->raw = realloc(r->raw, (cap *= 2) + 1));
        ssize_t got = recv(fd, r->raw + len, cap - len, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            fail_msg("no answer to %s within %d s: %s", target, DEADLINE_S, strerror(errno));
        if (got == 0)
            break;
        len += (size_t)got;
    }
    close(fd);
    r->raw[len] = '\0';
    assert_int_equal(sscanf(r->raw, "HTTP/1.1 %d", &r->status), 1);
    char *sep = strstr(r->raw, "\r\n\r\n");
    assert_non_null(sep);
    *sep = '\0'; /* headers end here */
    const char *ct = strcasestr(r->raw, "\r\nContent-Type: ");
    if (ct)
        snprintf(r->content_type, sizeof(r->content_type), "%.*s", (int)strcspn(ct + 16, "\r"),
                 ct + 16);
    const char *body = sep + 4;
    size_t avail = len - (size_t)(body - r->raw);
    if (strcasestr(r->raw, "\r\nTransfer-Encoding: chunked")) {
        dechunk(r, body, avail);
    } else {
        r->body = malloc(avail + 1);
        memcpy(r->body, body, avail);
        r->body[avail] = '\0';
        r->body_len = avail;
    }
    if (strncmp(r->content_type, "application/json", 16) == 0) {
        json_error_t jerr;
        r->json = json_loadb(r->body, r->body_len, 0, &jerr);
        if (!r->json)
            fail_msg("bad JSON from %s (%s): %s", target, jerr.text, r->body);
    }
}

static inline void expect_error(struct fixture *f, const char *target, int status, const char *code)
{
    struct response r;
    get(f, target, &r);
    if (r.status != status)
        fail_msg("%s: status %d, expected %d: %s", target, r.status, status, r.body);
    json_t *e = json_object_get(r.json, "error");
    assert_string_equal(json_string_value(json_object_get(e, "code")), code);
    response_free(&r);
}

static inline json_int_t num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v))
        fail_msg("'%s' is not an integer", key);
    return json_integer_value(v);
}

static inline const char *str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    if (!s)
        fail_msg("'%s' is not a string", key);
    return s;
}

#endif
