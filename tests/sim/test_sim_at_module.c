/* Unit tests for the "at_module" model under a virtual clock: replies, echo, URCs, flow of
 * partial and multiple commands, bounded lines, AT+QDOWNLOAD=1 and option checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define AT_CHAN 1

struct h {
    struct sim_model *m;
    uint64_t now_ms;
    char out[8192];
    size_t out_len;
};

static void drain(struct h *h)
{
    for (;;) {
        uint8_t buf[7]; /* small reads: replies must survive being cut anywhere */
        size_t n = sim_model_tx(h->m, AT_CHAN, buf, sizeof(buf), h->now_ms);
        if (!n)
            break;
        assert_true(h->out_len + n < sizeof(h->out));
        memcpy(h->out + h->out_len, buf, n);
        h->out_len += n;
        h->out[h->out_len] = '\0';
    }
}

/* Creates, powers up and boots the model; the boot output is kept in h->out. */
static void h_open(struct h *h, const char *opts)
{
    char err[SIM_ERR_MAX] = "";
    memset(h, 0, sizeof(*h));
    int r = sim_model_create("at_module", opts, &h->m, err, sizeof(err));
    if (r < 0)
        fail_msg("create: %s", err);
    h->now_ms = 1000;
    sim_model_start(h->m, h->now_ms);
    uint64_t due = sim_model_next_event_ms(h->m, h->now_ms);
    if (due != SIM_NEVER && due > h->now_ms)
        h->now_ms = due;
    drain(h);
}

static void h_clear(struct h *h)
{
    h->out_len = 0;
    h->out[0] = '\0';
}

static void h_send(struct h *h, const char *s, size_t chunk)
{
    size_t len = strlen(s), pos = 0;
    int stuck = 0;
    while (pos < len) {
        size_t n = len - pos < chunk ? len - pos : chunk;
        size_t took = sim_model_rx(h->m, AT_CHAN, (const uint8_t *)s + pos, n, h->now_ms);
        pos += took;
        drain(h);
        if (took == 0) { /* busy with a delayed reply: let time pass */
            uint64_t due = sim_model_next_event_ms(h->m, h->now_ms);
            assert_true(due != SIM_NEVER || ++stuck < 2);
            if (due != SIM_NEVER && due > h->now_ms)
                h->now_ms = due;
            drain(h);
        }
    }
}

/* Runs time forward through every pending event and collects the output. */
static void h_settle(struct h *h)
{
    for (int i = 0; i < 16; i++) {
        uint64_t due = sim_model_next_event_ms(h->m, h->now_ms);
        drain(h);
        if (due == SIM_NEVER)
            break;
        if (due > h->now_ms)
            h->now_ms = due;
        char action[SIM_ACTION_MAX];
        if (sim_model_take_action(h->m, action, sizeof(action), h->now_ms) > 0)
            break; /* the caller checks actions itself */
    }
    drain(h);
}

static void h_stat(struct h *h, const char *key, const char *expect)
{
    char buf[SIM_STATS_MAX], want[256];
    assert_true(sim_model_stats(h->m, buf, sizeof(buf)) > 0);
    snprintf(want, sizeof(want), "\n%s=%s\n", key, expect);
    char line[SIM_STATS_MAX + 1] = "\n";
    strcat(line, buf);
    if (!strstr(line, want))
        fail_msg("stat %s=%s not in:\n%s", key, expect, buf);
}

static void h_close(struct h *h)
{
    sim_model_destroy(h->m);
}

static int luhn_ok(const char *imei)
{
    int sum = 0;
    for (int i = 0; i < 15; i++) {
        int d = imei[14 - i] - '0';
        if (i % 2 == 1)
            d = d * 2 > 9 ? d * 2 - 9 : d * 2;
        sum += d;
    }
    return sum % 10 == 0;
}

