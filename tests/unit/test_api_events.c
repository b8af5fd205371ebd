/* GET /api/v1/events/stream (api_events.c, event_bus.c) in a real libuv loop with a real
 * libmicrohttpd server, spoken to over sockets.
 *
 * The loop (server, rack, database, event bus) runs on its own thread as in flashrackd; the
 * test thread is the client and hands rack changes to the loop thread (run_on_loop). Streams
 * are read with HTTP/1.0 (no chunked framing) and parsed as Server-Sent Events. Every wait
 * has a generous deadline; nothing asserts on how long something took. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "config.h"
#include "db.h"
#include "event_bus.h"
#include "http.h"
#include "rack.h"
#include "station.h"

#define DEADLINE_MS 30000

/* ---- loop thread fixture ----------------------------------------------------------------- */

/* loop_fixture.h declares struct fixture: its fields and these. */
#define LOOP_FIXTURE_EXTRA                                                                         \
    struct event_bus *bus;                                                                         \
    char dir[40], db_path[80];
#include "loop_fixture.h"

static void fixture_on_stop(struct fixture *f)
{
    /* the daemon's order: the server (and its streams), then the bus */
    http_close(f->st.http, NULL, NULL);
    f->st.http = NULL;
    event_bus_close(f->bus);
}

static const char *config_text = "[station]\nid = line3-st1\n"
                                 "[http]\nlisten = 127.0.0.1:0\nmax_connections = 8\n"
                                 "[rack]\nrows = 1\ncolumns = 2\n"
                                 "[slot A1]\nport = 1-1.1\nrow = 1\ncolumn = 1\n"
                                 "[slot A2]\nport = 1-1.2\nrow = 1\ncolumn = 2\n";

/* dir: an existing database directory to reuse (a "restart"), NULL for a new one. */
static struct fixture *fixture_start(const char *dir)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    char err[256] = "";
    if (config_load_string(config_text, &f->st.cfg, err, sizeof(err)) < 0)
        fail_msg("config: %s", err);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    f->st.loop = &f->loop;
    f->st.started_unix_ms = station_now_unix_ms();
    if (dir) {
        snprintf(f->dir, sizeof(f->dir), "%s", dir);
    } else {
        snprintf(f->dir, sizeof(f->dir), "/tmp/test_api_events.XXXXXX");
        assert_non_null(mkdtemp(f->dir));
    }
    snprintf(f->db_path, sizeof(f->db_path), "%s/flashrack.db", f->dir);
    assert_int_equal(db_open(f->db_path, &f->st.db, err, sizeof(err)), 0);
    assert_int_equal(rack_new(&f->st.cfg, f->st.db, &f->st.rack), 0);
    assert_int_equal(event_bus_start(&f->st, &f->bus), 0);
    assert_int_equal(http_start(&f->st, &f->st.http), 0);
    f->port = http_port(f->st.http);
    assert_int_equal(fixture_thread_start(f), 0);
    return f;
}

/* keep: leave the database for a restart. */
static void fixture_stop(struct fixture *f, bool keep)
{
    assert_int_equal(fixture_thread_join(f), 0);
    /* Streams, server and bus closed every handle: the loop closes. */
    assert_int_equal(uv_loop_close(&f->loop), 0);
    assert_null(event_bus_current());
    rack_free(f->st.rack);
    db_close(f->st.db);
    if (!keep) {
        fixture_unlink_db(f->db_path);
        rmdir(f->dir);
    }
    free(f);
}

/* ---- changes on the loop thread ------------------------------------------------------------ */

static void job_arrive(struct fixture *f, void *arg)
{
    rack_usb_arrived(f->st.rack, arg);
}

static void plug(struct fixture *f, const char *path, uint8_t address)
{
    struct rack_device d;
    memset(&d, 0, sizeof(d));
    snprintf(d.port_path, sizeof(d.port_path), "%s", path);
    d.bus = 1;
    d.address = address;
    d.vid = 0x2c7c;
    d.pid = 0x0901;
    snprintf(d.manufacturer, sizeof(d.manufacturer), "Quectel");
    snprintf(d.product, sizeof(d.product), "EC800M");
    d.attached_unix_ms = 1700000000000ull + address;
    run_on_loop(f, job_arrive, &d);
}

