/* MES pre-flash interlock: the verdict of each HTTP status, the MES's reason taken from an
 * untrusted answer (JSON field or first text line, sanitised and bounded), the request body,
 * the [mes] interlock keys, then real calls in a libuv loop against a libmicrohttpd receiver
 * (cleared, refused with a reason, a 503, a refused connection, a timeout, a cancel). Waits
 * are for conditions: a call ends by itself (curl's timeout) and the loop runs dry. */
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include <cmocka.h>

#include "config.h"
#include "flow_rules.h"
#include "mes_interlock.h"
#include "http_receiver.h"

/* ---- pure parts ---- */

static void test_verdict(void **state)
{
    static const long cleared[] = {200, 201, 204, 299};
    static const long refused[] = {400, 403, 404, 409, 410, 422, 451, 499};
    static const long no_answer[] = {0, 100, 199, 300, 302, 401, 407, 408, 429, 500, 502, 503};

    (void)state;
    for (size_t i = 0; i < sizeof(cleared) / sizeof(cleared[0]); i++)
        assert_int_equal(mes_interlock_verdict_of(cleared[i]), MES_INTERLOCK_CLEARED);
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        assert_int_equal(mes_interlock_verdict_of(refused[i]), MES_INTERLOCK_REFUSED);
    for (size_t i = 0; i < sizeof(no_answer) / sizeof(no_answer[0]); i++)
        assert_int_equal(mes_interlock_verdict_of(no_answer[i]), MES_INTERLOCK_NO_ANSWER);
}

static void expect_reason(const char *body, const char *want)
{
    char out[MES_INTERLOCK_REASON_MAX + 4];

    mes_interlock_reason(body, strlen(body), out, sizeof(out));
    if (strcmp(out, want) != 0)
        fail_msg("reason of '%s' is '%s', want '%s'", body, out, want);
}

static void test_reason(void **state)
{
    char out[MES_INTERLOCK_REASON_MAX + 4], big[8192];

    (void)state;
    /* JSON: reason, else message, else error; other fields are no reason. */
    expect_reason("{\"reason\":\"unit on hold (QA-17)\",\"message\":\"x\"}",
                  "unit on hold (QA-17)");
    expect_reason("  {\"message\":\"not in work order WO-7\"}", "not in work order WO-7");
    expect_reason("{\"error\":\"scrapped\"}", "scrapped");
    expect_reason("{\"reason\":42,\"message\":\"numbers are no reason\"}", "numbers are no reason");
    expect_reason("{\"code\":17}", "");
    expect_reason("{}", "");
    /* Text: the first non-blank line, blanks collapsed. */
    expect_reason("\n  IMEI   already\tflashed \r\nat 10:02 by line 3\n", "IMEI already flashed");
    expect_reason("", "");
    expect_reason("{not json at all", "{not json at all");
    /* Escapes and control characters inside JSON strings become spaces. */
    expect_reason("{\"reason\":\"on\\u0000hold\\nnow\\u001b[31m red\"}", "on hold now [31m red");
    /* UTF-8 stays (a Chinese MES); bytes that are not UTF-8 and bidi overrides do not. */
    expect_reason("\xe5\xb7\xb2\xe6\x8a\xa5\xe5\xba\x9f", "\xe5\xb7\xb2\xe6\x8a\xa5\xe5\xba\x9f");
    expect_reason("bad \xff\xfe bytes \xc0\xaf here \xed\xa0\x80!", "bad bytes here !");
    expect_reason("abc\xe2\x80\xae"
                  "cba",
                  "abc cba");
    expect_reason("C1\xc2\x9b"
                  "x",
                  "C1 x");
    /* A truncated multi-byte character at the end is dropped, not half-copied. */
    expect_reason("ok \xe5\xb7", "ok");

    /* Bounded: cut on a character boundary with "...". */
    memset(big, 'a', sizeof(big));
    memcpy(big + 150, "\xe5\xb7\xb2", 3);
    mes_interlock_reason(big, sizeof(big), out, sizeof(out));
    assert_int_equal(strlen(out), MES_INTERLOCK_REASON_MAX + 3);
    assert_string_equal(out + MES_INTERLOCK_REASON_MAX, "...");
    /* A multi-byte character that would cross the cut is left out whole. */
    memset(big, 'b', sizeof(big));
    memcpy(big + MES_INTERLOCK_REASON_MAX - 1, "\xe5\xb7\xb2", 3);
    mes_interlock_reason(big, sizeof(big), out, sizeof(out));
    assert_int_equal(strlen(out), MES_INTERLOCK_REASON_MAX - 1 + 3);
    assert_string_equal(out + MES_INTERLOCK_REASON_MAX - 1, "...");
    /* A small buffer bounds it too, and stays terminated; NUL bytes in text are blanks. */
    mes_interlock_reason("unit refused by rule 9", 22, out, 12);
    assert_string_equal(out, "unit ref...");
    mes_interlock_reason("a\0b", 3, out, sizeof(out));
    assert_string_equal(out, "a b");
    mes_interlock_reason(NULL, 0, out, sizeof(out));
    assert_string_equal(out, "");
}

