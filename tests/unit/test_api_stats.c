/* Unit history, yield statistics and /metrics against a real server in a real loop, over
 * a set of records whose yields are known (api_testutil.h runs the server). */
#include "api_testutil.h"

/* ---- units and stats ----------------------------------------------------------------- */

/* Known outcome: units 111 (fail, then pass), 222 (pass), 333 (passed before the window,
 * fails inside it); 444 only aborted, one failure without IMEI, 555 still running. */
static void seed_yields(struct fixture *f)
{
    seed(f, (struct seed){.imei = "333",
                          .slot = "A2",
                          .ended_ms = T0 - HOUR,
                          .duration_ms = 99000,
                          .result = DB_RESULT_PASS});
    seed(f, (struct seed){.imei = "111",
                          .slot = "A1",
                          .ended_ms = T0 + 10 * 60000,
                          .duration_ms = 5000,
                          .result = DB_RESULT_FAIL,
                          .code = "handshake_timeout"});
    seed(f, (struct seed){.imei = "111",
                          .slot = "A2",
                          .ended_ms = T0 + 20 * 60000,
                          .duration_ms = 30000,
                          .result = DB_RESULT_PASS});
    seed(f, (struct seed){.imei = "222",
                          .slot = "A1",
                          .ended_ms = T0 + 30 * 60000,
                          .duration_ms = 40000,
                          .result = DB_RESULT_PASS});
    seed(f, (struct seed){.imei = "333",
                          .slot = "A2",
                          .ended_ms = T0 + 70 * 60000,
                          .duration_ms = 7000,
                          .result = DB_RESULT_FAIL,
                          .code = "verify_mismatch"});
    seed(f, (struct seed){.imei = "444",
                          .slot = "B1",
                          .ended_ms = T0 + 80 * 60000,
                          .duration_ms = 1000,
                          .result = DB_RESULT_ABORTED,
                          .code = "aborted"});
    seed(f, (struct seed){.imei = "",
                          .slot = "A1",
                          .ended_ms = T0 + 90 * 60000,
                          .duration_ms = 1000,
                          .result = DB_RESULT_FAIL,
                          .code = "no_port"});
    seed(f, (struct seed){.imei = "555",
                          .slot = "A1",
                          .ended_ms = T0 + 95 * 60000,
                          .duration_ms = 1000,
                          .result = DB_RESULT_RUNNING});
}

