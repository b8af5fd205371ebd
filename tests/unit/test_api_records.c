/* The records API against a real server in a real loop: attempts (cursors, windows,
 * filters, CSV) and one attempt with its log (api_testutil.h runs the server). */
#include "api_testutil.h"

#define API_BIG_LOG (300 * 1024) /* over the 256 KiB the API shows */

/* ---- attempts list ------------------------------------------------------------------- */

static void test_paging_by_id_and_seq(void **state)
{
    (void)state;
    struct fixture *f = fixture_start();
    /* The first attempt starts first and finishes last: an id cursor passes it while it
     * runs, the finish_seq cursor delivers it when it becomes final. */
    int64_t late = seed(f, (struct seed){.imei = "860000000000001",
                                         .ended_ms = T0 + 1000,
                                         .duration_ms = 500,
                                         .result = DB_RESULT_RUNNING});
    for (int i = 0; i < 24; i++)
        seed(f, (struct seed){.imei = "860000000000002",
                              .ended_ms = T0 + 2000 + (uint64_t)i,
                              .duration_ms = 100,
                              .result = DB_RESULT_PASS});
    struct response r;
    json_int_t cursor = 0, seen = 0;
    bool more = true;
    for (int pages = 0; more; pages++) {
        char url[128];
        snprintf(url, sizeof(url), "/api/v1/attempts?since_id=%lld&limit=10", (long long)cursor);
        get(f, url, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.content_type, "application/json");
        json_t *list = json_object_get(r.json, "attempts");
        for (size_t i = 0; i < json_array_size(list); i++) {
            json_t *a = json_array_get(list, i);
            assert_true(num(a, "id") > cursor); /* ascending, no repeats */
            cursor = num(a, "id");
            seen++;
            if (cursor == late) { /* running: no end yet */
                assert_string_equal(str(a, "result"), "running");
                assert_true(json_is_null(json_object_get(a, "ended_unix_ms")));
                assert_true(json_is_null(json_object_get(a, "finish_seq")));
            }
        }
        assert_int_equal(num(r.json, "next_since_id"), cursor);
        more = json_is_true(json_object_get(r.json, "more"));
        assert_true(pages < 3 || !more);
        response_free(&r);
    }
    assert_int_equal(seen, 25);

    /* MES puller: 24 finished so far; then the late one finishes and comes next. */
    get(f, "/api/v1/attempts?since_seq=0&limit=1000", &r);
    assert_int_equal(json_array_size(json_object_get(r.json, "attempts")), 24);
    json_int_t seq = num(r.json, "next_since_seq");
    assert_int_equal(seq, 24);
    response_free(&r);
    run_on_loop(f, job_finish, &late);
    char url[96];
    snprintf(url, sizeof(url), "/api/v1/attempts?since_seq=%lld", (long long)seq);
    get(f, url, &r);
    json_t *list = json_object_get(r.json, "attempts");
    assert_int_equal(json_array_size(list), 1);
    assert_int_equal(num(json_array_get(list, 0), "id"), late);
    assert_int_equal(num(json_array_get(list, 0), "finish_seq"), 25);
    assert_false(json_is_true(json_object_get(r.json, "more")));
    response_free(&r);

    expect_error(f, "/api/v1/attempts?limit=0", 400, "bad_request");
    expect_error(f, "/api/v1/attempts?limit=1001", 400, "bad_request");
    expect_error(f, "/api/v1/attempts?since_id=1&since_seq=1", 400, "bad_request");
    expect_error(f, "/api/v1/attempts?since_id=-1", 400, "bad_request");
    expect_error(f, "/api/v1/attempts?from=5&to=5", 400, "bad_request");
    expect_error(f, "/api/v1/attempts?colour=red", 400, "bad_request");
    fixture_stop(f);
}

/* A time window is walked as an id (or finish_seq) range: rows that ended outside it, or have
 * not ended, are skipped however they interleave, and paging by one never repeats a row. */
