/* The write side of the API over real sockets: bearer tokens and roles (401 / 403), JSON
 * bodies (400 / 413 / 415), the job context stamped on new attempts, slot pause / resume /
 * abort on a real workflow, and the audit log of every write.
 *
 * As in test_http.c, the station's loop (server, rack, workflow) runs on its own thread and
 * the test thread is a plain-socket client; rack changes and database reads are handed to the
 * loop thread (on_loop). No recipes are loaded and the module has neither a tty nor a USB
 * handle, so an attempt that starts fails at once ("cannot start the at session"): enough to
 * see whether one started, and with what context. Aborting a running job, and an open
 * attempt, need a module that answers: tests/e2e/control_rack.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "api.h"
#include "config.h"
#include "db.h"
#include "http.h"
#include "rack.h"
#include "station.h"
#include "workflow.h"

#define DEADLINE_S 30
#define OP         "op-0123456789abcdef"
#define SUP        "sup-0123456789abcdef"
#define MES        "mes-0123456789abcdef"

static const char base_config[] = "[station]\nid = line3-st1\n"
                                  "[http]\nlisten = 127.0.0.1:0\nmax_body_bytes = 65536\n"
                                  "[limits]\nreenumerate_timeout_ms = 3600000\n"
                                  "[slot A1]\nport = 1-1.1\n"
                                  "[slot A2]\nport = 1-1.2\n";
static const char tokens[] = "[auth]\n"
                             "token = operator:line3-tablet:" OP "\n"
                             "token = supervisor:" SUP "\n"
                             "token = mes:" MES "\n";

/* ---- the station on a loop thread ------------------------------------------------------ */

/* loop_fixture.h declares struct fixture: its fields and these. */
#define LOOP_FIXTURE_EXTRA char dir[40], db_path[80];
#include "loop_fixture.h"

static void on_http_closed(void *ud)
{
    ((struct fixture *)ud)->http_closed = true;
}

static void fixture_on_stop(struct fixture *f)
{
    workflow_stop(f->st.workflow, "test over");
    http_close(f->st.http, on_http_closed, f);
    f->st.http = NULL;
}

static struct fixture *fixture_start(const char *auth, bool with_workflow)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    char text[2048], err[256] = "";
    snprintf(text, sizeof(text), "%s%s", base_config, auth);
    if (config_load_string(text, &f->st.cfg, err, sizeof(err)) < 0)
        fail_msg("config: %s", err);
    snprintf(f->dir, sizeof(f->dir), "/tmp/test_api_control.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->st.cfg.cache_dir, sizeof(f->st.cfg.cache_dir), "%s/cache", f->dir);
    snprintf(f->db_path, sizeof(f->db_path), "%s/flashrack.db", f->dir);
    assert_int_equal(db_open(f->db_path, &f->st.db, err, sizeof(err)), 0);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    f->st.loop = &f->loop;
    f->st.started_unix_ms = station_now_unix_ms();
    assert_int_equal(rack_new(&f->st.cfg, f->st.db, &f->st.rack), 0);
    if (with_workflow)
        assert_int_equal(workflow_new(&f->st, &f->st.workflow), 0);
    assert_int_equal(http_start(&f->st, &f->st.http), 0);
    f->port = http_port(f->st.http);
    assert_int_equal(fixture_thread_start(f), 0);
    return f;
}

static void fixture_stop(struct fixture *f)
{
    assert_int_equal(fixture_thread_join(f), 0);
    assert_true(f->http_closed);
    assert_int_equal(workflow_free(f->st.workflow), 0);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    rack_free(f->st.rack);
    db_close(f->st.db);
    fixture_unlink_db(f->db_path);
    char cache[60];
    snprintf(cache, sizeof(cache), "%s/cache", f->dir);
    rmdir(cache);
    rmdir(f->dir);
    free(f);
}

static void job_arrive(struct fixture *f, void *arg)
{
    rack_usb_arrived(f->st.rack, arg);
}

/* An EC25 (a Quectel AT-mode module) on port path. */
static void plug(struct fixture *f, const char *path)
{
    struct rack_device d;
    memset(&d, 0, sizeof(d));
    snprintf(d.port_path, sizeof(d.port_path), "%s", path);
    d.bus = 1;
    d.address = 7;
    d.vid = 0x2c7c;
    d.pid = 0x0125;
    snprintf(d.product, sizeof(d.product), "EC25");
    d.attached_unix_ms = station_now_unix_ms();
    run_on_loop(f, job_arrive, &d);
}

