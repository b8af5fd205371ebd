/* The AT session against a scripted fake Quectel module written here (not tests/sim): canned
 * replies per command, echo that ATE0 turns off, optional boot noise, URCs injected between a
 * command and its reply, byte-at-a-time delivery, silent probes, per-command overrides. */
#include "at/at.h"
#include "protocol.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define IMEI_OK "862146050123452"
#define REV     "EC800MCNGAR06A01M08"
#define ICCID   "89860012345678901234"

struct override {
    const char *cmd;
    const char *reply; /* NULL: the module says nothing */
};

struct fake {
    int echo;
    unsigned silent_at; /* "AT" probes that get no answer (yet) */
    int late;           /* answers to silent probes arrive with the next answer */
    int late_first;     /* ... before the echo of the next command that is not a probe */
    unsigned rdy_after; /* boots after this many silent probes: prints RDY then (0: never) */
    int rdy_always;     /* prints RDY after every silent probe (a module that reboots) */
    unsigned late_owed;
    const char *boot; /* bytes queued before anything is asked */
    const char *urc;  /* queued after the echo, before every reply */
    int one_byte;
    int garbage_stream; /* never stops sending bytes without a line end */
    struct override over[6];
    char out[8192];
    size_t out_len, out_off;
    char cmd[64];
    size_t cmd_len;
    char log[32][32];
    unsigned nlog;
    unsigned dropped;
};

static void queue(struct fake *f, const char *s)
{
    size_t n = strlen(s);
    assert_true(f->out_len + n < sizeof(f->out));
    memcpy(f->out + f->out_len, s, n);
    f->out_len += n;
}

static const char *default_reply(struct fake *f, const char *cmd)
{
    if (strcmp(cmd, "AT") == 0)
        return "\r\nOK\r\n";
    if (strcmp(cmd, "ATE0") == 0) {
        f->echo = 0;
        return "\r\nOK\r\n";
    }
    if (strcmp(cmd, "AT+CGMM") == 0)
        return "\r\nEC800M\r\n\r\nOK\r\n";
    if (strcmp(cmd, "ATI") == 0)
        return "\r\nQuectel\r\nEC800M\r\nRevision: " REV "\r\n\r\nOK\r\n";
    if (strcmp(cmd, "AT+GMR") == 0)
        return "\r\n" REV "\r\n\r\nOK\r\n";
    if (strcmp(cmd, "AT+QGMR") == 0)
        return "\r\n" REV "_OCPU_01\r\n\r\nOK\r\n";
    if (strcmp(cmd, "AT+CGSN") == 0 || strcmp(cmd, "AT+GSN") == 0)
        return "\r\n" IMEI_OK "\r\n\r\nOK\r\n";
    if (strcmp(cmd, "AT+QCCID") == 0)
        return "\r\n+QCCID: " ICCID "\r\n\r\nOK\r\n";
    if (strcmp(cmd, "AT+QDOWNLOAD=1") == 0)
        return "\r\nOK\r\n";
    return "\r\nERROR\r\n";
}

static void on_command(struct fake *f, const char *cmd)
{
    if (f->nlog < 32)
        snprintf(f->log[f->nlog++], sizeof(f->log[0]), "%.31s", cmd);
    if (f->late_first && strcmp(cmd, "AT") != 0)
        for (; f->late_owed; f->late_owed--)
            queue(f, "\r\nOK\r\n");
    if (f->echo) {
        queue(f, cmd);
        queue(f, "\r");
    }
    if (strcmp(cmd, "AT") == 0 && f->silent_at) {
        f->silent_at--;
        f->late_owed += f->late;
        f->dropped++;
        if (f->rdy_always || (f->rdy_after && f->dropped == f->rdy_after))
            queue(f, "\r\nRDY\r\n");
        return;
    }
    if (f->urc)
        queue(f, f->urc);
    for (; f->late_owed && !f->late_first; f->late_owed--)
        queue(f, "\r\nOK\r\n");
    for (size_t i = 0; i < 6 && f->over[i].cmd; i++) {
        if (strcmp(f->over[i].cmd, cmd) == 0) {
            if (f->over[i].reply)
                queue(f, f->over[i].reply);
            return;
        }
    }
    queue(f, default_reply(f, cmd));
}