static void job_leave(struct fixture *f, void *arg)
{
    struct rack_device *d = arg;
    rack_usb_left(f->st.rack, d->bus, d->address);
}

static void unplug(struct fixture *f, uint8_t address)
{
    struct rack_device d = {.bus = 1, .address = address};
    run_on_loop(f, job_leave, &d);
}

/* n rows of kind "note" straight into the timeline, with a poke as rack.c does. */
static void job_rows(struct fixture *f, void *arg)
{
    int n = *(int *)arg;
    for (int i = 0; i < n; i++) {
        struct db_slot_event ev = {.ts_unix_ms = station_now_unix_ms()};
        snprintf(ev.event, sizeof(ev.event), "note");
        snprintf(ev.slot, sizeof(ev.slot), "A2");
        snprintf(ev.detail, sizeof(ev.detail), "{\"n\":%d}", i);
        assert_int_equal(db_slot_event_insert(f->st.db, &ev, NULL), 0);
    }
    event_bus_poke();
}

static void add_rows(struct fixture *f, int n)
{
    run_on_loop(f, job_rows, &n);
}

struct bus_view {
    int64_t head;
    size_t streams;
    uint64_t drops;
};

static void job_view(struct fixture *f, void *arg)
{
    struct bus_view *v = arg;
    v->head = event_bus_head(f->bus);
    v->streams = event_bus_streams(f->bus);
    v->drops = event_bus_drops(f->bus);
}

static struct bus_view bus_view(struct fixture *f)
{
    struct bus_view v;
    run_on_loop(f, job_view, &v);
    return v;
}

static void job_attempt(struct fixture *f, void *arg)
{
    struct db_attempt a = {.started_unix_ms = station_now_unix_ms()};
    snprintf(a.slot, sizeof(a.slot), "A1");
    snprintf(a.imei, sizeof(a.imei), "861234567890123");
    assert_int_equal(db_attempt_begin(f->st.db, &a, NULL), 0);
    a.result = DB_RESULT_FAIL;
    a.ended_unix_ms = station_now_unix_ms();
    snprintf(a.fail_stage, sizeof(a.fail_stage), "flash");
    snprintf(a.fail_code, sizeof(a.fail_code), "usb_io");
    snprintf(a.fail_message, sizeof(a.fail_message), "bulk write timed out");
    assert_int_equal(db_attempt_finish(f->st.db, &a), 0);
    event_bus_attempt_finished(&f->st, "A1", "1-1.1", &a, 2);
    *(int64_t *)arg = a.id;
}

/* ---- an SSE client ----------------------------------------------------------------------------
 */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int connect_to(uint16_t port, int rcvbuf)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    if (rcvbuf) /* before connect: it sets the window the server sees */
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

struct sse {
    int fd;
    char *buf;
    size_t len, cap;
    bool eof;
    int status;
    char content_type[128];
};

struct sse_event {
    int64_t id; /* -1: none */
    char event[64];
    char *data;
    bool comment;
};

/* Reads more into c->buf; false at EOF or at the deadline. */
static bool sse_more(struct sse *c, uint64_t deadline)
{
    if (c->eof)
        return false;
    uint64_t now = now_ms();
    if (now >= deadline)
        return false;
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
    if (poll(&pfd, 1, (int)(deadline - now)) <= 0)
        return false;
    if (c->len + 4096 + 1 > c->cap) {
        c->cap = (c->cap + 4096) * 2;
        c->buf = realloc(c->buf, c->cap);
        assert_non_null(c->buf);
    }
    ssize_t n = recv(c->fd, c->buf + c->len, 4096, 0);
    if (n <= 0) {
        c->eof = true;
        return false;
    }
    c->len += (size_t)n;
    c->buf[c->len] = '\0';
    return true;
}

static void consume(struct sse *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
    c->buf[c->len] = '\0';
}

