/* MES push: the backoff schedule, the delivered/retry split of HTTP statuses and the body,
 * then the sender itself in a real libuv loop against a real HTTP receiver (libmicrohttpd,
 * a thread per connection) that fails on purpose: every record arrives, with its UUID as
 * Idempotency-Key and in the body, retries are counted, concurrency stays bounded, an
 * unreachable MES leaves rows pending with the error, and a stop cancels in-flight requests
 * without touching their rows. Waits are for conditions with generous deadlines. */
#include "db_testutil.h"

#include "db_outbox.h"
#include "mes.h"
#include "http_receiver.h"

#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <uv.h>

/* ---- pure parts ---- */

static void test_backoff(void **state)
{
    (void)state;
    /* First retry: [min/2, min]; the ends are reached by the ends of the random range. */
    assert_int_equal(mes_backoff_ms(1000, 60000, 1, 0), 500);
    assert_int_equal(mes_backoff_ms(1000, 60000, 1, UINT32_MAX), 1000);
    /* Doubling per try. */
    assert_int_equal(mes_backoff_ms(1000, 60000, 2, UINT32_MAX), 2000);
    assert_int_equal(mes_backoff_ms(1000, 60000, 4, UINT32_MAX), 8000);
    assert_int_equal(mes_backoff_ms(1000, 60000, 4, 0), 4000);
    /* The cap, also for absurd try counts (no overflow). */
    assert_int_equal(mes_backoff_ms(1000, 60000, 7, UINT32_MAX), 60000);
    assert_int_equal(mes_backoff_ms(1000, 60000, UINT32_MAX, UINT32_MAX), 60000);
    assert_int_equal(mes_backoff_ms(1000, 60000, UINT32_MAX, 0), 30000);
    /* tries 0 reads as 1; min above max uses min; never below min/2. */
    assert_int_equal(mes_backoff_ms(1000, 60000, 0, UINT32_MAX), 1000);
    assert_int_equal(mes_backoff_ms(5000, 100, 3, UINT32_MAX), 5000);
    assert_int_equal(mes_backoff_ms(1001, 1001, 9, 0), 500);
    /* Jitter spreads: many draws stay in bounds and do not collapse to a few values. */
    {
        uint32_t x = 12345, distinct = 0;
        uint64_t prev = 0;
        for (int i = 0; i < 1000; i++) {
            x = x * 1103515245u + 12345u;
            uint64_t d = mes_backoff_ms(100, 10000, 5, x);
            assert_true(d >= 800 && d <= 1600);
            distinct += d != prev;
            prev = d;
        }
        assert_true(distinct > 900);
    }
}

static void test_status(void **state)
{
    static const long yes[] = {200, 201, 202, 204, 299, 409};
    static const long no[] = {0,   100, 199, 300, 301, 304, 400, 401, 403,
                              404, 408, 410, 422, 429, 500, 502, 503, 504};

    (void)state;
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        assert_true(mes_status_delivered(yes[i]));
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        assert_false(mes_status_delivered(no[i]));
}

static void test_body(void **state)
{
    struct db_attempt a = {.id = 7,
                           .attempt_no = 2,
                           .started_unix_ms = 1000,
                           .ended_unix_ms = 61000,
                           .duration_ms = 60000,
                           .bytes_written = 42,
                           .result = DB_RESULT_FAIL,
                           .finish_seq = 5};
    json_t *o;

    (void)state;
    snprintf(a.attempt_uuid, sizeof(a.attempt_uuid), "6f1c1e54-9d7e-4a51-8b1e-2d2b7f6a9c01");
    snprintf(a.operator_name, sizeof(a.operator_name), "li");
    snprintf(a.imei, sizeof(a.imei), "861234567890123");
    snprintf(a.fail_code, sizeof(a.fail_code), "timeout");
    snprintf(a.fail_message, sizeof(a.fail_message), "bad \xff byte");
    o = mes_attempt_json(&a);
    assert_non_null(o);
    assert_int_equal(json_object_size(o), 30);
    assert_string_equal(json_string_value(json_object_get(o, "attempt_uuid")), a.attempt_uuid);
    assert_string_equal(json_string_value(json_object_get(o, "operator")), "li");
    assert_string_equal(json_string_value(json_object_get(o, "result")), "fail");
    assert_string_equal(json_string_value(json_object_get(o, "fail_message")), "bad ? byte");
    assert_string_equal(json_string_value(json_object_get(o, "work_order")), "");
    assert_int_equal(json_integer_value(json_object_get(o, "id")), 7);
    assert_int_equal(json_integer_value(json_object_get(o, "duration_ms")), 60000);
    assert_int_equal(json_integer_value(json_object_get(o, "finish_seq")), 5);
    assert_null(json_object_get(o, "mes_state"));
    json_decref(o);
}