static void fake_write(struct fake *f, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\r') {
            f->cmd[f->cmd_len] = '\0';
            on_command(f, f->cmd);
            f->cmd_len = 0;
        } else if (f->cmd_len + 1 < sizeof(f->cmd)) {
            f->cmd[f->cmd_len++] = (char)p[i];
        }
    }
}

static int logged(const struct fake *f, const char *cmd)
{
    int n = 0;
    for (unsigned i = 0; i < f->nlog; i++)
        n += strcmp(f->log[i], cmd) == 0;
    return n;
}

/* ---- the job, played by the test -------------------------------------------------------- */

struct run {
    struct proto_ctx ctx;
    struct proto_request req;
    unsigned reenumerates, steps;
    uint64_t probe_ms[8]; /* session clock when each "AT" probe was written */
    unsigned probes;
    uint32_t reenum_timeout_ms;
    uint16_t back_vid, back_pid; /* what the module comes back as */
};

static void drive(struct fake *f, const char *options, uint16_t vid, uint16_t pid, struct run *r)
{
    r->ctx = (struct proto_ctx){0};
    r->ctx.link.kind = PROTO_LINK_SERIAL;
    r->ctx.link.vid = vid;
    r->ctx.link.pid = pid;
    r->ctx.now_ms = 5000;
    if (!r->back_vid) {
        r->back_vid = 0x1782;
        r->back_pid = 0x4d00;
    }
    if (f->boot)
        queue(f, f->boot);
    struct proto_params params = {.options = options};
    void *s = NULL;
    assert_int_equal(at_proto.session_new(&params, &r->ctx, &s), 0);
    struct proto_event ev = {.type = PROTO_EV_START};
    char chunk[512];
    for (r->steps = 0; r->steps < 100000; r->steps++) {
        at_proto.step(s, &ev, &r->req);
        memset(&ev, 0, sizeof(ev));
        if (r->req.type == PROTO_REQ_DONE || r->req.type == PROTO_REQ_FAIL)
            break;
        switch (r->req.type) {
        case PROTO_REQ_WRITE:
            assert_non_null(r->req.data);
            assert_true(r->req.len > 0);
            if (r->req.len == 3 && memcmp(r->req.data, "AT\r", 3) == 0 && r->probes < 8)
                r->probe_ms[r->probes++] = r->ctx.now_ms;
            fake_write(f, r->req.data, r->req.len);
            ev.type = PROTO_EV_TX_DONE;
            break;
        case PROTO_REQ_READ: {
            assert_true(r->req.len > 0);
            assert_true(r->req.timeout_ms > 0);
            if (f->garbage_stream) {
                size_t n = r->req.len < sizeof(chunk) ? r->req.len : sizeof(chunk);
                memset(chunk, 'x', n);
                ev.type = PROTO_EV_RX;
                ev.data = (const uint8_t *)chunk;
                ev.len = n;
                r->ctx.now_ms += 1;
                break;
            }
            size_t pending = f->out_len - f->out_off;
            if (!pending) {
                ev.type = PROTO_EV_TIMEOUT;
                r->ctx.now_ms += r->req.timeout_ms;
                break;
            }
            size_t n = f->one_byte ? 1 : pending;
            if (n > r->req.len)
                n = r->req.len;
            memcpy(chunk, f->out + f->out_off, n);
            f->out_off += n;
            if (f->out_off == f->out_len)
                f->out_off = f->out_len = 0;
            ev.type = PROTO_EV_RX;
            ev.data = (const uint8_t *)chunk;
            ev.len = n;
            r->ctx.now_ms += 2;
            break;
        }
        case PROTO_REQ_REENUMERATE:
            r->reenumerates++;
            r->reenum_timeout_ms = r->req.timeout_ms;
            r->ctx.link.vid = r->back_vid;
            r->ctx.link.pid = r->back_pid;
            r->ctx.link.kind = PROTO_LINK_USB_BULK;
            ev.type = PROTO_EV_ATTACHED;
            break;
        default:
            fail_msg("unexpected request %s", proto_request_type_to_string(r->req.type));
        }
    }
    assert_true(r->steps < 100000);
    if (r->req.type == PROTO_REQ_FAIL) {
        assert_int_not_equal(r->req.fail, FAIL_NONE);
        assert_true(strlen(r->req.message) > 0);
    }
    /* a finished session keeps answering with its end */
    struct proto_request again;
    ev.type = PROTO_EV_TIMEOUT;
    at_proto.step(s, &ev, &again);
    assert_int_equal(again.type, r->req.type);
    at_proto.session_free(s);
}