/* Opens a stream: the request line's extra query, and a Last-Event-ID header (NULL: none). */
static struct sse sse_open(struct fixture *f, const char *query, const char *last_id, int rcvbuf)
{
    struct sse c = {.fd = connect_to(f->port, rcvbuf)};
    char req[512];
    int n =
        snprintf(req, sizeof(req), "GET /api/v1/events/stream%s HTTP/1.0\r\nHost: t\r\n%s%s%s\r\n",
                 query ? query : "", last_id ? "Last-Event-ID: " : "", last_id ? last_id : "",
                 last_id ? "\r\n" : "");
    assert_int_equal(send(c.fd, req, (size_t)n, MSG_NOSIGNAL), n);
    uint64_t deadline = now_ms() + DEADLINE_MS;
    char *end;
    while (!(c.buf && (end = strstr(c.buf, "\r\n\r\n"))))
        if (!sse_more(&c, deadline))
            fail_msg("no response head (got %zu bytes)", c.len);
    *end = '\0';
    assert_int_equal(sscanf(c.buf, "HTTP/1.%*d %d", &c.status), 1);
    const char *ct = strstr(c.buf, "Content-Type: ");
    if (ct)
        sscanf(ct + 14, "%127[^\r]", c.content_type);
    consume(&c, (size_t)(end + 4 - c.buf));
    return c;
}

static void sse_close(struct sse *c)
{
    close(c->fd);
    free(c->buf);
    memset(c, 0, sizeof(*c));
}

static void event_free(struct sse_event *e)
{
    free(e->data);
    memset(e, 0, sizeof(*e));
}

/* The next event or comment; false at EOF or the deadline. "retry:" blocks are skipped. */
static bool sse_next(struct sse *c, struct sse_event *e, int timeout_ms)
{
    uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        char *end = c->buf ? strstr(c->buf, "\n\n") : NULL;
        if (!end) {
            if (!sse_more(c, deadline))
                return false;
            continue;
        }
        *end = '\0';
        memset(e, 0, sizeof(*e));
        e->id = -1;
        bool retry = false;
        for (char *line = c->buf, *next; line; line = next) {
            next = strchr(line, '\n');
            if (next)
                *next++ = '\0';
            if (line[0] == ':')
                e->comment = true;
            else if (strncmp(line, "id: ", 4) == 0)
                e->id = strtoll(line + 4, NULL, 10);
            else if (strncmp(line, "event: ", 7) == 0)
                snprintf(e->event, sizeof(e->event), "%s", line + 7);
            else if (strncmp(line, "data: ", 6) == 0)
                e->data = strdup(line + 6);
            else if (strncmp(line, "retry: ", 7) == 0)
                retry = true;
            else
                fail_msg("unexpected SSE line '%s'", line);
        }
        consume(c, (size_t)(end + 2 - c->buf));
        if (retry && !e->event[0] && !e->comment)
            continue;
        return true;
    }
}

/* Skips slot snapshots and comments up to the next event named want; returns its data. */
static void sse_expect(struct sse *c, const char *want, struct sse_event *e)
{
    for (;;) {
        if (!sse_next(c, e, DEADLINE_MS))
            fail_msg("stream ended or stalled waiting for event '%s'", want);
        if (strcmp(e->event, want) == 0)
            return;
        if (e->comment || strcmp(e->event, "slot") == 0) {
            event_free(e);
            continue;
        }
        fail_msg("got event '%s' (id %" PRId64 ", %s) waiting for '%s'", e->event, e->id,
                 e->data ? e->data : "", want);
    }
}

static json_t *data_json(const struct sse_event *e)
{
    json_error_t err;
    json_t *j = json_loads(e->data ? e->data : "", 0, &err);
    if (!j)
        fail_msg("event data is not JSON: %s (%s)", err.text, e->data ? e->data : "");
    return j;
}

/* GET over HTTP/1.0: the body as JSON. */
static json_t *get_json(struct fixture *f, const char *path)
{
    struct sse c = {.fd = connect_to(f->port, 0)};
    char req[256];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: t\r\n\r\n", path);
    assert_int_equal(send(c.fd, req, (size_t)n, MSG_NOSIGNAL), n);
    uint64_t deadline = now_ms() + DEADLINE_MS;
    while (sse_more(&c, deadline))
        ;
    assert_true(c.eof);
    const char *body = strstr(c.buf, "\r\n\r\n");
    assert_non_null(body);
    json_t *j = json_loads(body + 4, 0, NULL);
    assert_non_null(j);
    sse_close(&c);
    return j;
}