static void test_window_paging(void **state)
{
    (void)state;
    struct fixture *f = fixture_start();
    /* 0..9 end an hour apart; 10 runs; 11 ended inside the window but finished last. */
    for (int i = 0; i < 10; i++)
        seed(f, (struct seed){.imei = "865555555555555",
                              .ended_ms = T0 + (uint64_t)i * HOUR,
                              .duration_ms = 1000,
                              .result = DB_RESULT_PASS});
    seed(f,
         (struct seed){.ended_ms = T0 + 3 * HOUR, .duration_ms = 1, .result = DB_RESULT_RUNNING});
    seed(f,
         (struct seed){.ended_ms = T0 + 4 * HOUR + 5, .duration_ms = 1, .result = DB_RESULT_FAIL});
    const char *cursors[] = {"since_id", "since_seq"};
    for (int c = 0; c < 2; c++) {
        json_int_t cursor = 0, want[] = {3, 4, 5, 12}, want_seq[] = {3, 4, 5, 11};
        int got = 0;
        for (bool more = true; more;) {
            char url[200];
            struct response r;
            snprintf(url, sizeof(url), "/api/v1/attempts?from=%llu&to=%llu&limit=1&%s=%lld",
                     (unsigned long long)(T0 + 2 * HOUR), (unsigned long long)(T0 + 5 * HOUR),
                     cursors[c], (long long)cursor);
            get(f, url, &r);
            assert_int_equal(r.status, 200);
            json_t *list = json_object_get(r.json, "attempts");
            assert_true(json_array_size(list) <= 1);
            if (json_array_size(list)) {
                json_t *a = json_array_get(list, 0);
                assert_true(got < 4);
                assert_int_equal(num(a, "id"), want[got]);
                assert_int_equal(num(a, c ? "finish_seq" : "id"), c ? want_seq[got] : want[got]);
                got++;
            }
            json_int_t next = num(r.json, c ? "next_since_seq" : "next_since_id");
            assert_true(next >= cursor);
            cursor = next;
            more = json_is_true(json_object_get(r.json, "more"));
            response_free(&r);
        }
        assert_int_equal(got, 4);
    }
    fixture_stop(f);
}

#ifdef HTTP_HAVE_TEXT_REPLIES
static size_t count_ids(struct fixture *f, const char *url)
{
    struct response r;
    get(f, url, &r);
    if (r.status != 200)
        fail_msg("%s: %d %s", url, r.status, r.body);
    size_t n = json_array_size(json_object_get(r.json, "attempts"));
    response_free(&r);
    return n;
}

static void test_filters(void **state)
{
    (void)state;
    struct fixture *f = fixture_start();
    for (int i = 0; i < 12; i++)
        seed(f, (struct seed){.imei = i % 3 ? "861111111111111" : "862222222222222",
                              .slot = i % 2 ? "A2" : "A1",
                              .work_order = i < 4 ? "WO-A" : "WO-B",
                              .ended_ms = T0 + (uint64_t)i * HOUR,
                              .duration_ms = 1000,
                              .result = i % 4 == 0 ? DB_RESULT_FAIL : DB_RESULT_PASS});
    seed(f, (struct seed){.imei = "862222222222222",
                          .ended_ms = T0,
                          .duration_ms = 1,
                          .result = DB_RESULT_RUNNING});
    assert_int_equal(count_ids(f, "/api/v1/attempts"), 13);
    assert_int_equal(count_ids(f, "/api/v1/attempts?imei=862222222222222"), 5);
    assert_int_equal(count_ids(f, "/api/v1/attempts?work_order=WO-A"), 4);
    assert_int_equal(count_ids(f, "/api/v1/attempts?slot=A2"), 6);
    assert_int_equal(count_ids(f, "/api/v1/attempts?result=fail"), 3);
    assert_int_equal(count_ids(f, "/api/v1/attempts?result=running"), 1);
    /* Time windows are on ended_unix_ms: [from, to), running attempts are outside. */
    char url[160];
    snprintf(url, sizeof(url), "/api/v1/attempts?from=%llu&to=%llu",
             (unsigned long long)(T0 + 2 * HOUR), (unsigned long long)(T0 + 5 * HOUR));
    assert_int_equal(count_ids(f, url), 3);
    snprintf(url, sizeof(url), "/api/v1/attempts?from=%llu&slot=A1&result=pass&work_order=WO-B",
             (unsigned long long)(T0 + 2 * HOUR));
    assert_int_equal(count_ids(f, url), 2); /* i = 6, 10 (pass, A1, WO-B); 4 and 8 failed */
    assert_int_equal(count_ids(f, "/api/v1/attempts?imei=869999999999999"), 0);
    expect_error(f, "/api/v1/attempts?result=maybe", 400, "bad_request");
    expect_error(f, "/api/v1/attempts?imei=", 400, "bad_request");
    expect_error(f, "/api/v1/attempts?imei=12345678901234567890", 400, "bad_request");
    expect_error(f, "/api/v1/attempts?slot=A%01", 400, "bad_request");
    expect_error(f, "/api/v1/attempts?format=xml", 400, "bad_request");
    expect_error(f, "/api/v1/attempts?imei=1&imei=2", 400, "bad_request");
    fixture_stop(f);
}