static void expect_config_error(const char *text, const char *want)
{
    struct config cfg;
    char err[512] = "";

    assert_int_equal(config_load_string(text, &cfg, err, sizeof(err)), -EINVAL);
    if (!strstr(err, want))
        fail_msg("config error '%s' lacks '%s'", err, want);
}

static void test_config_section(void **state)
{
    struct config cfg;
    char err[512] = "";

    (void)state;
    assert_int_equal(config_load_string("", &cfg, err, sizeof(err)), 0);
    assert_string_equal(cfg.mes.url, ""); /* push off by default */
    assert_int_equal(cfg.mes.tls_verify, 1);
    assert_int_equal(cfg.mes.timeout_ms, 10000);
    assert_int_equal(cfg.mes.max_in_flight, 4);
    assert_int_equal(cfg.mes.backoff_min_ms, 1000);
    assert_int_equal(cfg.mes.backoff_max_ms, 300000);
    assert_int_equal(config_load_string("[mes]\nurl = https://mes.example:8443/api/records?x=1\n"
                                        "token = abc.DEF_123-~+/=\nca_file = /etc/ssl/mes.pem\n"
                                        "tls_verify = no\ntimeout_ms = 2500\nmax_in_flight = 16\n"
                                        "backoff_min_ms = 250\nbackoff_max_ms = 250\n",
                                        &cfg, err, sizeof(err)),
                     0);
    assert_string_equal(cfg.mes.url, "https://mes.example:8443/api/records?x=1");
    assert_string_equal(cfg.mes.token, "abc.DEF_123-~+/=");
    assert_string_equal(cfg.mes.ca_file, "/etc/ssl/mes.pem");
    assert_int_equal(cfg.mes.tls_verify, 0);
    assert_int_equal(cfg.mes.timeout_ms, 2500);
    assert_int_equal(cfg.mes.max_in_flight, 16);
    assert_int_equal(cfg.mes.backoff_min_ms, 250);
    assert_int_equal(cfg.mes.backoff_max_ms, 250);

    expect_config_error("[mes]\nurl = ftp://mes/records\n", ":2: [mes] url: 'ftp://mes/records'");
    expect_config_error("[mes]\nurl = http://\n", "[mes] url");
    expect_config_error("[mes]\nurl = http:///path\n", "[mes] url");
    expect_config_error("[mes]\nurl = http://mes/a b\n", "no spaces");
    expect_config_error("[mes]\ntoken = secret with spaces\n", "[mes] token: at most 255");
    expect_config_error("[mes]\ntls_verify = maybe\n", "not yes or no");
    expect_config_error("[mes]\nmax_in_flight = 0\n", "from 1 to 64");
    expect_config_error("[mes]\nmax_in_flight = 65\n", "from 1 to 64");
    expect_config_error("[mes]\ntimeout_ms = 99\n", "[mes] timeout_ms");
    expect_config_error("[mes]\nbackoff_min_ms = 5000\nbackoff_max_ms = 4000\n",
                        "backoff_min_ms 5000 is above backoff_max_ms 4000");
    expect_config_error("[mes]\nretries = 3\n", "unknown key 'retries' in section [mes]");
    /* The token never appears in a message. */
    expect_config_error("[mes]\ntoken = s3cr3t!\n", "[mes] token");
    assert_int_equal(config_load_string("[mes]\ntoken = s3cr3t!\n", &cfg, err, sizeof(err)),
                     -EINVAL);
    assert_null(strstr(err, "s3cr3t"));
}

/* ---- a receiver that misbehaves on purpose ---- */

#define MAX_SEEN 256

struct seen {
    char key[64], auth[64], ctype[64], body_uuid[64];
    unsigned status;
};

struct receiver {
    struct http_receiver http; /* first: the answer callback is handed this */
    struct seen seen[MAX_SEEN];
    int n_seen;
    int fail_first;      /* answer 500 to the first fail_first requests of each key */
    int conflict_key_no; /* the request with this ordinal (1-based) is answered 409 */
};

static int tries_of(struct receiver *rx, const char *key)
{
    int n = 0;
    for (int i = 0; i < rx->n_seen; i++)
        n += strcmp(rx->seen[i].key, key) == 0;
    return n;
}