/* Reads the start of a stream (snapshots of both slots, then sync); returns the sync id. */
static int64_t expect_start(struct sse *c, size_t *ret_slots)
{
    struct sse_event e;
    size_t slots = 0;
    for (;;) {
        assert_true(sse_next(c, &e, DEADLINE_MS));
        if (strcmp(e.event, "sync") == 0)
            break;
        assert_string_equal(e.event, "slot");
        assert_int_equal(e.id, -1); /* snapshots are never replayed: no id */
        json_t *j = data_json(&e);
        assert_non_null(json_object_get(j, "label"));
        json_decref(j);
        slots++;
        event_free(&e);
    }
    int64_t id = e.id;
    json_t *j = data_json(&e);
    assert_int_equal(json_integer_value(json_object_get(j, "head")), id);
    json_decref(j);
    event_free(&e);
    if (ret_slots)
        *ret_slots = slots;
    return id;
}

/* ---- tests --------------------------------------------------------------------------------------
 */

static void test_live_events(void **state)
{
    (void)state;
    struct fixture *f = fixture_start(NULL);
    plug(f, "1-1.1", 5); /* an event before the stream: not sent to a fresh client */
    struct sse c = sse_open(f, NULL, NULL, 0);
    assert_int_equal(c.status, 200);
    assert_string_equal(c.content_type, "text/event-stream; charset=utf-8");
    size_t slots;
    int64_t sync_id = expect_start(&c, &slots);
    assert_int_equal(slots, 2);
    assert_int_equal(sync_id, bus_view(f).head);
    assert_true(sync_id >= 1);

    plug(f, "1-1.2", 6);
    struct sse_event e;
    sse_expect(&c, "attach", &e);
    assert_int_equal(e.id, sync_id + 1);
    /* The same row as GET /api/v1/events shows it. */
    char path[80];
    snprintf(path, sizeof(path), "/api/v1/events?after_id=%" PRId64 "&limit=1", sync_id);
    json_t *page = get_json(f, path);
    json_t *row = json_array_get(json_object_get(page, "events"), 0);
    json_t *got = data_json(&e);
    assert_true(json_equal(got, row));
    assert_string_equal(json_string_value(json_object_get(got, "slot")), "A2");
    json_decref(got);
    json_decref(page);
    event_free(&e);
    /* Then the slot's new snapshot, without an id. */
    for (;;) {
        assert_true(sse_next(&c, &e, DEADLINE_MS));
        if (strcmp(e.event, "slot") == 0) {
            json_t *j = data_json(&e);
            bool a2 = strcmp(json_string_value(json_object_get(j, "label")), "A2") == 0;
            bool attached = strcmp(json_string_value(json_object_get(j, "state")), "attached") == 0;
            json_decref(j);
            assert_int_equal(e.id, -1);
            if (a2 && attached) {
                event_free(&e);
                break;
            }
        }
        event_free(&e);
    }
    /* An attempt's verdict is an event of the same sequence. */
    int64_t attempt_id = 0;
    run_on_loop(f, job_attempt, &attempt_id);
    sse_expect(&c, "attempt", &e);
    assert_int_equal(e.id, sync_id + 2);
    got = data_json(&e);
    json_t *detail = json_object_get(got, "detail");
    assert_int_equal(json_integer_value(json_object_get(detail, "attempt_id")), attempt_id);
    assert_string_equal(json_string_value(json_object_get(detail, "result")), "fail");
    assert_string_equal(json_string_value(json_object_get(detail, "fail_code")), "usb_io");
    assert_int_equal(json_integer_value(json_object_get(detail, "try")), 2);
    assert_true(json_integer_value(json_object_get(detail, "finish_seq")) >= 1);
    json_decref(got);
    event_free(&e);
    sse_close(&c);
    fixture_stop(f, false);
}