static void test_unit_history(void **state)
{
    (void)state;
    struct fixture *f = fixture_start();
    seed_yields(f);
    struct response r;
    get(f, "/api/v1/units/111", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(num(r.json, "attempts_total"), 2);
    assert_string_equal(str(r.json, "verdict"), "pass");
    json_t *list = json_object_get(r.json, "attempts");
    assert_int_equal(json_array_size(list), 2);
    assert_string_equal(str(json_array_get(list, 0), "result"), "fail");
    assert_int_equal(num(json_array_get(list, 1), "attempt_no"), 2);
    assert_int_equal(num(r.json, "verdict_attempt_id"), num(json_array_get(list, 1), "id"));
    assert_int_equal(num(json_object_get(r.json, "counts"), "fail"), 1);
    response_free(&r);

    get(f, "/api/v1/units/333?limit=1", &r); /* paged like the list */
    assert_int_equal(json_array_size(json_object_get(r.json, "attempts")), 1);
    assert_true(json_is_true(json_object_get(r.json, "more")));
    assert_string_equal(str(r.json, "verdict"), "fail");
    response_free(&r);

    get(f, "/api/v1/units/555", &r); /* only a running attempt: no verdict yet */
    assert_int_equal(r.status, 200);
    assert_true(json_is_null(json_object_get(r.json, "verdict")));
    assert_int_equal(num(json_object_get(r.json, "counts"), "running"), 1);
    response_free(&r);

    expect_error(f, "/api/v1/units/999", 404, "not_found");
    expect_error(f, "/api/v1/units/12345678901234567890", 400, "bad_request");
    fixture_stop(f);
}

static void test_stats(void **state)
{
    (void)state;
    struct fixture *f = fixture_start();
    seed_yields(f);
    struct response r;
    char url[128];
    snprintf(url, sizeof(url), "/api/v1/stats?from=%llu&to=%llu", (unsigned long long)T0,
             (unsigned long long)(T0 + 3 * HOUR));
    get(f, url, &r);
    assert_int_equal(r.status, 200);
    json_t *att = json_object_get(r.json, "attempts"), *units = json_object_get(r.json, "units");
    assert_int_equal(num(att, "total"), 6);
    assert_int_equal(num(att, "pass"), 2);
    assert_int_equal(num(att, "fail"), 3);
    assert_int_equal(num(att, "aborted"), 1);
    assert_int_equal(num(units, "total"), 3);
    assert_int_equal(num(units, "first_pass"), 2); /* 222, and 333 (its first try passed) */
    assert_int_equal(num(units, "final_pass"), 2); /* 111 and 222 */
    assert_true(json_real_value(json_object_get(r.json, "first_pass_yield")) > 0.666 &&
                json_real_value(json_object_get(r.json, "first_pass_yield")) < 0.667);
    json_t *d = json_object_get(r.json, "pass_duration_ms");
    assert_int_equal(num(d, "p50"), 30000);
    assert_int_equal(num(d, "p95"), 40000);
    json_t *hours = json_object_get(r.json, "throughput_per_hour");
    assert_int_equal(json_array_size(hours), 3);
    assert_int_equal(num(json_array_get(hours, 0), "hour_start_unix_ms"), (json_int_t)T0);
    assert_int_equal(num(json_array_get(hours, 0), "passes"), 2);
    assert_int_equal(num(json_array_get(hours, 1), "passes"), 0);
    json_t *codes = json_object_get(r.json, "failures_by_code");
    assert_int_equal(json_array_size(codes), 3);
    assert_string_equal(str(json_array_get(codes, 0), "code"), "handshake_timeout");
    assert_string_equal(str(json_array_get(codes, 2), "code"), "verify_mismatch");
    json_t *slots = json_object_get(r.json, "failures_by_slot");
    assert_int_equal(json_array_size(slots), 3);
    assert_string_equal(str(json_array_get(slots, 0), "slot"), "A1");
    assert_int_equal(num(json_array_get(slots, 0), "attempts"), 3);
    assert_int_equal(num(json_array_get(slots, 0), "fail"), 2);
    assert_int_equal(num(json_array_get(slots, 2), "aborted"), 1);
    response_free(&r);

    /* A window without records: zeros and nulls, not errors. */
    snprintf(url, sizeof(url), "/api/v1/stats?from=%llu&to=%llu", (unsigned long long)HOUR,
             (unsigned long long)(2 * HOUR + 1));
    get(f, url, &r);
    assert_int_equal(r.status, 200);
    assert_true(json_is_null(json_object_get(r.json, "first_pass_yield")));
    assert_true(json_is_null(json_object_get(r.json, "pass_duration_ms")));
    assert_int_equal(json_array_size(json_object_get(r.json, "throughput_per_hour")), 2);
    response_free(&r);

    get(f, "/api/v1/stats", &r); /* the last 24 h by default */
    assert_int_equal(r.status, 200);
    assert_int_equal(num(r.json, "to_unix_ms") - num(r.json, "from_unix_ms"), 24 * HOUR);
    response_free(&r);
    expect_error(f, "/api/v1/stats?from=10&to=10", 400, "bad_request");
    expect_error(f, "/api/v1/stats?from=0&to=604800001", 400, "bad_request");
    fixture_stop(f);
}

#ifdef HTTP_HAVE_TEXT_REPLIES
static long long metric(const struct response *r, const char *line_start)
{
    char want[128];
    snprintf(want, sizeof(want), "\n%s", line_start); /* a sample, not its # HELP line */
    const char *p = strstr(r->body, want);
    if (!p)
        fail_msg("no '%s' in\n%s", line_start, r->body);
    return atoll(p + strlen(want));
}

static void test_metrics(void **state)
{
    (void)state;
    struct fixture *f = fixture_start();
    seed_yields(f);
    struct response r;
    get(f, "/metrics", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
    assert_int_equal(metric(&r, "flashrack_attempts_total{result=\"pass\"} "), 3);
    assert_int_equal(metric(&r, "flashrack_attempts_total{result=\"fail\"} "), 3);
    assert_int_equal(metric(&r, "flashrack_attempts_total{result=\"aborted\"} "), 1);
    assert_int_equal(metric(&r, "flashrack_attempts_running "), 1);
    assert_int_equal(metric(&r, "flashrack_slots{state=\"empty\"} "), 2);
    assert_int_equal(metric(&r, "flashrack_jobs_active "), 0);
    assert_non_null(strstr(r.body, "# TYPE flashrack_attempts_total counter\n"));
    response_free(&r);

    /* Counted on from where the last scrape stopped. */
    seed(f,
         (struct seed){.imei = "777", .ended_ms = T0, .duration_ms = 1, .result = DB_RESULT_PASS});
    get(f, "/api/v1/attempts?limit=1", &r);
    response_free(&r);
    get(f, "/metrics", &r);
    assert_int_equal(metric(&r, "flashrack_attempts_total{result=\"pass\"} "), 4);
    assert_int_equal(metric(&r, "flashrack_attempts_finish_seq "), 8);
    assert_true(metric(&r, "flashrack_http_requests_total{code=\"2xx\"} ") >= 2);
    response_free(&r);
    fixture_stop(f);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unit_history),
        cmocka_unit_test(test_stats),
#ifdef HTTP_HAVE_TEXT_REPLIES
        cmocka_unit_test(test_metrics),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