static void test_boot_urcs_and_identity(void **state)
{
    (void)state;
    struct h h;
    h_open(&h, "series=EC800M,submodel=CNGA,echo=0");
    assert_string_equal(h.out, "\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\n+QUSIM: 1\r\n"
                               "\r\n+QIND: SMS DONE\r\n\r\n+QIND: PB DONE\r\n");
    h_clear(&h);
    h_send(&h, "ATI\r", 64);
    assert_string_equal(h.out,
                        "\r\nQuectel\r\nEC800M\r\nRevision: EC800MCNGAR06A01M08\r\n\r\nOK\r\n");
    h_clear(&h);
    h_send(&h, "AT+GMR\r", 64);
    assert_string_equal(h.out, "\r\nEC800MCNGAR06A01M08\r\n\r\nOK\r\n");
    h_clear(&h);
    h_send(&h, "AT+CGMR\r", 64);
    assert_string_equal(h.out, "\r\nEC800MCNGAR06A01M08\r\n\r\nOK\r\n");
    h_clear(&h);
    h_send(&h, "AT+QGMR\r", 64);
    assert_string_equal(h.out, "\r\nEC800MCNGAR06A01M08_01.001.01.001\r\n\r\nOK\r\n");
    h_clear(&h);
    h_send(&h, "AT+CGMM\r", 64);
    assert_string_equal(h.out, "\r\nEC800M\r\n\r\nOK\r\n");
    h_clear(&h);
    h_send(&h, "AT+GMI\r", 64);
    assert_string_equal(h.out, "\r\nQuectel\r\n\r\nOK\r\n");
    h_clear(&h);
    h_send(&h, "AT+CGSN\r", 64);
    assert_int_equal(h.out_len, 2 + 15 + 2 + 6);
    char imei[16];
    memcpy(imei, h.out + 2, 15);
    imei[15] = '\0';
    assert_true(luhn_ok(imei));
    h_clear(&h);
    h_send(&h, "at+gsn\r", 64); /* commands are case-insensitive */
    assert_memory_equal(h.out + 2, imei, 15);
    h_clear(&h);
    h_send(&h, "AT+QCCID\r", 64);
    assert_string_equal(h.out, "\r\n+QCCID: 89860012345678901234\r\n\r\nOK\r\n");
    h_clear(&h);
    h_send(&h, "AT+CCID\r", 64);
    assert_string_equal(h.out, "\r\n+CCID: 89860012345678901234\r\n\r\nOK\r\n");
    h_clear(&h);
    h_send(&h, "AT+CPIN?\r", 64);
    assert_string_equal(h.out, "\r\n+CPIN: READY\r\n\r\nOK\r\n");
    h_clear(&h);
    h_send(&h, "AT+NOSUCH\r", 64);
    assert_string_equal(h.out, "\r\nERROR\r\n");
    h_stat(&h, "commands", "12");
    h_stat(&h, "last_command", "AT+NOSUCH");
    h_stat(&h, "revision", "EC800MCNGAR06A01M08");
    h_stat(&h, "imei", imei);
    h_stat(&h, "errors", "1");
    h_close(&h);
}

static void test_identity_options_and_no_sim(void **state)
{
    (void)state;
    struct h h;
    h_open(&h, "series=EC200U,submodel=CNAA,revision=EC200UCNAAR02A09M08,imei=490154203237518,"
               "sim=absent,echo=0");
    assert_null(strstr(h.out, "PB DONE"));
    assert_non_null(strstr(h.out, "+CPIN: NOT INSERTED"));
    h_clear(&h);
    h_send(&h, "AT+GMR\r", 64);
    assert_string_equal(h.out, "\r\nEC200UCNAAR02A09M08\r\n\r\nOK\r\n");
    h_clear(&h);
    h_send(&h, "AT+GSN\r", 64);
    assert_string_equal(h.out, "\r\n490154203237518\r\n\r\nOK\r\n");
    h_clear(&h);
    h_send(&h, "AT+QCCID\r", 64);
    assert_string_equal(h.out, "\r\n+CME ERROR: 10\r\n");
    h_clear(&h);
    h_send(&h, "AT+CMEE=2\rAT+CCID\r", 64);
    assert_string_equal(h.out, "\r\nOK\r\n\r\n+CME ERROR: SIM not inserted\r\n");
    h_clear(&h);
    h_send(&h, "AT+CMEE=0\rAT+CPIN?\r", 64);
    assert_string_equal(h.out, "\r\nOK\r\n\r\nERROR\r\n");
    h_stat(&h, "iccid", "absent");
    h_close(&h);
}

static void test_echo_on_off(void **state)
{
    (void)state;
    struct h h;
    h_open(&h, "boot_urcs=0");
    assert_int_equal(h.out_len, 0);
    h_send(&h, "AT\r", 64);
    assert_string_equal(h.out, "AT\r\r\nOK\r\n");
    h_stat(&h, "echo", "1");
    h_clear(&h);
    /* ATE0 itself is still echoed: echo was on when its characters arrived. */
    h_send(&h, "ATE0\r", 64);
    assert_string_equal(h.out, "ATE0\r\r\nOK\r\n");
    h_clear(&h);
    h_send(&h, "AT\r", 64);
    assert_string_equal(h.out, "\r\nOK\r\n");
    h_stat(&h, "echo", "0");
    h_clear(&h);
    h_send(&h, "ATE1\r", 64);
    assert_string_equal(h.out, "\r\nOK\r\n");
    h_clear(&h);
    h_send(&h, "AT+CGMM\r", 64);
    assert_string_equal(h.out, "AT+CGMM\r\r\nEC600N\r\n\r\nOK\r\n");
    h_close(&h);
}