/* Reads events after a resume: exactly the ids from..to in order, then sync with id to. */
static void expect_replay(struct sse *c, int64_t from, int64_t to)
{
    struct sse_event e;
    int64_t want = from;
    for (;;) {
        assert_true(sse_next(c, &e, DEADLINE_MS));
        if (strcmp(e.event, "sync") == 0)
            break;
        if (strcmp(e.event, "slot") == 0) {
            event_free(&e);
            continue;
        }
        assert_int_equal(e.id, want);
        want++;
        event_free(&e);
    }
    assert_int_equal(want, to + 1); /* nothing lost, nothing repeated */
    assert_int_equal(e.id, to);
    json_t *j = data_json(&e);
    assert_int_equal(json_integer_value(json_object_get(j, "replayed")), to - from + 1);
    json_decref(j);
    event_free(&e);
}

static void test_resume(void **state)
{
    (void)state;
    struct fixture *f = fixture_start(NULL);
    struct sse c = sse_open(f, NULL, NULL, 0);
    int64_t seen = expect_start(&c, NULL);
    sse_close(&c);
    /* Missed while away. */
    plug(f, "1-1.1", 5);
    unplug(f, 5);
    add_rows(f, 40); /* more than one page */
    int64_t head = bus_view(f).head;
    assert_int_equal(head, seen + 42);
    char id[32];
    snprintf(id, sizeof(id), "%" PRId64, seen);
    c = sse_open(f, NULL, id, 0);
    expect_replay(&c, seen + 1, head);
    sse_close(&c);
    /* The query parameter does the same, and the header wins over it. */
    char query[64];
    snprintf(query, sizeof(query), "?last_event_id=%" PRId64, head - 3);
    c = sse_open(f, query, NULL, 0);
    expect_replay(&c, head - 2, head);
    sse_close(&c);
    snprintf(id, sizeof(id), "%" PRId64, head - 1);
    c = sse_open(f, "?last_event_id=1", id, 0);
    expect_replay(&c, head, head);
    sse_close(&c);
    /* Across a restart: the next daemon replays from the database. */
    char dir[40];
    snprintf(dir, sizeof(dir), "%s", f->dir);
    fixture_stop(f, true);
    f = fixture_start(dir);
    assert_int_equal(bus_view(f).head, head);
    plug(f, "1-1.2", 9);
    snprintf(id, sizeof(id), "%" PRId64, head);
    c = sse_open(f, NULL, id, 0);
    expect_replay(&c, head + 1, head + 1);
    sse_close(&c);
    fixture_stop(f, false);
}

static void wait_streams(struct fixture *f, size_t n)
{
    uint64_t deadline = now_ms() + DEADLINE_MS;
    while (bus_view(f).streams != n && now_ms() < deadline)
        usleep(10000);
    assert_int_equal(bus_view(f).streams, n);
}

static void expect_reset(struct fixture *f, const char *given, const char *reason)
{
    struct sse c = sse_open(f, NULL, given, 0);
    assert_int_equal(c.status, 200);
    struct sse_event e;
    assert_true(sse_next(&c, &e, DEADLINE_MS));
    assert_string_equal(e.event, "reset");
    json_t *j = data_json(&e);
    assert_string_equal(json_string_value(json_object_get(j, "reason")), reason);
    int64_t head = bus_view(f).head;
    assert_int_equal(json_integer_value(json_object_get(j, "head")), head);
    json_decref(j);
    event_free(&e);
    /* Then a fresh start at the head. */
    assert_int_equal(expect_start(&c, NULL), head);
    sse_close(&c);
    wait_streams(f, 0); /* the idle stream of a client that left is noticed and freed */
}

static void test_reset(void **state)
{
    (void)state;
    struct fixture *f = fixture_start(NULL);
    add_rows(f, EVENT_BUS_REPLAY_MAX + 5);
    expect_reset(f, "abc", "bad_id");
    expect_reset(f, "-1", "bad_id");
    expect_reset(f, "99999999999999999999", "bad_id");
    expect_reset(f, "9223372036854775807", "unknown_id");
    expect_reset(f, "2", "too_old");
    /* Just inside the window replays. */
    int64_t head = bus_view(f).head;
    char id[32];
    snprintf(id, sizeof(id), "%" PRId64, head - EVENT_BUS_REPLAY_MAX);
    struct sse c = sse_open(f, NULL, id, 0);
    expect_replay(&c, head - EVENT_BUS_REPLAY_MAX + 1, head);
    sse_close(&c);
    fixture_stop(f, false);
}