static void assert_identity(const struct run *r)
{
    assert_int_equal(r->req.type, PROTO_REQ_DONE);
    assert_string_equal(r->ctx.ident.chip, "EC800M");
    assert_string_equal(r->ctx.ident.revision, REV);
    assert_string_equal(r->ctx.ident.imei, IMEI_OK);
    assert_string_equal(r->ctx.ident.serial, ICCID);
}

static void assert_fail(const struct run *r, enum fail_code code, const char *needle)
{
    if (r->req.type != PROTO_REQ_FAIL || r->req.fail != code || !strstr(r->req.message, needle))
        fail_msg("expected FAIL %s containing '%s', got %s %s: %s", fail_code_to_string(code),
                 needle, proto_request_type_to_string(r->req.type),
                 fail_code_to_string(r->req.fail), r->req.message);
}

/* ---- identify ----------------------------------------------------------------------------- */

static void test_identify_happy(void **state)
{
    (void)state;
    struct fake f = {.echo = 1};
    struct run r = {0};
    drive(&f, NULL, 0x2c7c, 0x6002, &r);
    assert_identity(&r);
    assert_int_equal(logged(&f, "AT"), 1);
    assert_int_equal(logged(&f, "ATE0"), 1);
    assert_int_equal(logged(&f, "ATI"), 0);
    assert_int_equal(logged(&f, "AT+QDOWNLOAD=1"), 0);
    assert_int_equal(r.reenumerates, 0);
    struct at_revision rev;
    assert_int_equal(at_parse_revision(r.ctx.ident.revision, &rev), 0);
    assert_string_equal(rev.submodel, "CNGA");
}

static void test_identify_noise_echo_urcs(void **state)
{
    (void)state;
    struct fake f = {.echo = 1,
                     .boot = "\x00\xff\xfe#garbage\r\nRDY\r\n+CPIN: READY\r\n",
                     .urc = "\r\n+QIND: SMS DONE\r\n\r\nPB DONE\r\n+CREG: 1\r\n",
                     /* echo stays on: every command comes back before its answer */
                     .over = {{"ATE0", "\r\nERROR\r\n"}}};
    struct run r = {0};
    drive(&f, "mode=identify", 0x2c7c, 0x0901, &r);
    assert_identity(&r);
}

static void test_identify_byte_at_a_time(void **state)
{
    (void)state;
    struct fake f = {.echo = 1, .one_byte = 1, .urc = "\r\n+QIND: \"csq\",20,99\r\n"};
    struct run r = {0};
    drive(&f, NULL, 0x2c7c, 0x6002, &r);
    assert_identity(&r);
}

static void test_identify_slow_sync_late_answers(void **state)
{
    (void)state;
    /* two probes time out, then all three OKs arrive at once: the extra ones are drained
     * and do not answer ATE0 / AT+CGMM */
    struct fake f = {.echo = 0, .silent_at = 2, .late = 1, .one_byte = 1};
    struct run r = {0};
    drive(&f, "sync_ms=500", 0x2c7c, 0x6002, &r);
    assert_identity(&r);
    assert_int_equal(logged(&f, "AT"), 3);
}

/* A module that re-enumerated: the first probe reaches it before its AT interpreter runs and
 * is dropped; RDY follows. The next probe goes at once instead of after sync_ms, and the
 * drain still runs (the first probe could have been answered late). */
static void test_identify_probe_on_rdy(void **state)
{
    (void)state;
    struct fake f = {.echo = 1, .silent_at = 1, .rdy_after = 1};
    struct run r = {0};
    drive(&f, NULL, 0x2c7c, 0x6002, &r);
    assert_identity(&r);
    assert_int_equal(logged(&f, "AT"), 2);
    assert_int_equal(r.probes, 2);
    assert_true(r.probe_ms[1] - r.probe_ms[0] < 100); /* virtual clock: 2 ms per read */
}

/* The same module with a late answer to the dropped probe: the drain after the RDY probe
 * keeps the stray OK from answering ATE0 / AT+CGMM. */