/* Splits one RFC 4180 record off *p into fields[]; returns the field count. */
static size_t csv_record(const char **p, char fields[][600], size_t max)
{
    size_t n = 0;
    const char *s = *p;
    for (;;) {
        char *out = fields[n];
        size_t len = 0;
        if (*s == '"') {
            for (s++; !(s[0] == '"' && s[1] != '"'); s++) {
                assert_true(*s != '\0');
                if (s[0] == '"')
                    s++;
                out[len++] = *s;
            }
            s++;
        } else {
            while (*s != ',' && *s != '\r')
                out[len++] = *s++;
        }
        out[len] = '\0';
        n++;
        assert_true(n < max);
        if (*s == ',') {
            s++;
            continue;
        }
        assert_true(s[0] == '\r' && s[1] == '\n');
        *p = s + 2;
        return n;
    }
}

static void test_csv_export(void **state)
{
    (void)state;
    struct fixture *f = fixture_start();
    /* More rows than one refill of the export (200): the stream must page on. */
    const int rows = 450;
    for (int i = 0; i < rows; i++)
        seed(f, (struct seed){.imei = "863333333333333",
                              .code = i == 7 ? "a,b" : "",
                              .ended_ms = T0 + (uint64_t)i,
                              .duration_ms = 10,
                              .result = i == 7 ? DB_RESULT_FAIL : DB_RESULT_PASS});
    struct response r;
    get(f, "/api/v1/attempts?format=csv", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, "text/csv; charset=utf-8; header=present");
    static char fields[40][600];
    const char *p = r.body;
    size_t cols = csv_record(&p, fields, 40);
    assert_int_equal(cols, 31);
    assert_string_equal(fields[0], "id");
    assert_string_equal(fields[24], "result");
    assert_string_equal(fields[30], "finish_seq");
    long last = 0;
    for (int i = 0; i < rows; i++) {
        assert_int_equal(csv_record(&p, fields, 40), cols);
        assert_true(atol(fields[0]) > last);
        last = atol(fields[0]);
        /* A message with a quote, comma and newline survives quoting. */
        assert_string_equal(fields[27], "said \"no\", then\nstopped");
        if (i == 7) {
            assert_string_equal(fields[24], "fail");
            assert_string_equal(fields[26], "a,b");
        }
    }
    assert_int_equal(*p, '\0');
    response_free(&r);

    get(f, "/api/v1/attempts?format=csv&since_id=440&limit=5", &r);
    p = r.body;
    csv_record(&p, fields, 40);
    for (int i = 0; i < 5; i++) {
        csv_record(&p, fields, 40);
        assert_int_equal(atol(fields[0]), 441 + i);
    }
    assert_int_equal(*p, '\0');
    response_free(&r);
    fixture_stop(f);
}
#endif

/* ---- one attempt, its log ------------------------------------------------------------ */

static void write_file(struct fixture *f, const char *rel, const char *data, size_t len)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", f->dir, rel);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    fclose(fp);
}

static json_t *log_of(struct fixture *f, int64_t id, struct response *r)
{
    char url[64];
    snprintf(url, sizeof(url), "/api/v1/attempts/%lld", (long long)id);
    get(f, url, r);
    assert_int_equal(r->status, 200);
    return json_object_get(r->json, "log");
}