static unsigned answer(struct http_receiver *http, struct MHD_Connection *conn, const char *data,
                       size_t len, const char **text)
{
    struct receiver *rx = (struct receiver *)http;
    struct seen s = {0};
    const char *v;

    v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Idempotency-Key");
    snprintf(s.key, sizeof(s.key), "%s", v ? v : "");
    v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    snprintf(s.auth, sizeof(s.auth), "%s", v ? v : "");
    v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
    snprintf(s.ctype, sizeof(s.ctype), "%s", v ? v : "");
    json_t *body = json_loadb(data, len, 0, NULL);
    v = json_string_value(json_object_get(body, "attempt_uuid"));
    snprintf(s.body_uuid, sizeof(s.body_uuid), "%s", v ? v : "");
    json_decref(body);

    int prior = tries_of(rx, s.key);
    int ordinal = rx->n_seen + 1;
    s.status = prior < rx->fail_first ? 500 : 201;
    if (ordinal == rx->conflict_key_no)
        s.status = 409;
    if (rx->n_seen < MAX_SEEN)
        rx->seen[rx->n_seen++] = s;
    *text = "{\"ok\":false}";
    return s.status;
}

static void rx_start(struct receiver *rx)
{
    http_receiver_start(&rx->http, answer);
}

static void rx_stop(struct receiver *rx)
{
    http_receiver_stop(&rx->http);
}

/* ---- the sender in a loop ---- */

struct run {
    struct db *db;
    struct mes *mes;
    uv_timer_t check;
    int (*until)(struct run *run);
    struct receiver *rx;
    uint64_t deadline_ms;
    int stopped, timed_out;
};

static void on_stopped(void *ud)
{
    ((struct run *)ud)->stopped = 1;
}

static void on_check(uv_timer_t *t)
{
    struct run *run = t->data;

    if (!run->until(run) && uv_now(t->loop) < run->deadline_ms)
        return;
    run->timed_out = !run->until(run);
    uv_close((uv_handle_t *)&run->check, NULL);
    mes_stop(run->mes, on_stopped, run);
}

/* Runs the sender until until(run) holds (or 60 s passed), stops it, and checks the loop
 * closes with no handle left behind. */
static void run_sender(struct run *run, const struct config_mes *cfg)
{
    uv_loop_t loop;

    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(mes_start(&loop, run->db, cfg, &run->mes), 0);
    uv_timer_init(&loop, &run->check);
    run->check.data = run;
    run->deadline_ms = uv_now(&loop) + 60000;
    uv_timer_start(&run->check, on_check, 10, 10);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_true(run->stopped);
    assert_false(run->timed_out);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void make_attempts(struct db *db, int n, int64_t *ids, char (*uuids)[DB_UUID_SIZE])
{
    for (int i = 0; i < n; i++) {
        struct db_attempt a = {.started_unix_ms = 1000};
        assert_int_equal(db_attempt_begin(db, &a, NULL), 0);
        a.result = i % 2 ? DB_RESULT_FAIL : DB_RESULT_PASS;
        a.ended_unix_ms = 2000;
        assert_int_equal(db_attempt_finish(db, &a), 0);
        ids[i] = a.id;
        memcpy(uuids[i], a.attempt_uuid, DB_UUID_SIZE);
    }
}

static void config_for(struct config_mes *cfg, uint16_t port)
{
    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->url, sizeof(cfg->url), "http://127.0.0.1:%u/records", port);
    snprintf(cfg->token, sizeof(cfg->token), "tok-123");
    cfg->tls_verify = 1;
    cfg->timeout_ms = 5000;
    cfg->max_in_flight = 3;
    cfg->backoff_min_ms = 20;
    cfg->backoff_max_ms = 100;
}

static int none_pending(struct run *run)
{
    int64_t pending = -1;
    assert_int_equal(db_outbox_counts(run->db, &pending, NULL, NULL), 0);
    return pending == 0;
}