static void test_identify_probe_on_rdy_late_answer(void **state)
{
    (void)state;
    struct fake f = {.echo = 0, .silent_at = 1, .late = 1, .rdy_after = 1, .one_byte = 1};
    struct run r = {0};
    drive(&f, NULL, 0x2c7c, 0x6002, &r);
    assert_identity(&r);
    assert_int_equal(logged(&f, "AT"), 2);
    assert_true(r.probe_ms[1] - r.probe_ms[0] < 100);
}

/* The late answer to the dropped probe comes only after the drain (a slow module on a loaded
 * host), before the next command's answer: the model query, first after the sync, takes a bare
 * OK for that late answer (its own has a line), so no reply is shifted by one. */
static void test_identify_late_answer_after_drain(void **state)
{
    (void)state;
    struct fake f = {
        .echo = 1, .silent_at = 1, .late = 1, .late_first = 1, .rdy_after = 1, .one_byte = 1};
    struct run r = {0};
    drive(&f, NULL, 0x2c7c, 0x6002, &r);
    assert_identity(&r);
    assert_int_equal(logged(&f, "ATE0"), 1);
    assert_int_equal(logged(&f, "ATI"), 0); /* AT+CGMM had its own answer */
}

/* The rest of an earlier session's answer is waiting when the port opens (a retry after a
 * failed identify, echo already off): it is discarded before the first probe instead of
 * answering it. */
static void test_identify_stale_input(void **state)
{
    (void)state;
    struct fake f = {.echo = 0, .one_byte = 1, .boot = "\r\n" IMEI_OK "\r\n\r\nOK\r\n"};
    struct run r = {0};
    drive(&f, NULL, 0x2c7c, 0x6002, &r);
    assert_identity(&r);
    assert_int_equal(logged(&f, "ATI"), 0);
}

/* No RDY: the next probe only after sync_ms, as before. RDY from a module that keeps
 * rebooting: one early probe per session, then sync_ms again. */
static void test_identify_rdy_missing_or_repeated(void **state)
{
    (void)state;
    struct fake quiet = {.echo = 1, .silent_at = 1};
    struct run r = {0};
    drive(&quiet, NULL, 0x2c7c, 0x6002, &r);
    assert_identity(&r);
    assert_int_equal(r.probes, 2);
    assert_true(r.probe_ms[1] - r.probe_ms[0] >= 1000);

    struct fake chatty = {.echo = 1, .silent_at = 3, .rdy_always = 1};
    struct run r2 = {0};
    drive(&chatty, NULL, 0x2c7c, 0x6002, &r2);
    assert_identity(&r2);
    assert_int_equal(r2.probes, 4);
    assert_true(r2.probe_ms[1] - r2.probe_ms[0] < 100);
    assert_true(r2.probe_ms[2] - r2.probe_ms[1] >= 1000);
    assert_true(r2.probe_ms[3] - r2.probe_ms[2] >= 1000);

    /* sync_tries bounds the RDY probe too: with one try there is none */
    struct fake once = {.silent_at = 1000, .rdy_always = 1};
    struct run r3 = {0};
    drive(&once, "sync_tries=1", 0x2c7c, 0x6002, &r3);
    assert_fail(&r3, FAIL_TIMEOUT, "no OK to AT after 1 tries");
    assert_int_equal(r3.probes, 1);
}

static void test_identify_silence(void **state)
{
    (void)state;
    struct fake f = {.silent_at = 1000};
    struct run r = {0};
    drive(&f, "sync_tries=4", 0x2c7c, 0x6002, &r);
    assert_fail(&r, FAIL_TIMEOUT, "no OK to AT after 4 tries");
    assert_int_equal(logged(&f, "AT"), 4);
    assert_string_equal(r.ctx.progress.phase, "sync");
}

static void test_identify_command_silence(void **state)
{
    (void)state;
    struct fake f = {.echo = 0, .over = {{"AT+GMR", NULL}}};
    struct run r = {0};
    drive(&f, NULL, 0x2c7c, 0x6002, &r);
    assert_fail(&r, FAIL_TIMEOUT, "AT+GMR: no final result");
}

