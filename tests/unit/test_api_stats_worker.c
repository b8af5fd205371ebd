/* GET /api/v1/stats computed on worker threads (daemon/api_stats.c): many requests at once
 * (more than the workers, so some wait their turn) all get the answer a lone request gets,
 * records written just before are in it (the worker's own connection reads what the loop
 * committed), other requests are served meanwhile, and a worker that cannot open the file
 * answers in the one error shape. api_testutil.h runs the server in a real loop. */
#include "api_testutil.h"

#include <pthread.h>

#define CLIENTS 8

/* A GET from another thread: no cmocka assertion here (they must run on the test's thread);
 * the raw answer is checked after the join. */
struct fetch {
    struct fixture *f;
    const char *target;
    char *raw;
    size_t len;
};

static void *fetch_run(void *arg)
{
    struct fetch *x = arg;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(x->f->port)};
    struct timeval tv = {DEADLINE_S, 0};
    char req[512];
    size_t cap = 1 << 16;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    x->raw = malloc(cap + 1);
    if (fd < 0 || !x->raw)
        return NULL;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                     x->target);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        send(fd, req, (size_t)n, MSG_NOSIGNAL) == n) {
        for (;;) {
            if (x->len == cap) {
                char *bigger = realloc(x->raw, (cap *= 2) + 1);
                if (!bigger)
                    break;
                x->raw = bigger;
            }
            ssize_t got = recv(fd, x->raw + x->len, cap - x->len, 0);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0)
                break;
            x->len += (size_t)got;
        }
    }
    close(fd);
    x->raw[x->len] = '\0';
    return NULL;
}

/* The JSON body of a raw answer (asserts the status). */
static json_t *parse(const char *raw, size_t len, int status)
{
    struct response r;
    int got = 0;

    memset(&r, 0, sizeof(r));
    if (sscanf(raw, "HTTP/1.1 %d", &got) != 1 || got != status)
        fail_msg("want HTTP %d, got: %.300s", status, raw);
    const char *sep = strstr(raw, "\r\n\r\n");
    assert_non_null(sep);
    const char *body = sep + 4;
    size_t avail = len - (size_t)(body - raw);
    char *headers = strndup(raw, (size_t)(sep - raw));
    if (strcasestr(headers, "\r\nTransfer-Encoding: chunked")) {
        dechunk(&r, body, avail);
    } else {
        r.body = strndup(body, avail);
        r.body_len = avail;
    }
    free(headers);
    json_t *o = json_loadb(r.body, r.body_len, 0, NULL);
    if (!o)
        fail_msg("not JSON: %s", r.body);
    free(r.body);
    return o;
}

static void seed_some(struct fixture *f, int n, uint64_t first_ms)
{
    static const char *const imeis[] = {"861", "862", "863", "864"};
    for (int i = 0; i < n; i++)
        seed(f, (struct seed){.imei = imeis[i % 4],
                              .slot = i % 2 ? "A1" : "A2",
                              .ended_ms = first_ms + (uint64_t)i * 60000,
                              .duration_ms = 1000 + (uint64_t)i,
                              .result = i % 3 ? DB_RESULT_PASS : DB_RESULT_FAIL,
                              .code = i % 3 ? NULL : "timeout"});
}

static void test_concurrent(void **state)
{
    (void)state;
    struct fixture *f = fixture_start();
    char url[128];
    struct response r;

    seed_some(f, 40, T0);
    snprintf(url, sizeof(url), "/api/v1/stats?from=%llu&to=%llu", (unsigned long long)T0,
             (unsigned long long)(T0 + 3 * HOUR));
    get(f, url, &r);
    assert_int_equal(r.status, 200);
    json_t *lone = json_incref(r.json);
    assert_int_equal(num(json_object_get(lone, "attempts"), "total"), 40);
    response_free(&r);

    pthread_t th[CLIENTS];
    struct fetch x[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        x[i] = (struct fetch){.f = f, .target = url};
        assert_int_equal(pthread_create(&th[i], NULL, fetch_run, &x[i]), 0);
    }
    get(f, "/api/v1/station", &r); /* served while the windows are computed */
    assert_int_equal(r.status, 200);
    response_free(&r);
    for (int i = 0; i < CLIENTS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        json_t *o = parse(x[i].raw, x[i].len, 200);
        if (!json_equal(o, lone))
            fail_msg("client %d got another answer: %s", i, x[i].raw);
        json_decref(o);
        free(x[i].raw);
    }

    /* Written by the loop just now, read by a worker's own connection at once. */
    seed_some(f, 5, T0 + 2 * HOUR);
    get(f, url, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(num(json_object_get(r.json, "attempts"), "total"), 45);
    response_free(&r);
    json_decref(lone);
    fixture_stop(f);
}

static void test_worker_cannot_open(void **state)
{
    (void)state;
    struct fixture *f = fixture_start();
    char path[256], moved[256];
    struct response r;

    /* The loop's connection keeps its open file; a worker's new one finds no file. */
    snprintf(path, sizeof(path), "%s/flashrack.db", f->dir);
    snprintf(moved, sizeof(moved), "%s/elsewhere.db", f->dir);
    assert_int_equal(rename(path, moved), 0);
    get(f, "/api/v1/stats", &r);
    assert_int_equal(r.status, 500);
    assert_string_equal(str(json_object_get(r.json, "error"), "code"), "internal");
    const char *msg = str(json_object_get(r.json, "error"), "message");
    assert_non_null(strstr(msg, "cannot read statistics"));
    assert_null(strstr(msg, f->dir)); /* the file's path is for the log, not the client */
    response_free(&r);
    assert_int_equal(rename(moved, path), 0);
    get(f, "/api/v1/stats", &r);
    assert_int_equal(r.status, 200);
    response_free(&r);
    fixture_stop(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent),
        cmocka_unit_test(test_worker_cannot_open),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