static void test_request_json(void **state)
{
    struct db_attempt a;

    (void)state;
    memset(&a, 0, sizeof(a));
    snprintf(a.attempt_uuid, sizeof(a.attempt_uuid), "6f1c1e54-9d7e-4a51-8b1e-2d2b7f6a9c01");
    snprintf(a.station_id, sizeof(a.station_id), "station-3");
    snprintf(a.slot, sizeof(a.slot), "A1");
    snprintf(a.imei, sizeof(a.imei), "866123050007015");
    snprintf(a.module_model, sizeof(a.module_model), "EC800M");
    snprintf(a.ordering_code, sizeof(a.ordering_code), "EC800MCNGA-I05");
    snprintf(a.submodel, sizeof(a.submodel), "CNGA");
    snprintf(a.operator_name, sizeof(a.operator_name), "li");
    snprintf(a.work_order, sizeof(a.work_order), "WO-7");
    snprintf(a.package_name, sizeof(a.package_name), "pkg.zip");
    snprintf(a.package_version, sizeof(a.package_version), "BETA1202");
    a.attempt_no = 2;
    json_t *o = mes_interlock_request_json(&a, "ec800m");
    assert_non_null(o);
    assert_int_equal(json_object_size(o), 18);
    assert_string_equal(json_string_value(json_object_get(o, "attempt_uuid")), a.attempt_uuid);
    assert_string_equal(json_string_value(json_object_get(o, "imei")), "866123050007015");
    assert_string_equal(json_string_value(json_object_get(o, "module_model")), "EC800M");
    assert_string_equal(json_string_value(json_object_get(o, "submodel")), "CNGA");
    assert_string_equal(json_string_value(json_object_get(o, "operator")), "li");
    assert_string_equal(json_string_value(json_object_get(o, "work_order")), "WO-7");
    assert_string_equal(json_string_value(json_object_get(o, "lot")), "");
    assert_string_equal(json_string_value(json_object_get(o, "recipe")), "ec800m");
    assert_string_equal(json_string_value(json_object_get(o, "package_version")), "BETA1202");
    assert_int_equal(json_integer_value(json_object_get(o, "attempt_no")), 2);
    json_decref(o);
}