struct attempt_read {
    int64_t id;
    struct db_attempt a;
    int r;
};

static void job_attempt(struct fixture *f, void *arg)
{
    struct attempt_read *ar = arg;
    ar->r = db_attempt_get(f->st.db, ar->id, &ar->a);
}

/* What a restarted station would read back: the context from the database. */
static void job_restore(struct fixture *f, void *arg)
{
    struct station_context *ret = arg;
    struct station_context live = f->st.context;
    memset(&f->st.context, 0, sizeof(f->st.context));
    assert_int_equal(api_control_restore(&f->st), 0);
    *ret = f->st.context;
    f->st.context = live;
}

struct audit_read {
    struct db_audit rows[64];
    size_t n;
};

static int add_audit(const struct db_audit *a, void *userdata)
{
    struct audit_read *ar = userdata;
    if (ar->n < 64)
        ar->rows[ar->n++] = *a;
    return 0;
}

static void job_audit(struct fixture *f, void *arg)
{
    struct audit_read *ar = arg;
    ar->n = 0;
    assert_true(db_audit_list(f->st.db, 0, 64, add_audit, ar) >= 0);
}

/* ---- a client ---------------------------------------------------------------------------- */

struct response {
    int status;
    char raw[16384];
    const char *body;
    json_t *json;
};

static void response_free(struct response *r)
{
    json_decref(r->json);
    r->json = NULL;
}