static void test_urc_between_command_and_slow_reply(void **state)
{
    (void)state;
    struct h h;
    h_open(&h, "boot_urcs=0,urc_every=2,reply_delay_ms=300,urc_text=+QIND: \"csq\"");
    h_send(&h, "AT\r", 64);
    /* the reply is not there before its time */
    assert_string_equal(h.out, "AT\r");
    assert_int_equal(sim_model_next_event_ms(h.m, h.now_ms), h.now_ms + 300);
    h.now_ms += 299;
    drain(&h);
    assert_string_equal(h.out, "AT\r");
    h.now_ms += 1;
    drain(&h);
    assert_string_equal(h.out, "AT\r\r\nOK\r\n");
    h_clear(&h);
    h_send(&h, "ATI\r", 64);
    assert_string_equal(h.out, "ATI\r\r\n+QIND: \"csq\"\r\n");
    h_settle(&h);
    assert_string_equal(h.out, "ATI\r\r\n+QIND: \"csq\"\r\n\r\nQuectel\r\nEC600N\r\n"
                               "Revision: EC600NCNLAR01A08M16\r\n\r\nOK\r\n");
    h_clear(&h);
    /* two commands in one write while replies are slow: the second waits its turn */
    h_send(&h, "AT+CGMM\rAT+CGMM\r", 64);
    h_settle(&h);
    assert_string_equal(h.out, "AT+CGMM\r\r\nEC600N\r\n\r\nOK\r\nAT+CGMM\r\r\n+QIND: \"csq\"\r\n"
                               "\r\nEC600N\r\n\r\nOK\r\n");
    h_stat(&h, "urcs", "2");
    h_close(&h);
}

static void test_byte_at_a_time_and_multiple(void **state)
{
    (void)state;
    struct h h;
    h_open(&h, "boot_urcs=0,echo=0");
    h_send(&h, "AT+CGMM\r\nAT+GMI\rAT\r", 1);
    assert_string_equal(h.out, "\r\nEC600N\r\n\r\nOK\r\n\r\nQuectel\r\n\r\nOK\r\n\r\nOK\r\n");
    h_clear(&h);
    /* lines without the AT prefix and empty lines are ignored, like a modem does */
    h_send(&h, "hello\r\r\n\rAT\r", 3);
    assert_string_equal(h.out, "\r\nOK\r\n");
    h_stat(&h, "ignored_lines", "1");
    h_stat(&h, "commands", "4");
    h_close(&h);
}

static void test_overlong_line(void **state)
{
    (void)state;
    struct h h;
    h_open(&h, "boot_urcs=0,echo=0");
    char big[2100];
    memcpy(big, "AT+", 3);
    memset(big + 3, 'X', sizeof(big) - 5);
    big[sizeof(big) - 2] = '\r';
    big[sizeof(big) - 1] = '\0';
    h_send(&h, big, 100);
    assert_string_equal(h.out, "\r\nERROR\r\n");
    h_stat(&h, "last_command", "(overlong)");
    h_clear(&h);
    /* the buffer is usable again at once */
    h_send(&h, "AT\r", 64);
    assert_string_equal(h.out, "\r\nOK\r\n");
    h_close(&h);
}

static void test_input_before_boot_is_dropped(void **state)
{
    (void)state;
    char err[SIM_ERR_MAX] = "";
    struct sim_model *m = NULL;
    assert_int_equal(
        sim_model_create("at_module", "boot_delay_ms=500,garbage=16", &m, err, sizeof(err)), 0);
    sim_model_start(m, 100);
    assert_int_equal(sim_model_next_event_ms(m, 100), 600);
    assert_int_equal(sim_model_rx(m, AT_CHAN, (const uint8_t *)"AT\r", 3, 200), 3);
    uint8_t buf[256];
    assert_int_equal(sim_model_tx(m, AT_CHAN, buf, sizeof(buf), 200), 0);
    size_t n = sim_model_tx(m, AT_CHAN, buf, sizeof(buf), 600);
    assert_true(n > 16);
    assert_memory_equal(buf + 16, "\r\nRDY\r\n", 7);
    /* DIAG and modem channels swallow bytes and never answer */
    assert_int_equal(sim_model_rx(m, 0, (const uint8_t *)"AT\r", 3, 700), 3);
    assert_int_equal(sim_model_tx(m, 0, buf, sizeof(buf), 700), 0);
    char stats[SIM_STATS_MAX];
    assert_true(sim_model_stats(m, stats, sizeof(stats)) > 0);
    assert_non_null(strstr(stats, "dropped_bytes=3\n"));
    assert_non_null(strstr(stats, "other_chan_bytes=3\n"));
    sim_model_destroy(m);
}