static void test_attempt_and_log(void **state)
{
    (void)state;
    struct fixture *f = fixture_start();
    char path[256];
    snprintf(path, sizeof(path), "%s/data/attempts", f->dir);
    assert_int_equal(mkdir(path, 0750), 0);
    write_file(f, "data/attempts/one.log", "tx 7e 01\nrx \xff\x01 7e\n", 18);
    write_file(f, "secret.log", "secret", 6);
    snprintf(path, sizeof(path), "%s/data/attempts/link.log", f->dir);
    assert_int_equal(symlink("../../secret.log", path), 0);
    size_t big = API_BIG_LOG;
    char *data = malloc(big);
    memset(data, 'x', big);
    memcpy(data + big - 4, "END\n", 4);
    write_file(f, "data/attempts/big.log", data, big);
    free(data);

    struct seed s = {.imei = "864444444444444",
                     .log_ref = "attempts/one.log",
                     .ended_ms = T0,
                     .duration_ms = 5,
                     .result = DB_RESULT_FAIL,
                     .code = "handshake_timeout"};
    run_on_loop(f, job_seed, &s);
    struct response r;
    json_t *log = log_of(f, s.id, &r);
    assert_string_equal(str(r.json, "attempt_uuid"), s.uuid);
    assert_string_equal(str(r.json, "fail_code"), "handshake_timeout");
    assert_int_equal(num(r.json, "finish_seq"), 1);
    assert_int_equal(json_object_size(r.json), 32); /* 31 record fields and the log */
    assert_string_equal(str(log, "ref"), "attempts/one.log");
    assert_int_equal(num(log, "bytes"), 18);
    assert_false(json_is_true(json_object_get(log, "truncated")));
    assert_string_equal(str(log, "text"), "tx 7e 01\nrx ?? 7e\n"); /* bad UTF-8, control */
    response_free(&r);

    /* The same by UUID (the MES Idempotency-Key), upper case too. */
    char url[96];
    snprintf(url, sizeof(url), "/api/v1/attempts/%s", s.uuid);
    for (char *c = url; *c; c++)
        *c = (char)(*c >= 'a' && *c <= 'f' ? *c - 32 : *c);
    memcpy(url, "/api/v1/attempts/", 17);
    get(f, url, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(num(r.json, "id"), s.id);
    response_free(&r);

    /* Crafted refs never read outside data_dir. */
    const char *bad[] = {"../secret.log",       "/etc/passwd",       "attempts/../../secret.log",
                         "attempts/link.log",   "attempts//one.log", "attempts/./one.log",
                         "attempts/missing.log"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct seed b = {
            .log_ref = bad[i], .ended_ms = T0, .duration_ms = 1, .result = DB_RESULT_FAIL};
        run_on_loop(f, job_seed, &b);
        log = log_of(f, b.id, &r);
        assert_string_equal(str(log, "ref"), bad[i]);
        assert_true(json_is_null(json_object_get(log, "text")));
        assert_non_null(strstr(str(log, "error"), i == 6 ? "No such file" : "not read"));
        response_free(&r);
    }

    struct seed b = {
        .log_ref = "attempts/big.log", .ended_ms = T0, .duration_ms = 1, .result = DB_RESULT_FAIL};
    run_on_loop(f, job_seed, &b);
    log = log_of(f, b.id, &r);
    assert_true(json_is_true(json_object_get(log, "truncated")));
    assert_int_equal(num(log, "bytes"), API_BIG_LOG);
    const char *text = str(log, "text");
    assert_int_equal(strlen(text), 256 * 1024); /* the tail */
    assert_string_equal(text + strlen(text) - 4, "END\n");
    response_free(&r);

    struct seed none = {.ended_ms = T0, .duration_ms = 1, .result = DB_RESULT_RUNNING};
    run_on_loop(f, job_seed, &none);
    log = log_of(f, none.id, &r);
    assert_true(json_is_null(log));
    assert_true(json_is_null(json_object_get(r.json, "duration_ms")));
    response_free(&r);

    expect_error(f, "/api/v1/attempts/999999", 404, "not_found");
    expect_error(f, "/api/v1/attempts/0", 400, "bad_request");
    expect_error(f, "/api/v1/attempts/12abc", 400, "bad_request");
    expect_error(f, "/api/v1/attempts/99999999999999999999", 400, "bad_request");
    expect_error(f, "/api/v1/attempts/00000000-0000-4000-8000-000000000000", 404, "not_found");
    fixture_stop(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paging_by_id_and_seq),
        cmocka_unit_test(test_window_paging),
#ifdef HTTP_HAVE_TEXT_REPLIES
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_csv_export),
#endif
        cmocka_unit_test(test_attempt_and_log),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