static void exchange(struct fixture *f, const char *req, size_t len, struct response *r)
{
    memset(r, 0, sizeof(*r));
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct timeval tv = {DEADLINE_S, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(f->port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    for (size_t off = 0; off < len;) {
        ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    size_t got = 0;
    for (;;) {
        ssize_t n = recv(fd, r->raw + got, sizeof(r->raw) - 1 - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            fail_msg("no answer within %d s", DEADLINE_S);
        if (n <= 0)
            break;
        got += (size_t)n;
        assert_true(got < sizeof(r->raw) - 1);
    }
    close(fd);
    r->raw[got] = '\0';
    if (got == 0)
        return;
    assert_int_equal(sscanf(r->raw, "HTTP/1.1 %d", &r->status), 1);
    char *sep = strstr(r->raw, "\r\n\r\n");
    assert_non_null(sep);
    r->body = sep + 4;
    if (*r->body) {
        json_error_t jerr;
        r->json = json_loads(r->body, 0, &jerr);
        if (!r->json)
            fail_msg("bad JSON (%s): %s", jerr.text, r->body);
    }
}

static bool header(const struct response *r, const char *name, char *buf, size_t size)
{
    size_t nl = strlen(name);
    for (const char *p = strstr(r->raw, "\r\n"); p && p + 2 < r->body; p = strstr(p + 2, "\r\n")) {
        if (strncasecmp(p + 2, name, nl) == 0 && p[2 + nl] == ':') {
            const char *v = p + 3 + nl;
            while (*v == ' ')
                v++;
            snprintf(buf, size, "%.*s", (int)strcspn(v, "\r"), v);
            return true;
        }
    }
    return false;
}

/* method path with an optional bearer token and an optional body of type ctype. */
static void call(struct fixture *f, const char *method, const char *path, const char *token,
                 const char *ctype, const char *body, struct response *r)
{
    char req[8192];
    int n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n", method,
                     path);
    if (token)
        n += snprintf(req + n, sizeof(req) - (size_t)n, "Authorization: Bearer %s\r\n", token);
    if (ctype)
        n += snprintf(req + n, sizeof(req) - (size_t)n, "Content-Type: %s\r\n", ctype);
    if (body)
        n += snprintf(req + n, sizeof(req) - (size_t)n, "Content-Length: %zu\r\n", strlen(body));
    n += snprintf(req + n, sizeof(req) - (size_t)n, "\r\n%s", body ? body : "");
    assert_true((size_t)n < sizeof(req));
    exchange(f, req, (size_t)n, r);
}

static void put_json(struct fixture *f, const char *token, const char *body, struct response *r)
{
    call(f, "PUT", "/api/v1/context", token, "application/json", body, r);
}

static void assert_error(struct response *r, int status, const char *code, const char *in_msg)
{
    if (r->status != status)
        fail_msg("status %d, want %d: %s", r->status, status, r->body ? r->body : "");
    json_t *e = json_object_get(r->json, "error");
    assert_non_null(e);
    assert_int_equal(json_object_size(r->json), 1);
    assert_string_equal(json_string_value(json_object_get(e, "code")), code);
    const char *msg = json_string_value(json_object_get(e, "message"));
    assert_non_null(msg);
    if (in_msg && !strstr(msg, in_msg))
        fail_msg("message '%s' does not mention '%s'", msg, in_msg);
    response_free(r);
}

static json_t *slot_flow(struct fixture *f, const char *label, struct response *r)
{
    char path[64];
    snprintf(path, sizeof(path), "/api/v1/slots/%s", label);
    call(f, "GET", path, NULL, NULL, NULL, r);
    assert_int_equal(r->status, 200);
    json_t *flow = json_object_get(r->json, "flow");
    assert_true(json_is_object(flow));
    return flow;
}

/* ---- tests ------------------------------------------------------------------------------ */

static void test_tokens_and_roles(void **state)
{
    (void)state;
    struct fixture *f = fixture_start(tokens, true);
    struct response r;
    char v[128];

    call(f, "GET", "/api/v1/slots", NULL, NULL, NULL, &r); /* reads are open by default */
    assert_int_equal(r.status, 200);
    response_free(&r);
    call(f, "GET", "/api/v1/context", MES, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    response_free(&r);
    call(f, "GET", "/api/v1/slots", "wrong-0123456789abcdef", NULL, NULL, &r);
    assert_true(header(&r, "WWW-Authenticate", v, sizeof(v)));
    assert_string_equal(v, "Bearer realm=\"flashrack\", error=\"invalid_token\"");
    assert_error(&r, 401, "unauthorized", "not one the station knows");

    call(f, "POST", "/api/v1/slots/A1/pause", NULL, NULL, NULL, &r);
    assert_true(header(&r, "WWW-Authenticate", v, sizeof(v)));
    assert_string_equal(v, "Bearer realm=\"flashrack\"");
    assert_error(&r, 401, "unauthorized", "an operator, supervisor or admin token");
    call(f, "POST", "/api/v1/slots/A1/pause", MES, NULL, NULL, &r);
    assert_false(header(&r, "WWW-Authenticate", v, sizeof(v)));
    assert_error(&r, 403, "forbidden", "role mes");
    /* The route is checked before the caller: a wrong method is 405 for anyone. */
    call(f, "GET", "/api/v1/slots/A1/pause", NULL, NULL, NULL, &r);
    assert_true(header(&r, "Allow", v, sizeof(v)));
    assert_string_equal(v, "POST");
    assert_error(&r, 405, "method_not_allowed", NULL);
    /* The caller is checked before the body: a stranger's body is never read. */
    call(f, "PUT", "/api/v1/context", NULL, "text/plain", "x", &r);
    assert_error(&r, 401, "unauthorized", NULL);
    call(f, "POST", "/api/v1/slots/Z9/pause", OP, NULL, NULL, &r);
    assert_error(&r, 404, "not_found", "Z9");

    /* Nothing refused before the token check is audited; the 404 by an operator is. */
    struct audit_read *ar = calloc(1, sizeof(*ar));
    assert_non_null(ar);
    run_on_loop(f, job_audit, ar);
    assert_int_equal(ar->n, 1);
    assert_string_equal(ar->rows[0].actor, "line3-tablet");
    assert_string_equal(ar->rows[0].action, "POST /api/v1/slots/Z9/pause");
    free(ar);
    fixture_stop(f);

    f = fixture_start("[auth]\nopen_reads = no\ntoken = mes:" MES "\n", true);
    call(f, "GET", "/api/v1/slots", NULL, NULL, NULL, &r);
    assert_error(&r, 401, "unauthorized", "needs a token");
    call(f, "GET", "/api/v1/slots", MES, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    response_free(&r);
    call(f, "GET", "/healthz", NULL, NULL, NULL, &r); /* always open */
    assert_int_equal(r.status, 200);
    response_free(&r);
    fixture_stop(f);

    f = fixture_start("", false); /* no [auth]: reads as before, writes refused */
    call(f, "GET", "/api/v1/context", NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    response_free(&r);
    call(f, "POST", "/api/v1/slots/A1/abort", OP, NULL, NULL, &r);
    assert_error(&r, 403, "forbidden", "auth is not configured");
    fixture_stop(f);
}

static void test_bodies(void **state)
{
    (void)state;
    struct fixture *f = fixture_start(tokens, false);
    struct response r;

    call(f, "PUT", "/api/v1/context", SUP, "text/plain", "{\"lot\":\"L1\"}", &r);
    assert_error(&r, 415, "unsupported_media_type", "'text/plain'");
    call(f, "PUT", "/api/v1/context", SUP, NULL, "{\"lot\":\"L1\"}", &r);
    assert_error(&r, 415, "unsupported_media_type", "none");
    call(f, "PUT", "/api/v1/context", SUP, "application/json-patch", "{}", &r);
    assert_error(&r, 415, "unsupported_media_type", NULL);
    call(f, "PUT", "/api/v1/context", SUP, "Application/JSON; charset=utf-8", "{\"lot\":\"L1\"}",
         &r);
    assert_int_equal(r.status, 200);
    response_free(&r);

    put_json(f, SUP, "{\"lot\":", &r);
    assert_error(&r, 400, "bad_request", "not valid JSON");
    put_json(f, SUP, "{\"lot\":\"a\"} {}", &r);
    assert_error(&r, 400, "bad_request", "not valid JSON");
    put_json(f, SUP, "{\"lot\":\"a\",\"lot\":\"b\"}", &r);
    assert_error(&r, 400, "bad_request", "duplicate");
    put_json(f, SUP, "[\"lot\"]", &r);
    assert_error(&r, 400, "bad_request", "JSON object");
    put_json(f, SUP, "\"lot\"", &r);
    assert_error(&r, 400, "bad_request", NULL);
    put_json(f, SUP, "{\"lot\":\"\\u0000x\"}", &r);
    assert_error(&r, 400, "bad_request", NULL);
    put_json(f, SUP, "{\"lot\":\"\xff\"}", &r);
    assert_error(&r, 400, "bad_request", "not valid JSON");
    put_json(f, SUP, "{\"lot\":7}", &r);
    assert_error(&r, 400, "bad_request", "field 'lot' must be a string");
    put_json(f, SUP, "{\"lot\":null}", &r);
    assert_error(&r, 400, "bad_request", "field 'lot' must be a string");
    put_json(f, SUP, "{\"shift\":\"B\"}", &r);
    assert_error(&r, 400, "bad_request", "unknown field 'shift'");
    put_json(f, SUP, "{\"lot\":\"a\\nb\"}", &r);
    assert_error(&r, 400, "bad_request", "control character");
    put_json(f, SUP, "{}", &r);
    assert_error(&r, 400, "bad_request", "nothing to set");
    call(f, "PUT", "/api/v1/context", SUP, "application/json", "", &r);
    assert_error(&r, 400, "bad_request", "needs a JSON object");
    char body[6000];
    int n = snprintf(body, sizeof(body), "{\"lot\":\"");
    memset(body + n, 'x', 64);
    snprintf(body + n + 64, sizeof(body) - (size_t)n - 64, "\"}");
    put_json(f, SUP, body, &r);
    assert_error(&r, 400, "bad_request", "too long");

    /* Over the route's 4096 bytes (the server allows 64 KiB): declared, then chunked. */
    const char *head = "PUT /api/v1/context HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
                       "Authorization: Bearer " SUP "\r\nContent-Type: application/json\r\n";
    char req[8192];
    n = snprintf(req, sizeof(req), "%sContent-Length: 5000\r\n\r\n", head);
    exchange(f, req, (size_t)n, &r);
    assert_error(&r, 413, "payload_too_large", "4096 bytes of /api/v1/context");
    n = snprintf(req, sizeof(req), "%sTransfer-Encoding: chunked\r\n\r\n1000\r\n{\"lot\":\"", head);
    memset(req + n, 'y', 0x1000 - 8);
    n += 0x1000 - 8;
    n += snprintf(req + n, sizeof(req) - (size_t)n, "\r\n2\r\n\"}\r\n0\r\n\r\n");
    exchange(f, req, (size_t)n, &r);
    assert_error(&r, 413, "payload_too_large", "4096");
    /* A chunked body within the limit is read whole. */
    n = snprintf(req, sizeof(req),
                 "%sTransfer-Encoding: chunked\r\n\r\n8\r\n{\"lot\":\"\r\n"
                 "4\r\nL-42\r\n2\r\n\"}\r\n0\r\n\r\n",
                 head);
    exchange(f, req, (size_t)n, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "lot")), "L-42");
    response_free(&r);
    fixture_stop(f);
}

static void test_context(void **state)
{
    (void)state;
    struct fixture *f = fixture_start(tokens, true);
    struct response r;

    call(f, "GET", "/api/v1/context", NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "work_order")), "");
    assert_true(json_is_null(json_object_get(r.json, "updated_unix_ms")));
    assert_true(json_is_null(json_object_get(r.json, "updated_by")));
    response_free(&r);

    /* An operator names themself, nothing more; a refused request changes nothing. */
    put_json(f, OP, "{\"operator\":\"Wang Li\",\"lot\":\"L7\"}", &r);
    assert_error(&r, 403, "forbidden", "'lot' needs a supervisor");
    put_json(f, OP, "{\"operator\":\"Wang Li\"}", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "operator")), "Wang Li");
    assert_string_equal(json_string_value(json_object_get(r.json, "lot")), "");
    assert_string_equal(json_string_value(json_object_get(r.json, "updated_by")), "line3-tablet");
    response_free(&r);
    put_json(f, SUP, "{\"work_order\":\"WO-2026-114\",\"lot\":\"L7\"}", &r);
    assert_int_equal(r.status, 200);
    response_free(&r);
    call(f, "GET", "/api/v1/context", NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "work_order")), "WO-2026-114");
    assert_string_equal(json_string_value(json_object_get(r.json, "lot")), "L7");
    assert_string_equal(json_string_value(json_object_get(r.json, "operator")), "Wang Li");
    assert_string_equal(json_string_value(json_object_get(r.json, "updated_by")), "supervisor");
    assert_true(json_integer_value(json_object_get(r.json, "updated_unix_ms")) > 1600000000000);
    uint64_t updated = (uint64_t)json_integer_value(json_object_get(r.json, "updated_unix_ms"));
    response_free(&r);

    /* Saved: a restart reads the same context back. */
    struct station_context back;
    run_on_loop(f, job_restore, &back);
    assert_string_equal(back.work_order, "WO-2026-114");
    assert_string_equal(back.lot, "L7");
    assert_string_equal(back.operator_name, "Wang Li");
    assert_string_equal(back.updated_by, "supervisor");
    assert_int_equal(back.updated_unix_ms, updated);

    /* Stamped on the next attempt. */
    plug(f, "1-1.1");
    json_t *flow = slot_flow(f, "A1", &r);
    assert_string_equal(json_string_value(json_object_get(flow, "state")), "fail");
    struct attempt_read ar = {.id = json_integer_value(json_object_get(flow, "attempt_id"))};
    response_free(&r);
    assert_true(ar.id > 0);
    run_on_loop(f, job_attempt, &ar);
    assert_int_equal(ar.r, 0);
    assert_string_equal(ar.a.operator_name, "Wang Li");
    assert_string_equal(ar.a.work_order, "WO-2026-114");
    assert_string_equal(ar.a.lot, "L7");

    /* The audit log has both changes with before and after. */
    struct audit_read *au = calloc(1, sizeof(*au));
    assert_non_null(au);
    run_on_loop(f, job_audit, au);
    size_t sets = 0;
    for (size_t i = 0; i < au->n; i++) {
        if (strcmp(au->rows[i].action, "context.set") != 0)
            continue;
        json_t *d = json_loads(au->rows[i].detail, 0, NULL);
        assert_non_null(d);
        assert_int_equal(json_integer_value(json_object_get(d, "status")), 200);
        assert_string_equal(au->rows[i].remote_addr, "127.0.0.1");
        assert_string_equal(au->rows[i].target, "context");
        if (sets++ == 1) {
            assert_string_equal(au->rows[i].actor, "supervisor");
            assert_string_equal(au->rows[i].role, "supervisor");
            assert_string_equal(
                json_string_value(json_object_get(json_object_get(d, "set"), "lot")), "L7");
            assert_string_equal(
                json_string_value(json_object_get(json_object_get(d, "before"), "operator")),
                "Wang Li");
        }
        json_decref(d);
    }
    assert_int_equal(sets, 2);
    /* The refused one is in too, as the call it was. */
    assert_string_equal(au->rows[0].action, "PUT /api/v1/context");
    assert_string_equal(au->rows[0].actor, "line3-tablet");
    json_t *d = json_loads(au->rows[0].detail, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(d, "status")), 403);
    json_decref(d);
    free(au);
    fixture_stop(f);
}