static void test_qdownload_replugs_after_delay(void **state)
{
    (void)state;
    struct h h;
    h_open(&h, "series=EC800M,submodel=CNLA,boot_urcs=0,echo=0,download_delay_ms=250");
    char action[SIM_ACTION_MAX] = "";
    assert_int_equal(sim_model_take_action(h.m, action, sizeof(action), h.now_ms), 0);
    h_send(&h, "AT+QDOWNLOAD=1\rAT\r", 64);
    assert_string_equal(h.out, "\r\nOK\r\n"); /* the AT after it is never answered */
    h_stat(&h, "qdownload", "1");
    uint64_t sent = h.now_ms;
    assert_int_equal(sim_model_next_event_ms(h.m, h.now_ms), sent + 250);
    assert_int_equal(sim_model_take_action(h.m, action, sizeof(action), sent + 249), 0);
    assert_int_equal(sim_model_take_action(h.m, action, sizeof(action), sent + 250), 1);
    /* The module's identity travels with it into download mode (sim.h "unit"). */
    assert_string_equal(action,
                        "replug asr-dl unit=EC800M.CNLA.866123050000010.89860012345678901234");
    assert_int_equal(sim_model_take_action(h.m, action, sizeof(action), sent + 5000), 0);
    assert_int_equal(sim_model_next_event_ms(h.m, sent + 250), SIM_NEVER);
    h_close(&h);

    /* Back from download mode: the unit wins over profile defaults, revision= is the new
     * firmware's, and download_opts reach the download model's replug. */
    h_open(&h, "series=EC200U,submodel=CNAA,boot_urcs=0,echo=0,download_delay_ms=0,"
               "unit=EC600U.CNLB.866123050000010.-,revision=EC600UCNLBR03A01M08_OCPU_QPY_V0009,"
               "download_opts=unplug_at_chunk:15/flash_rate:1000");
    h_send(&h, "AT+GMR\r", 64);
    assert_non_null(strstr(h.out, "EC600UCNLBR03A01M08_OCPU_QPY_V0009"));
    h_send(&h, "AT+CGSN\r", 64);
    assert_non_null(strstr(h.out, "866123050000010"));
    h_send(&h, "AT+QCCID\r", 64);
    assert_non_null(strstr(h.out, "ERROR")); /* "-": no SIM */
    h_send(&h, "AT+QDOWNLOAD=1\r", 64);
    assert_int_equal(sim_model_take_action(h.m, action, sizeof(action), h.now_ms + 1), 1);
    assert_string_equal(action, "replug unisoc-dl unit=EC600U.CNLB.866123050000010.- "
                                "unplug_at_chunk=15 flash_rate=1000");
    h_close(&h);

    h_open(&h, "series=EC200U,boot_urcs=0,echo=0");
    h_send(&h, "AT+QDOWNLOAD=1\r", 64);
    assert_string_equal(h.out, "\r\nOK\r\n");
    assert_int_equal(sim_model_take_action(h.m, action, sizeof(action), h.now_ms + 10000), 1);
    assert_string_equal(action,
                        "replug unisoc-dl unit=EC200U.CNLA.866123050000010.89860012345678901234");
    h_close(&h);

    /* Eigencomm modules and download=none cannot be switched over AT */
    const char *no_dl[] = {"series=EC800E,boot_urcs=0,echo=0",
                           "series=EC800M,download=none,boot_urcs=0,echo=0"};
    for (size_t i = 0; i < 2; i++) {
        h_open(&h, no_dl[i]);
        h_send(&h, "AT+QDOWNLOAD=1\r", 64);
        assert_string_equal(h.out, "\r\nERROR\r\n");
        h_stat(&h, "qdownload", "0");
        assert_int_equal(sim_model_next_event_ms(h.m, h.now_ms), SIM_NEVER);
        assert_int_equal(sim_model_take_action(h.m, action, sizeof(action), h.now_ms + 10000), 0);
        h_close(&h);
    }
}