static void test_identify_error_fallbacks(void **state)
{
    (void)state;
    struct fake f = {.echo = 1,
                     .over = {{"AT+CGMM", "\r\nERROR\r\n"},
                              {"AT+GMR", "\r\n+CME ERROR: 58\r\n"},
                              {"AT+QGMR", "\r\n" REV "\r\n\r\nOK\r\n"},
                              {"AT+CGSN", "\r\nERROR\r\n"},
                              {"AT+GSN", "\r\n+GSN: \"" IMEI_OK "\"\r\n\r\nOK\r\n"}}};
    struct run r = {0};
    drive(&f, NULL, 0x2c7c, 0x6002, &r);
    assert_identity(&r);
    assert_int_equal(logged(&f, "ATI"), 1);
    assert_int_equal(logged(&f, "AT+QGMR"), 1);
    assert_int_equal(logged(&f, "AT+GSN"), 1);
}

static void test_identify_no_model(void **state)
{
    (void)state;
    struct fake f = {.over = {{"AT+CGMM", "\r\n+CME ERROR: 4\r\n"}, {"ATI", "\r\nERROR\r\n"}}};
    struct run r = {0};
    drive(&f, NULL, 0x2c7c, 0x6002, &r);
    assert_fail(&r, FAIL_PROTOCOL, "no model");
}

static void test_identify_bad_imei(void **state)
{
    (void)state;
    struct fake f = {.over = {{"AT+CGSN", "\r\n862146050123453\r\n\r\nOK\r\n"}}};
    struct run r = {0};
    drive(&f, NULL, 0x2c7c, 0x6002, &r);
    assert_fail(&r, FAIL_PROTOCOL, "IMEI '862146050123453'");
    assert_non_null(strstr(r.req.message, "Luhn"));

    struct fake g = {.over = {{"AT+CGSN", "\r\n86214605012345\r\n\r\nOK\r\n"}}};
    drive(&g, NULL, 0x2c7c, 0x6002, &r);
    assert_fail(&r, FAIL_PROTOCOL, "15 digits");

    struct fake h = {.over = {{"AT+CGSN", "\r\nERROR\r\n"}, {"AT+GSN", "\r\nERROR\r\n"}}};
    drive(&h, NULL, 0x2c7c, 0x6002, &r);
    assert_fail(&r, FAIL_PROTOCOL, "no IMEI");
}

static void test_identify_no_sim(void **state)
{
    (void)state;
    struct fake f = {.over = {{"AT+QCCID", "\r\n+CME ERROR: 10\r\n"}}};
    struct run r = {0};
    drive(&f, NULL, 0x2c7c, 0x6002, &r);
    assert_int_equal(r.req.type, PROTO_REQ_DONE);
    assert_string_equal(r.ctx.ident.imei, IMEI_OK);
    assert_string_equal(r.ctx.ident.serial, "");

    struct fake g = {.over = {{"AT+QCCID", "\r\n+QCCID: garbage!\r\n\r\nOK\r\n"}}};
    drive(&g, NULL, 0x2c7c, 0x6002, &r);
    assert_int_equal(r.req.type, PROTO_REQ_DONE);
    assert_string_equal(r.ctx.ident.serial, "");
}

static void test_identify_endless_garbage(void **state)
{
    (void)state;
    struct fake f = {.garbage_stream = 1};
    struct run r = {0};
    drive(&f, NULL, 0x2c7c, 0x6002, &r);
    assert_int_equal(r.req.type, PROTO_REQ_FAIL);
    assert_true(r.req.fail == FAIL_PROTOCOL || r.req.fail == FAIL_TIMEOUT);
    assert_non_null(strstr(r.req.message, "sync"));
}

static void test_bad_options(void **state)
{
    (void)state;
    const char *bad[] = {"mode=flash", "sync_tries=0", "cmd_ms=abc", "colour=blue", "novalue"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct fake f = {0};
        struct run r = {0};
        drive(&f, bad[i], 0x2c7c, 0x6002, &r);
        assert_int_equal(r.req.type, PROTO_REQ_FAIL);
        assert_int_equal(r.req.fail, FAIL_INTERNAL);
        assert_int_equal(f.nlog, 0);
    }
}

/* ---- download ----------------------------------------------------------------------------- */

static void test_download_accepted(void **state)
{
    (void)state;
    struct fake f = {.echo = 1, .urc = "\r\n+CPIN: READY\r\n"};
    struct run r = {0};
    drive(&f, "mode=download;reenumerate_ms=45000", 0x2c7c, 0x0901, &r);
    assert_identity(&r);
    assert_int_equal(logged(&f, "AT+QDOWNLOAD=1"), 1);
    assert_int_equal(r.reenumerates, 1);
    assert_int_equal(r.reenum_timeout_ms, 45000);
    /* QDOWNLOAD comes last, after the identity was read */
    assert_string_equal(f.log[f.nlog - 1], "AT+QDOWNLOAD=1");
}