static void test_slot_control(void **state)
{
    (void)state;
    struct fixture *f = fixture_start(tokens, true);
    struct response r;

    call(f, "POST", "/api/v1/slots/A1/pause", OP, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_true(json_is_true(json_object_get(r.json, "paused")));
    assert_string_equal(json_string_value(json_object_get(r.json, "label")), "A1");
    assert_string_equal(json_string_value(json_object_get(r.json, "flow_state")), "idle");
    response_free(&r);
    call(f, "POST", "/api/v1/slots/A1/pause", OP, NULL, NULL, &r); /* idempotent */
    assert_int_equal(r.status, 200);
    response_free(&r);

    /* A paused slot starts nothing: the module waits, no attempt is opened. */
    plug(f, "1-1.1");
    json_t *flow = slot_flow(f, "A1", &r);
    assert_true(json_is_true(json_object_get(flow, "paused")));
    assert_string_equal(json_string_value(json_object_get(flow, "state")), "idle");
    assert_int_equal(json_integer_value(json_object_get(flow, "attempt_id")), 0);
    response_free(&r);
    flow = slot_flow(f, "A2", &r);
    assert_true(json_is_false(json_object_get(flow, "paused")));
    response_free(&r);

    call(f, "POST", "/api/v1/slots/A1/abort", OP, NULL, NULL, &r);
    assert_error(&r, 409, "conflict", "nothing runs on slot A1");

    /* Resume starts the module that waited (its attempt fails at once here: no port). */
    call(f, "POST", "/api/v1/slots/A1/resume", SUP, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_true(json_is_false(json_object_get(r.json, "paused")));
    assert_string_equal(json_string_value(json_object_get(r.json, "flow_state")), "fail");
    json_int_t id = json_integer_value(json_object_get(r.json, "attempt_id"));
    assert_true(id > 0);
    response_free(&r);
    struct attempt_read ar = {.id = id};
    run_on_loop(f, job_attempt, &ar);
    assert_int_equal(ar.r, 0);
    assert_int_equal(ar.a.result, DB_RESULT_FAIL);
    assert_string_equal(ar.a.slot, "A1");
    call(f, "POST", "/api/v1/slots/A1/resume", SUP, NULL, NULL, &r); /* idempotent */
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "attempt_id")), id);
    response_free(&r);

    /* A verdict waits for removal: nothing to abort. */
    call(f, "POST", "/api/v1/slots/A1/abort", OP, NULL, NULL, &r);
    assert_error(&r, 409, "conflict", "no job and no open attempt");

    struct audit_read *au = calloc(1, sizeof(*au));
    assert_non_null(au);
    run_on_loop(f, job_audit, au);
    const char *want[][3] = {
        {"slot.pause", "line3-tablet", "200"}, {"slot.pause", "line3-tablet", "200"},
        {"slot.abort", "line3-tablet", "409"}, {"slot.resume", "supervisor", "200"},
        {"slot.resume", "supervisor", "200"},  {"slot.abort", "line3-tablet", "409"},
    };
    assert_int_equal(au->n, 6);
    for (size_t i = 0; i < 6; i++) {
        /* A refusal by the handler keeps the default action: "POST path". */
        bool refused = strcmp(want[i][2], "409") == 0;
        if (refused)
            assert_string_equal(au->rows[i].action, "POST /api/v1/slots/A1/abort");
        else
            assert_string_equal(au->rows[i].action, want[i][0]);
        assert_string_equal(au->rows[i].actor, want[i][1]);
        json_t *d = json_loads(au->rows[i].detail, 0, NULL);
        assert_int_equal(json_integer_value(json_object_get(d, "status")), atoi(want[i][2]));
        if (i == 0 || i == 1 || i == 3 || i == 4) /* was it paused before the call */
            assert_int_equal(json_is_true(json_object_get(d, "was_paused")), i == 1 || i == 3);
        json_decref(d);
    }
    free(au);
    fixture_stop(f);

    f = fixture_start(tokens, false); /* no workflow: nothing to pause */
    call(f, "POST", "/api/v1/slots/A1/pause", OP, NULL, NULL, &r);
    assert_error(&r, 409, "conflict", "no production flow");
    fixture_stop(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokens_and_roles),
        cmocka_unit_test(test_bodies),
        cmocka_unit_test(test_context),
        cmocka_unit_test(test_slot_control),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