static void test_config(void **state)
{
    struct config cfg;
    char err[512] = "";

    (void)state;
    assert_int_equal(config_load_string("", &cfg, err, sizeof(err)), 0);
    assert_string_equal(cfg.mes.interlock.url, ""); /* off by default */
    assert_int_equal(cfg.mes.interlock.timeout_ms, 5000);
    assert_int_equal(cfg.mes.interlock.allow_on_error, 0); /* block */
    assert_int_equal(config_load_string("[mes]\ninterlock_url = http://mes:9000/clear?line=3\n"
                                        "interlock_timeout_ms = 750\ninterlock_on_error = allow\n",
                                        &cfg, err, sizeof(err)),
                     0);
    assert_string_equal(cfg.mes.interlock.url, "http://mes:9000/clear?line=3");
    assert_string_equal(cfg.mes.url, ""); /* the interlock does not need the push */
    assert_int_equal(cfg.mes.interlock.timeout_ms, 750);
    assert_int_equal(cfg.mes.interlock.allow_on_error, 1);
    assert_int_equal(
        config_load_string("[mes]\ninterlock_on_error = block\n", &cfg, err, sizeof(err)), 0);
    assert_int_equal(cfg.mes.interlock.allow_on_error, 0);

    static const struct {
        const char *text, *want;
    } bad[] = {
        {"[mes]\ninterlock_url = ftp://mes/x\n", ":2: [mes] interlock_url: 'ftp://mes/x'"},
        {"[mes]\ninterlock_url = https://\n", "[mes] interlock_url"},
        {"[mes]\ninterlock_url = http://mes/a b\n", "no spaces"},
        {"[mes]\ninterlock_timeout_ms = 99\n", "[mes] interlock_timeout_ms"},
        {"[mes]\ninterlock_timeout_ms = 600001\n", "[mes] interlock_timeout_ms"},
        {"[mes]\ninterlock_on_error = maybe\n", "'maybe' is not block or allow"},
        {"[mes]\ninterlock = yes\n", "unknown key 'interlock' in section [mes]"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(config_load_string(bad[i].text, &cfg, err, sizeof(err)), -EINVAL);
        if (!strstr(err, bad[i].want))
            fail_msg("config error '%s' lacks '%s'", err, bad[i].want);
    }
}

/* The two codes in the flow's rules: a refusal is final, no answer is asked again. */
static void test_flow_rules(void **state)
{
    char out[512];

    (void)state;
    assert_string_equal(fail_code_to_string(FAIL_MES_REJECTED), "mes_rejected");
    assert_string_equal(fail_code_to_string(FAIL_MES_UNREACHABLE), "mes_unreachable");
    assert_int_equal(fail_code_from_string("mes_unreachable"), FAIL_MES_UNREACHABLE);
    assert_false(flow_is_transient(FAIL_MES_REJECTED, FLOW_STAGE_GUARD, 0));
    assert_true(flow_is_transient(FAIL_MES_UNREACHABLE, FLOW_STAGE_GUARD, 0));
    flow_instruction(FAIL_MES_REJECTED, FLOW_STAGE_GUARD, "unit on QA hold", out, sizeof(out));
    assert_non_null(strstr(out, "Set the unit aside: the MES refused it (unit on QA hold)"));
    flow_instruction(FAIL_MES_UNREACHABLE, FLOW_STAGE_GUARD, "Timeout", out, sizeof(out));
    assert_non_null(strstr(out, "plug it in again"));
    assert_non_null(strstr(out, "(Timeout)"));
}

/* ---- a receiver ---- */

struct receiver {
    struct http_receiver http; /* first: the answer callback is handed this */
    unsigned status;
    const char *reply;
    int requests;
    char auth[128], body[4096];
};

static unsigned answer(struct http_receiver *http, struct MHD_Connection *conn, const char *data,
                       size_t len, const char **text)
{
    struct receiver *rx = (struct receiver *)http;
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    rx->requests++;
    snprintf(rx->auth, sizeof(rx->auth), "%s", auth ? auth : "");
    snprintf(rx->body, sizeof(rx->body), "%.*s", (int)len, data);
    *text = rx->reply;
    return rx->status;
}

static void rx_start(struct receiver *rx, unsigned status, const char *reply)
{
    rx->status = status;
    rx->reply = reply;
    http_receiver_start(&rx->http, answer);
}

static void rx_stop(struct receiver *rx)
{
    http_receiver_stop(&rx->http);
}

/* ---- calls ---- */

struct outcome {
    int calls;
    struct mes_interlock_answer answer;
};

static void on_answer(void *ud, const struct mes_interlock_answer *answer)
{
    struct outcome *o = ud;
    o->calls++;
    o->answer = *answer;
}

/* One call to url in a fresh loop; the loop must run dry (every handle closed) after it. */
static struct outcome call(const char *url, uint32_t timeout_ms, int cancel)
{
    struct config cfg;
    struct db_attempt a;
    struct outcome o;
    struct mes_interlock_call *c = NULL;
    uv_loop_t loop;
    char err[256];

    memset(&o, 0, sizeof(o));
    memset(&a, 0, sizeof(a));
    assert_int_equal(
        config_load_string("[mes]\ntoken = test-token-0123456789\n", &cfg, err, sizeof(err)), 0);
    snprintf(cfg.mes.interlock.url, sizeof(cfg.mes.interlock.url), "%s", url);
    cfg.mes.interlock.timeout_ms = timeout_ms;
    snprintf(a.imei, sizeof(a.imei), "866123050007015");
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(mes_interlock_start(&loop, &cfg.mes, &a, "r1", on_answer, &o, &c), 0);
    assert_int_equal(o.calls, 0); /* never from inside start */
    if (cancel)
        mes_interlock_cancel(c);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    return o;
}

static void test_calls(void **state)
{
    struct receiver rx;
    struct outcome o;
    char url[128];

    (void)state;
    memset(&rx, 0, sizeof(rx));
    rx_start(&rx, 200, "{\"ok\":true}");
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/clear", rx.http.port);
    o = call(url, 10000, 0);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.answer.verdict, MES_INTERLOCK_CLEARED);
    assert_int_equal(o.answer.status, 200);
    assert_string_equal(rx.auth, "Bearer test-token-0123456789");
    json_t *body = json_loads(rx.body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(body, "imei")), "866123050007015");
    assert_string_equal(json_string_value(json_object_get(body, "recipe")), "r1");
    json_decref(body);

    rx.status = 403;
    rx.reply = "{\"reason\":\"unit \\u202eon hold\\r\\n(QA-17)\"}";
    o = call(url, 10000, 0);
    assert_int_equal(o.answer.verdict, MES_INTERLOCK_REFUSED);
    assert_int_equal(o.answer.status, 403);
    assert_string_equal(o.answer.detail, "unit on hold (QA-17)");

    rx.status = 503;
    rx.reply = "maintenance until 11:00\n<html>...";
    o = call(url, 10000, 0);
    assert_int_equal(o.answer.verdict, MES_INTERLOCK_NO_ANSWER);
    assert_string_equal(o.answer.detail, "HTTP 503: maintenance until 11:00");

    /* A slow MES: curl's timeout ends the call (the receiver is released afterwards). */
    rx.status = 200;
    rx.http.delay_ms = 30000;
    o = call(url, 200, 0);
    assert_int_equal(o.answer.verdict, MES_INTERLOCK_NO_ANSWER);
    assert_int_equal(o.answer.status, 0);
    assert_non_null(strstr(o.answer.detail, "Timeout"));

    /* Cancelled: no callback, and the loop still runs dry. */
    o = call(url, 10000, 1);
    assert_int_equal(o.calls, 0);
    rx_stop(&rx);

    /* Nobody listens on the port any more. */
    o = call(url, 10000, 0);
    assert_int_equal(o.answer.verdict, MES_INTERLOCK_NO_ANSWER);
    assert_int_equal(o.answer.status, 0);
    assert_true(strlen(o.answer.detail) > 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verdict),      cmocka_unit_test(test_reason),
        cmocka_unit_test(test_request_json), cmocka_unit_test(test_config),
        cmocka_unit_test(test_flow_rules),   cmocka_unit_test(test_calls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