static void test_spontaneous_reset_like_silent(void **state)
{
    (void)state;
    char err[SIM_ERR_MAX] = "", action[SIM_ACTION_MAX];
    struct sim_model *m = NULL;
    assert_int_equal(
        sim_model_create("at_module", "leave_after_ms=200,replug=asr-dl", &m, err, sizeof(err)), 0);
    sim_model_start(m, 1000);
    assert_int_equal(sim_model_next_event_ms(m, 1000), 1050); /* boot first */
    assert_int_equal(sim_model_next_event_ms(m, 1060), 1200);
    assert_int_equal(sim_model_take_action(m, action, sizeof(action), 1199), 0);
    assert_int_equal(sim_model_take_action(m, action, sizeof(action), 1200), 1);
    assert_string_equal(action, "replug asr-dl");
    sim_model_destroy(m);
}

static void test_option_validation(void **state)
{
    (void)state;
    static const struct {
        const char *opts, *msg;
    } bad[] = {
        {"imei=12345", "imei=12345: an IMEI is 15 digits"},
        {"imei=4901542032375189", "an IMEI is 15 digits"},
        {"imei=49015420323751x", "an IMEI is 15 digits"},
        {"imei=490154203237519", "bad check digit, expected 8"},
        {"iccid=1234", "an ICCID is 18 to 22 digits"},
        {"sim=absent,iccid=89860012345678901234", "sim=absent"},
        {"sim=maybe", "sim=maybe"},
        {"series=ec800m", "upper-case"},
        {"submodel=CNLAXXXXX", "submodel"},
        {"revision=has space", "revision"},
        {"echo=yes", "echo=yes"},
        {"at_chan=3", "at_chan=3"},
        {"cmee=3", "cmee=3"},
        {"reply_delay_ms=soon", "not a number"},
        {"replug=asr-dl", "replug= needs leave_after_ms="},
        {"garbage=100000", "garbage="},
        {"colour=red", "unknown option 'colour'"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[SIM_ERR_MAX] = "";
        struct sim_model *m = NULL;
        int r = sim_model_create("at_module", bad[i].opts, &m, err, sizeof(err));
        if (r != -EINVAL || !strstr(err, bad[i].msg))
            fail_msg("%s: r=%d err='%s', expected '%s'", bad[i].opts, r, err, bad[i].msg);
    }
    /* a wrong check digit is allowed on request (to test hosts that check it) */
    struct h h;
    h_open(&h, "imei=490154203237519,imei_check=0,boot_urcs=0,echo=0");
    h_stat(&h, "imei", "490154203237519");
    h_close(&h);
}

static void test_flow_control_when_host_does_not_read(void **state)
{
    (void)state;
    char err[SIM_ERR_MAX] = "";
    struct sim_model *m = NULL;
    assert_int_equal(sim_model_create("at_module", "boot_urcs=0", &m, err, sizeof(err)), 0);
    sim_model_start(m, 0);
    /* The host keeps writing and never reads: the model must stop taking input instead of
     * growing its output without bound. */
    const char *cmd = "ATI\r";
    size_t total = 0;
    for (int i = 0; i < 1000; i++)
        total += sim_model_rx(m, AT_CHAN, (const uint8_t *)cmd, 4, 100);
    assert_true(total < 4000);
    uint8_t buf[8192];
    size_t n = sim_model_tx(m, AT_CHAN, buf, sizeof(buf), 100);
    assert_true(n > 0 && n <= 4096);
    /* after the host read, it takes input again */
    assert_int_equal(sim_model_rx(m, AT_CHAN, (const uint8_t *)cmd, 4, 100), 4);
    sim_model_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_boot_urcs_and_identity),
        cmocka_unit_test(test_identity_options_and_no_sim),
        cmocka_unit_test(test_echo_on_off),
        cmocka_unit_test(test_urc_between_command_and_slow_reply),
        cmocka_unit_test(test_byte_at_a_time_and_multiple),
        cmocka_unit_test(test_overlong_line),
        cmocka_unit_test(test_input_before_boot_is_dropped),
        cmocka_unit_test(test_qdownload_replugs_after_delay),
        cmocka_unit_test(test_spontaneous_reset_like_silent),
        cmocka_unit_test(test_option_validation),
        cmocka_unit_test(test_flow_control_when_host_does_not_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