static void test_delivers_through_failures(void **state)
{
    enum { N = 8 };
    struct db *db = open_ok(((struct tdir *)*state)->path);
    struct receiver rx = {.http.delay_ms = 30, .fail_first = 2, .conflict_key_no = 1};
    struct run run = {.db = db, .until = none_pending, .rx = &rx};
    char uuids[N][DB_UUID_SIZE];
    struct config_mes cfg;
    int64_t ids[N];

    make_attempts(db, N, ids, uuids);
    rx_start(&rx);
    config_for(&cfg, rx.http.port);
    run_sender(&run, &cfg);
    rx_stop(&rx);

    /* Every record arrived; the body names the same attempt as the key; headers are set. */
    for (int i = 0; i < rx.n_seen; i++) {
        assert_string_equal(rx.seen[i].key, rx.seen[i].body_uuid);
        assert_string_equal(rx.seen[i].auth, "Bearer tok-123");
        assert_string_equal(rx.seen[i].ctype, "application/json");
    }
    for (int i = 0; i < N; i++) {
        struct db_outbox_entry e;
        struct db_attempt a;
        /* The 409 (the very first request) ended its record's deliveries at once. */
        int want = strcmp(uuids[i], rx.seen[0].key) == 0 ? 1 : 3;

        assert_int_equal(tries_of(&rx, uuids[i]), want);
        assert_int_equal(db_outbox_get(db, ids[i], &e), 0);
        assert_int_equal(e.state, DB_OUTBOX_DELIVERED);
        assert_int_equal(e.tries, want);
        assert_int_equal(e.last_status, want == 1 ? 409 : 201);
        assert_int_equal(db_attempt_get(db, ids[i], &a), 0);
        assert_string_equal(a.mes_state, "delivered");
    }
    assert_int_equal(rx.n_seen, 3 * N - 2);
    assert_true(rx.http.max_active >= 1 && rx.http.max_active <= 3);
    db_close(db);
}

static int tried_twice(struct run *run)
{
    struct db_outbox_entry e;
    assert_int_equal(db_outbox_get(run->db, 1, &e), 0);
    return e.tries >= 2;
}

static void test_unreachable_stays_pending(void **state)
{
    struct db *db = open_ok(((struct tdir *)*state)->path);
    struct run run = {.db = db, .until = tried_twice};
    char uuids[1][DB_UUID_SIZE];
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    struct db_outbox_entry e;
    struct config_mes cfg;
    int64_t ids[1];
    int fd;

    make_attempts(db, 1, ids, uuids);
    /* A port nobody listens on: bound, never listened to. */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    config_for(&cfg, ntohs(sa.sin_port));
    run_sender(&run, &cfg);
    close(fd);
    assert_int_equal(db_outbox_get(db, ids[0], &e), 0);
    assert_int_equal(e.state, DB_OUTBOX_PENDING);
    assert_int_equal(e.last_status, 0);
    assert_non_null(strstr(e.last_error, "connect"));
    assert_true(e.next_try_unix_ms > e.last_try_unix_ms);
    db_close(db);
}

static int rx_has_two(struct run *run)
{
    pthread_mutex_lock(&run->rx->http.lock);
    int n = run->rx->http.active;
    pthread_mutex_unlock(&run->rx->http.lock);
    return n >= 2;
}

static void test_stop_cancels_in_flight(void **state)
{
    struct db *db = open_ok(((struct tdir *)*state)->path);
    struct receiver rx = {.http.delay_ms = 30000};
    struct run run = {.db = db, .until = rx_has_two, .rx = &rx};
    char uuids[2][DB_UUID_SIZE];
    struct config_mes cfg;
    int64_t ids[2];

    make_attempts(db, 2, ids, uuids);
    rx_start(&rx);
    config_for(&cfg, rx.http.port);
    run_sender(&run, &cfg); /* stops while both requests wait for their answers */
    rx_stop(&rx);
    for (int i = 0; i < 2; i++) {
        struct db_outbox_entry e;
        assert_int_equal(db_outbox_get(db, ids[i], &e), 0);
        assert_int_equal(e.state, DB_OUTBOX_PENDING);
        assert_int_equal(e.tries, 0);
        assert_int_equal(e.next_try_unix_ms, 0);
    }
    db_close(db);
}

static void test_start_refuses_empty_url(void **state)
{
    struct config_mes cfg = {0};
    struct mes *m = NULL;

    (void)state;
    assert_int_equal(mes_start(uv_default_loop(), NULL, &cfg, &m), -EINVAL);
    assert_null(m);
    mes_stop(NULL, NULL, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_status),
        cmocka_unit_test(test_body),
        cmocka_unit_test(test_config_section),
        cmocka_unit_test_setup_teardown(test_delivers_through_failures, tdir_setup, tdir_teardown),
        cmocka_unit_test_setup_teardown(test_unreachable_stays_pending, tdir_setup, tdir_teardown),
        cmocka_unit_test_setup_teardown(test_stop_cancels_in_flight, tdir_setup, tdir_teardown),
        cmocka_unit_test(test_start_refuses_empty_url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