static void test_download_without_identify(void **state)
{
    (void)state;
    struct fake f = {.echo = 1};
    struct run r = {0};
    drive(&f, "mode=download;identify=0", 0x2c7c, 0x6002, &r);
    assert_int_equal(r.req.type, PROTO_REQ_DONE);
    assert_int_equal(f.nlog, 2);
    assert_string_equal(f.log[0], "AT");
    assert_string_equal(f.log[1], "AT+QDOWNLOAD=1");
    assert_int_equal(r.reenum_timeout_ms, 30000);
    assert_string_equal(r.ctx.ident.imei, "");
}

static void test_download_silent_after_command(void **state)
{
    (void)state;
    /* the module resets before its OK leaves: the session still waits for the port */
    struct fake f = {.over = {{"AT+QDOWNLOAD=1", NULL}}};
    struct run r = {0};
    drive(&f, "mode=download;identify=0", 0x2c7c, 0x6002, &r);
    assert_int_equal(r.req.type, PROTO_REQ_DONE);
    assert_int_equal(r.reenumerates, 1);
}

static void test_download_refused(void **state)
{
    (void)state;
    struct fake f = {.over = {{"AT+QDOWNLOAD=1", "\r\nERROR\r\n"}}};
    struct run r = {0};
    drive(&f, "mode=download", 0x2c7c, 0x6002, &r);
    assert_fail(&r, FAIL_REJECTED, "AT+QDOWNLOAD=1 answered ERROR (expected OK)");
    assert_non_null(strstr(r.req.message, "boot pin"));
    assert_int_equal(r.reenumerates, 0);
    assert_string_equal(r.ctx.ident.imei, IMEI_OK); /* identity is kept for the record */
}

static void test_download_unswitchable_platform(void **state)
{
    (void)state;
    struct fake f = {0};
    struct run r = {0};
    drive(&f, "mode=download", 0x2c7c, 0x0125, &r);
    assert_fail(&r, FAIL_REJECTED, "qualcomm");
    assert_non_null(strstr(r.req.message, "boot pin"));
    assert_int_equal(f.nlog, 0);

    struct fake g = {0};
    struct run r2 = {.back_vid = 0x05c6, .back_pid = 0x9008};
    drive(&g, "mode=download;force=1;identify=0", 0x2c7c, 0x0125, &r2);
    assert_int_equal(r2.req.type, PROTO_REQ_DONE);
    assert_int_equal(logged(&g, "AT+QDOWNLOAD=1"), 1);
}

static void test_download_back_in_at_mode(void **state)
{
    (void)state;
    struct fake f = {0};
    struct run r = {.back_vid = 0x2c7c, .back_pid = 0x0901};
    drive(&f, "mode=download;identify=0", 0x2c7c, 0x0901, &r);
    assert_fail(&r, FAIL_REJECTED, "still in AT mode");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identify_happy),
        cmocka_unit_test(test_identify_noise_echo_urcs),
        cmocka_unit_test(test_identify_byte_at_a_time),
        cmocka_unit_test(test_identify_slow_sync_late_answers),
        cmocka_unit_test(test_identify_probe_on_rdy),
        cmocka_unit_test(test_identify_probe_on_rdy_late_answer),
        cmocka_unit_test(test_identify_late_answer_after_drain),
        cmocka_unit_test(test_identify_stale_input),
        cmocka_unit_test(test_identify_rdy_missing_or_repeated),
        cmocka_unit_test(test_identify_silence),
        cmocka_unit_test(test_identify_command_silence),
        cmocka_unit_test(test_identify_error_fallbacks),
        cmocka_unit_test(test_identify_no_model),
        cmocka_unit_test(test_identify_bad_imei),
        cmocka_unit_test(test_identify_no_sim),
        cmocka_unit_test(test_identify_endless_garbage),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_download_accepted),
        cmocka_unit_test(test_download_without_identify),
        cmocka_unit_test(test_download_silent_after_command),
        cmocka_unit_test(test_download_refused),
        cmocka_unit_test(test_download_unswitchable_platform),
        cmocka_unit_test(test_download_back_in_at_mode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