static void test_stream_limit(void **state)
{
    (void)state;
    struct fixture *f = fixture_start(NULL); /* max_connections 8: at most 4 streams */
    struct sse c[4];
    uint64_t deadline;
    for (int i = 0; i < 4; i++) {
        c[i] = sse_open(f, NULL, NULL, 0);
        assert_int_equal(c[i].status, 200);
        expect_start(&c[i], NULL);
    }
    struct sse over = sse_open(f, NULL, NULL, 0);
    assert_int_equal(over.status, 503);
    deadline = now_ms() + DEADLINE_MS;
    while (sse_more(&over, deadline))
        ;
    assert_non_null(strstr(over.buf, "too_many_streams"));
    sse_close(&over);
    /* A stream whose client left frees its place, though idle (suspended). */
    sse_close(&c[0]);
    wait_streams(f, 3);
    c[0] = sse_open(f, NULL, NULL, 0);
    assert_int_equal(c[0].status, 200);
    /* Every open stream sees the same events. */
    int64_t head = expect_start(&c[0], NULL);
    plug(f, "1-1.2", 7);
    for (int i = 0; i < 4; i++) {
        struct sse_event e;
        do
            sse_expect(&c[i], "attach", &e);
        while (e.id != head + 1 && (event_free(&e), true));
        event_free(&e);
        sse_close(&c[i]);
    }
    fixture_stop(f, false);
}

/* Idle streams get a keep-alive comment and outlive nothing: the server closes them at stop
 * while they are suspended, and the loop still closes (fixture_stop). */
static void test_keepalive_and_stop(void **state)
{
    (void)state;
    struct fixture *f = fixture_start(NULL);
    struct sse c = sse_open(f, NULL, NULL, 0);
    expect_start(&c, NULL);
    struct sse_event e;
    assert_true(sse_next(&c, &e, EVENT_BUS_KEEPALIVE_MS + DEADLINE_MS));
    assert_true(e.comment);
    event_free(&e);
    struct sse idle = sse_open(f, NULL, NULL, 0);
    expect_start(&idle, NULL);
    fixture_stop(f, false);
    /* Both see the end. */
    uint64_t deadline = now_ms() + DEADLINE_MS;
    while (sse_more(&c, deadline))
        ;
    assert_true(c.eof);
    while (sse_more(&idle, deadline))
        ;
    assert_true(idle.eof);
    sse_close(&c);
    sse_close(&idle);
}

/* A client that does not read while events pile up is dropped once it stayed more than
 * EVENT_BUS_LAG_MAX behind for EVENT_BUS_LAG_GRACE_MS. */
static void test_slow_client_dropped(void **state)
{
    (void)state;
    struct fixture *f = fixture_start(NULL);
    struct sse c = sse_open(f, NULL, NULL, 2048);
    int64_t start = expect_start(&c, NULL);
    uint64_t deadline = now_ms() + DEADLINE_MS;
    while (bus_view(f).drops == 0 && now_ms() < deadline) {
        add_rows(f, 500);
        usleep(100000); /* behind for EVENT_BUS_LAG_GRACE_MS, without a huge database */
    }
    assert_int_equal(bus_view(f).drops, 1);
    /* Now reading: the rows already in the socket, then the end, short of the head. */
    int64_t last = start;
    struct sse_event e;
    while (sse_next(&c, &e, DEADLINE_MS)) {
        if (e.id > 0)
            last = e.id;
        event_free(&e);
    }
    assert_true(c.eof);
    assert_true(last < bus_view(f).head);
    sse_close(&c);
    wait_streams(f, 0);
    fixture_stop(f, false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_live_events),
        cmocka_unit_test(test_resume),
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_stream_limit),
        cmocka_unit_test(test_keepalive_and_stop),
        cmocka_unit_test(test_slow_client_dropped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
