/* Quectel AT-mode session (protocol.h): sync, identify, optionally switch to download mode.
 *
 * Each stage is one command: write "AT...\r", read lines until a final result code (OK,
 * ERROR, +CME/+CMS ERROR) or the stage's deadline. Lines are bounded; echo of the command,
 * unsolicited result codes and garbage are skipped, so a module that boots chatty, echoes or
 * answers one byte at a time still identifies. Every retry and every fallback is counted;
 * every failure names the command, what was expected and what came.
 */
#include "at/at.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LINE_MAX_LEN 128  /* longer lines are garbage (revision strings are < 64) */
#define INFO_MAX     4    /* information lines kept per command */
#define CMD_RX_MAX   8192 /* bytes one command may produce before it is a protocol error */
#define DRAIN_MS     300  /* least quiet time that ends the drain after a retried sync */
#define DRAIN_BUDGET 2000 /* on top of the drain's quiet time */
#define DRAIN_MAX_MS 10000
#define FLUSH_MS     20  /* quiet that ends the discard of input waiting at the start */
#define FLUSH_MAX_MS 500 /* the discard's bound (a module that never stops talking) */
#define T_WRITE      2000
#define READ_CHUNK   256

enum stage {
    ST_SYNC = 0,
    ST_DRAIN,
    ST_ECHO_OFF,
    ST_MODEL,
    ST_MODEL_ATI,
    ST_REV,
    ST_REV_Q,
    ST_IMEI,
    ST_IMEI_GSN,
    ST_ICCID,
    ST_QDOWNLOAD,
    ST_REENUM,
    ST_FLUSH,
};

struct stage_def {
    const char *cmd;    /* without the trailing CR */
    const char *prefix; /* "+XXX:" information lines of this command, NULL: bare lines */
    const char *phase;
};

static const struct stage_def stages[] = {
    [ST_SYNC] = {"AT", NULL, "sync"},
    [ST_DRAIN] = {NULL, NULL, "sync"},
    [ST_ECHO_OFF] = {"ATE0", NULL, "identify"},
    [ST_MODEL] = {"AT+CGMM", NULL, "identify"},
    [ST_MODEL_ATI] = {"ATI", NULL, "identify"},
    [ST_REV] = {"AT+GMR", NULL, "identify"},
    [ST_REV_Q] = {"AT+QGMR", "+QGMR:", "identify"},
    [ST_IMEI] = {"AT+CGSN", "+CGSN:", "identify"},
    [ST_IMEI_GSN] = {"AT+GSN", "+GSN:", "identify"},
    [ST_ICCID] = {"AT+QCCID", "+QCCID:", "identify"},
    [ST_QDOWNLOAD] = {"AT+QDOWNLOAD=1", NULL, "switching"},
    [ST_REENUM] = {NULL, NULL, "reenumerate"},
    [ST_FLUSH] = {NULL, NULL, "sync"},
};

/* Unsolicited result codes without a '+' prefix that Quectel firmware prints at boot. */
static const char *const bare_urcs[] = {"RDY",          "SMS DONE",          "PB DONE",
                                        "POWERED DOWN", "NORMAL POWER DOWN", "Call Ready"};

enum result { R_OK, R_ERROR };
enum xstate { XS_WRITE = 1, XS_READ, XS_REENUM };

struct at_session {
    struct proto_ctx *ctx;
    struct at_opts opts;
    char opt_err[200];
    enum stage st;
    enum xstate xs;
    uint8_t tx[32];
    size_t tx_len;
    uint64_t deadline_ms;
    unsigned sync_tries_used;
    int rdy_probed;          /* the probe on the module's RDY was sent (once per session) */
    uint64_t first_probe_ms; /* when the first "AT" of the session was written */
    uint64_t first_rx_ms;    /* when the module's first bytes came (with have_rx) */
    int have_rx;
    uint64_t drain_quiet_ms; /* quiet time that ends this session's drain */
    unsigned strays;         /* probes whose answer may still come (after a retried sync) */
    unsigned strays_skipped; /* bare results the model query took for late probe answers */
    size_t rx_bytes;
    char line[LINE_MAX_LEN];
    size_t line_len;
    int line_overflow;
    char info[INFO_MAX][LINE_MAX_LEN];
    unsigned ninfo;
    char last[48]; /* last non-empty line of this command, for messages */
    char err_text[48];
    char ati_rev[64];
    uint16_t start_vid, start_pid;
    int usb_known;
    struct at_usb_info usb;
    int ended;
    struct proto_request final;
};

/* ---- helpers ---------------------------------------------------------------------------- */

/* Copies printable ASCII of src into dst (bounded), trimmed. */
static void copy_clean(char *dst, size_t cap, const char *src)
{
    size_t n = 0;
    while (*src == ' ' || *src == '"')
        src++;
    for (; *src && n + 1 < cap; src++)
        if (*src >= 0x20 && *src < 0x7f && *src != '"')
            dst[n++] = *src;
    while (n && dst[n - 1] == ' ')
        n--;
    dst[n] = '\0';
}

static const char *quoted_last(const struct at_session *s)
{
    return s->last[0] ? s->last : "nothing";
}

static void finish(struct at_session *s, struct proto_request *out)
{
    s->ended = 1;
    s->final = *out;
}

static void fail(struct at_session *s, struct proto_request *out, enum fail_code code,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void fail(struct at_session *s, struct proto_request *out, enum fail_code code,
                 const char *fmt, ...)
{
    char msg[sizeof(out->message)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    proto_req_fail(out, code, "%s", msg);
    finish(s, out);
}

static void read_more(struct at_session *s, struct proto_request *out)
{
    uint64_t now = s->ctx->now_ms;
    uint64_t left = s->deadline_ms > now ? s->deadline_ms - now : 1;
    if (s->st == ST_DRAIN && left > s->drain_quiet_ms)
        left = s->drain_quiet_ms; /* the drain ends at the first quiet period */
    if (s->st == ST_FLUSH && left > FLUSH_MS)
        left = FLUSH_MS;
    s->xs = XS_READ;
    proto_req_read(out, READ_CHUNK, (uint32_t)(left > UINT32_MAX ? UINT32_MAX : left));
}

static void begin(struct at_session *s, enum stage st, struct proto_request *out)
{
    s->st = st;
    s->ctx->progress.phase = stages[st].phase;
    s->rx_bytes = 0;
    s->line_len = 0;
    s->line_overflow = 0;
    s->ninfo = 0;
    s->last[0] = '\0';
    s->err_text[0] = '\0';
    if (st == ST_FLUSH) {
        s->deadline_ms = s->ctx->now_ms + FLUSH_MAX_MS;
        s->xs = XS_READ;
        proto_req_read(out, READ_CHUNK, FLUSH_MS);
        return;
    }
    if (st == ST_DRAIN) {
        s->deadline_ms = s->ctx->now_ms + s->drain_quiet_ms + DRAIN_BUDGET;
        s->xs = XS_READ;
        proto_req_read(out, READ_CHUNK, (uint32_t)s->drain_quiet_ms);
        return;
    }
    uint32_t wait = st == ST_SYNC ? s->opts.sync_ms : s->opts.cmd_ms;
    s->deadline_ms = s->ctx->now_ms + wait;
    /* From here on the module may drop off USB before (or instead of) its OK: that is the
     * switch happening, not a failure (the job then waits for it as a re-enumeration). */
    if (st == ST_QDOWNLOAD)
        s->ctx->expect_leave_ms = s->opts.reenumerate_ms;
    s->tx_len = (size_t)snprintf((char *)s->tx, sizeof(s->tx), "%s\r", stages[st].cmd);
    s->xs = XS_WRITE;
    proto_req_write(out, s->tx, s->tx_len, T_WRITE);
}

static int is_echo(const struct at_session *s, const char *line)
{
    const char *cmd = stages[s->st].cmd;
    return cmd && strcasecmp(line, cmd) == 0;
}

static int is_final(const char *line)
{
    return strcmp(line, "OK") == 0 || strcmp(line, "ERROR") == 0 ||
           strncmp(line, "+CME ERROR:", 11) == 0 || strncmp(line, "+CMS ERROR:", 11) == 0;
}

static int is_bare_urc(const char *line)
{
    for (size_t i = 0; i < sizeof(bare_urcs) / sizeof(bare_urcs[0]); i++)
        if (strcmp(line, bare_urcs[i]) == 0)
            return 1;
    return 0;
}

/* The first probe, once input that was waiting when the session began is gone: the rest of
 * an earlier session's answers (a retry on the same port, or the identify session before a
 * switch) would otherwise answer it and shift every later reply by one. */
static void start_sync(struct at_session *s, struct proto_request *out)
{
    s->have_rx = 0;
    s->sync_tries_used = 1;
    s->first_probe_ms = s->ctx->now_ms;
    s->drain_quiet_ms = DRAIN_MS;
    begin(s, ST_SYNC, out);
}

/* ---- results of each stage --------------------------------------------------------------- */

static void after_identity(struct at_session *s, struct proto_request *out);

static void after_sync(struct at_session *s, struct proto_request *out)
{
    if (s->opts.download && !s->opts.identify)
        begin(s, ST_QDOWNLOAD, out);
    else
        begin(s, ST_MODEL, out);
}

/* The model query comes first after the sync: its answer has a line a late probe's OK has
 * not, so it is the one that can tell them apart; echo off follows it, then the revision. */
static void after_model(struct at_session *s, struct proto_request *out)
{
    begin(s, ST_ECHO_OFF, out);
}

static void on_result(struct at_session *s, enum result r, struct proto_request *out)
{
    struct device_ident *id = &s->ctx->ident;
    switch (s->st) {
    case ST_SYNC:
        if (r != R_OK) {
            read_more(s, out); /* a stray ERROR before the module is ready: keep probing */
            return;
        }
        if (s->sync_tries_used > 1) {
            /* Late answers to earlier probes must not pair up with the next commands. This
             * OK may answer the first probe the module heard, slowly, and another may follow
             * as late after it: the quiet that ends the drain is at least as long as this
             * one took. The first probe it can have heard is the session's first, or, when
             * it printed RDY, none written before it was up (its first bytes). */
            uint64_t heard = s->first_probe_ms;
            if (s->rdy_probed && s->first_rx_ms > heard)
                heard = s->first_rx_ms;
            uint64_t took = s->ctx->now_ms - heard + DRAIN_MS / 2;
            s->drain_quiet_ms = took < DRAIN_MS       ? DRAIN_MS
                                : took > DRAIN_MAX_MS ? DRAIN_MAX_MS
                                                      : took;
            s->strays = s->sync_tries_used - 1;
            begin(s, ST_DRAIN, out);
            return;
        }
        after_sync(s, out);
        return;
    case ST_DRAIN:
        after_sync(s, out);
        return;
    case ST_ECHO_OFF: /* echo is filtered anyway; an ERROR here costs nothing */
        begin(s, ST_REV, out);
        return;
    case ST_MODEL:
        if (r == R_OK && s->ninfo) {
            copy_clean(id->chip, sizeof(id->chip), s->info[0]);
            if (id->chip[0]) {
                after_model(s, out);
                return;
            }
        }
        begin(s, ST_MODEL_ATI, out);
        return;
    case ST_MODEL_ATI:
        /* ATI: "Quectel", "<model>", "Revision: <rev>" */
        for (unsigned i = 0; r == R_OK && i < s->ninfo; i++) {
            if (strncmp(s->info[i], "Revision:", 9) == 0)
                copy_clean(s->ati_rev, sizeof(s->ati_rev), s->info[i] + 9);
            else if (strcasecmp(s->info[i], "Quectel") != 0 && !id->chip[0])
                copy_clean(id->chip, sizeof(id->chip), s->info[i]);
        }
        if (!id->chip[0]) {
            fail(s, out, FAIL_PROTOCOL,
                 "identify: no model: AT+CGMM and ATI gave no model line (expected e.g. "
                 "'EC800M', last received '%s')",
                 quoted_last(s));
            return;
        }
        after_model(s, out);
        return;
    case ST_REV:
    case ST_REV_Q:
        if (r == R_OK && s->ninfo) {
            const char *v = s->info[0];
            if (strncmp(v, "Revision:", 9) == 0)
                v += 9;
            else if (strncmp(v, "+QGMR:", 6) == 0)
                v += 6;
            copy_clean(id->revision, sizeof(id->revision), v);
        }
        if (id->revision[0]) {
            begin(s, ST_IMEI, out);
        } else if (s->st == ST_REV) {
            begin(s, ST_REV_Q, out);
        } else if (s->ati_rev[0]) {
            snprintf(id->revision, sizeof(id->revision), "%s", s->ati_rev);
            begin(s, ST_IMEI, out);
        } else {
            fail(s, out, FAIL_PROTOCOL,
                 "identify: no revision: AT+GMR and AT+QGMR gave no revision line (expected "
                 "e.g. 'EC800MCNGAR06A01M08', last received '%s')",
                 quoted_last(s));
        }
        return;
    case ST_IMEI:
    case ST_IMEI_GSN: {
        if (r != R_OK || !s->ninfo) {
            if (s->st == ST_IMEI) {
                begin(s, ST_IMEI_GSN, out);
                return;
            }
            fail(s, out, FAIL_PROTOCOL,
                 "identify: no IMEI: AT+CGSN and AT+GSN gave no IMEI (expected 15 digits, "
                 "last received '%s')",
                 quoted_last(s));
            return;
        }
        const char *v = s->info[0];
        const char *p = stages[s->st].prefix;
        if (strncmp(v, p, strlen(p)) == 0)
            v += strlen(p);
        char imei[LINE_MAX_LEN];
        copy_clean(imei, sizeof(imei), v);
        if (!at_imei_valid(imei)) {
            fail(s, out, FAIL_PROTOCOL,
                 "identify: IMEI '%.40s' from %s is invalid (expected 15 digits with a valid "
                 "Luhn check digit)",
                 imei, stages[s->st].cmd);
            return;
        }
        memcpy(id->imei, imei, 16); /* validated: 15 digits and the NUL */
        begin(s, ST_ICCID, out);
        return;
    }
    case ST_ICCID: {
        /* No SIM is normal on a production line: ERROR / +CME ERROR leave serial empty. */
        id->serial[0] = '\0';
        if (r == R_OK && s->ninfo) {
            const char *v = s->info[0];
            if (strncmp(v, "+QCCID:", 7) == 0)
                v += 7;
            char iccid[LINE_MAX_LEN];
            copy_clean(iccid, sizeof(iccid), v);
            size_t n = strlen(iccid), k = 0;
            while (k < n && isxdigit((unsigned char)iccid[k]))
                k++;
            if (k == n && n >= 18 && n <= 22)
                snprintf(id->serial, sizeof(id->serial), "%s", iccid);
        }
        after_identity(s, out);
        return;
    }
    case ST_QDOWNLOAD:
        if (r == R_OK) {
            s->st = ST_REENUM;
            s->ctx->progress.phase = stages[ST_REENUM].phase;
            s->xs = XS_REENUM;
            proto_req_reenumerate(out, s->opts.reenumerate_ms);
            return;
        }
        fail(s, out, FAIL_REJECTED,
             "switching: AT+QDOWNLOAD=1 answered %s (expected OK): the module refuses the AT "
             "switch; %s",
             s->err_text[0] ? s->err_text : "ERROR",
             s->usb_known ? s->usb.operator_hint : AT_HINT_BOOT_PIN);
        return;
    case ST_REENUM:
    case ST_FLUSH: /* no result: the discard ends by quiet (on_timeout) */
        break;
    }
    fail(s, out, FAIL_INTERNAL, "at: result in stage %d", (int)s->st);
}

static void after_identity(struct at_session *s, struct proto_request *out)
{
    if (!s->opts.download) {
        proto_req_done(out);
        finish(s, out);
        return;
    }
    begin(s, ST_QDOWNLOAD, out);
}

/* Checked before AT+QDOWNLOAD=1 is sent: a platform known not to switch is told to the
 * operator at once instead of after a 30 s wait for a download port that never comes. */
static int refuse_unswitchable(struct at_session *s, struct proto_request *out)
{
    if (s->opts.force || !s->usb_known || s->usb.download_switch != AT_SWITCH_NONE)
        return 0;
    fail(s, out, FAIL_REJECTED,
         "switching: %s (%04x:%04x, platform %s) cannot be switched to download mode over AT; "
         "%s",
         s->usb.family, s->usb.vid, s->usb.pid, at_platform_name(s->usb.platform),
         s->usb.operator_hint);
    return 1;
}

/* ---- line handling ---------------------------------------------------------------------- */

/* Returns 1 when the line ended the command (out is filled). */
static int on_line(struct at_session *s, char *line, struct proto_request *out)
{
    size_t n = strlen(line);
    while (n && line[n - 1] == ' ')
        line[--n] = '\0';
    if (!n || s->st == ST_DRAIN || s->st == ST_FLUSH)
        return 0;
    copy_clean(s->last, sizeof(s->last), line);
    if (is_echo(s, line))
        return 0;
    /* The model query answers with a line before its result; a bare result there, while a
     * probe of a retried sync may still answer, is that late answer (it outlasted the drain:
     * a slow module on a loaded host): skipped, the query's own answer follows. Once the
     * query has its line, every earlier answer has come (the module answers in order). */
    if (s->strays && is_final(line) && (s->st == ST_MODEL || s->st == ST_MODEL_ATI)) {
        if (!s->ninfo) {
            s->strays--;
            s->strays_skipped++;
            return 0;
        }
        s->strays = 0;
    }
    if (strcmp(line, "OK") == 0) {
        on_result(s, R_OK, out);
        return 1;
    }
    if (is_final(line)) { /* ERROR, +CME ERROR, +CMS ERROR */
        copy_clean(s->err_text, sizeof(s->err_text), line);
        if (s->st == ST_SYNC)
            return 0;
        on_result(s, R_ERROR, out);
        return 1;
    }
    if (s->st == ST_SYNC && strcmp(line, "RDY") == 0 && !s->rdy_probed &&
        s->sync_tries_used < s->opts.sync_tries) {
        /* The module's AT interpreter has just started: a probe that reached it before
         * was dropped, and waiting out sync_ms for it would cost most of a verify. Probe
         * again now, once per session and counted as a try, so the drain after a retried
         * sync still keeps a late OK to the first probe (a module that was up already and
         * heard it) from answering a command. */
        s->rdy_probed = 1;
        s->sync_tries_used++;
        begin(s, ST_SYNC, out);
        return 1;
    }
    if (s->st == ST_SYNC)
        return 0; /* garbage and boot messages before the first OK */
    const char *prefix = stages[s->st].prefix;
    int info = prefix ? strncmp(line, prefix, strlen(prefix)) == 0 : 0;
    if (!info)
        info = line[0] != '+' && !is_bare_urc(line);
    if (info && s->ninfo < INFO_MAX)
        snprintf(s->info[s->ninfo++], LINE_MAX_LEN, "%s", line);
    return 0;
}

static void on_timeout(struct at_session *s, struct proto_request *out)
{
    if (s->st == ST_MODEL && s->strays_skipped) {
        begin(s, ST_MODEL_ATI, out); /* its bare answer was taken for a late probe's */
        return;
    }
    switch (s->st) {
    case ST_SYNC:
        if (s->sync_tries_used < s->opts.sync_tries) {
            s->sync_tries_used++;
            begin(s, ST_SYNC, out);
            return;
        }
        fail(s, out, FAIL_TIMEOUT,
             "sync: no OK to AT after %u tries of %u ms (expected OK, last received '%s')",
             s->opts.sync_tries, (unsigned)s->opts.sync_ms, quoted_last(s));
        return;
    case ST_DRAIN:
        on_result(s, R_OK, out);
        return;
    case ST_FLUSH:
        start_sync(s, out);
        return;
    case ST_ECHO_OFF: /* echo stays on, and is filtered */
        begin(s, ST_REV, out);
        return;
    case ST_QDOWNLOAD:
        /* Some firmware resets before its OK reaches the host: wait for the download port
         * anyway; a module that ignored the command fails there as a timeout. */
        on_result(s, R_OK, out);
        return;
    default:
        fail(s, out, FAIL_TIMEOUT,
             "%s: %s: no final result within %u ms (expected OK, last "
             "received '%s')",
             stages[s->st].phase, stages[s->st].cmd, (unsigned)s->opts.cmd_ms, quoted_last(s));
    }
}

static void on_rx(struct at_session *s, const uint8_t *data, size_t len, struct proto_request *out)
{
    if (!s->have_rx) {
        s->have_rx = 1;
        s->first_rx_ms = s->ctx->now_ms;
    }
    s->rx_bytes += len;
    for (size_t i = 0; i < len; i++) {
        char c = (char)data[i];
        if (c == '\r' || c == '\n') {
            if (s->line_overflow) {
                s->line_overflow = 0;
                s->line_len = 0;
                continue;
            }
            s->line[s->line_len] = '\0';
            s->line_len = 0;
            if (on_line(s, s->line, out))
                return; /* the rest of this chunk answers no command we sent */
            continue;
        }
        if (s->line_len + 1 >= sizeof(s->line))
            s->line_overflow = 1;
        else
            s->line[s->line_len++] = c;
    }
    if (s->st == ST_FLUSH && (s->rx_bytes > CMD_RX_MAX || s->ctx->now_ms >= s->deadline_ms)) {
        start_sync(s, out); /* enough discarded: probe anyway */
        return;
    }
    if (s->rx_bytes > CMD_RX_MAX) {
        fail(s, out, FAIL_PROTOCOL,
             "%s: %s: more than %d bytes without a final result (last received '%s')",
             stages[s->st].phase, stages[s->st].cmd ? stages[s->st].cmd : "drain", CMD_RX_MAX,
             quoted_last(s));
        return;
    }
    if (s->ctx->now_ms >= s->deadline_ms) {
        on_timeout(s, out);
        return;
    }
    read_more(s, out);
}

/* ---- the driver interface --------------------------------------------------------------- */

void at_session_step(void *session, const struct proto_event *in, struct proto_request *out)
{
    struct at_session *s = session;
    if (s->ended) {
        *out = s->final;
        return;
    }
    switch (in->type) {
    case PROTO_EV_START:
        if (s->opt_err[0]) {
            fail(s, out, FAIL_INTERNAL, "%s", s->opt_err);
            return;
        }
        s->start_vid = s->ctx->link.vid;
        s->start_pid = s->ctx->link.pid;
        s->usb_known = at_usb_lookup(s->start_vid, s->start_pid, NULL, 0, &s->usb) == 0;
        if (s->opts.download && refuse_unswitchable(s, out))
            return;
        begin(s, ST_FLUSH, out);
        return;
    case PROTO_EV_TX_DONE:
        if (s->xs == XS_WRITE) {
            read_more(s, out);
            return;
        }
        break;
    case PROTO_EV_RX:
        if (s->xs == XS_READ && in->len) {
            on_rx(s, in->data, in->len, out);
            return;
        }
        break;
    case PROTO_EV_TIMEOUT:
        if (s->xs == XS_READ || s->xs == XS_WRITE) {
            if (s->xs == XS_WRITE && s->st != ST_SYNC) {
                fail(s, out, FAIL_TIMEOUT, "%s: writing %s took longer than %d ms",
                     stages[s->st].phase, stages[s->st].cmd, T_WRITE);
                return;
            }
            on_timeout(s, out);
            return;
        }
        break;
    case PROTO_EV_ATTACHED:
        /* Also while AT+QDOWNLOAD=1 was still being answered: the module left before its
         * OK (ctx->expect_leave_ms) and the job waited for it. */
        if (s->xs == XS_REENUM || s->st == ST_QDOWNLOAD) {
            const struct proto_link *l = &s->ctx->link;
            if (l->vid == s->start_vid && l->pid == s->start_pid && s->usb_known) {
                fail(s, out, FAIL_REJECTED,
                     "switching: the module came back as %04x:%04x, still in AT mode "
                     "(expected its download port); %s",
                     l->vid, l->pid, s->usb.operator_hint);
                return;
            }
            proto_req_done(out);
            finish(s, out);
            return;
        }
        break;
    case PROTO_EV_WAKE:
        break;
    }
    fail(s, out, FAIL_INTERNAL, "at: unexpected event %s in %s (state %d)",
         proto_event_type_to_string(in->type), stages[s->st].phase, (int)s->xs);
}

int at_session_new(const struct proto_params *params, struct proto_ctx *ctx, void **ret_session)
{
    struct at_session *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->ctx = ctx;
    memset(&ctx->ident, 0, sizeof(ctx->ident));
    ctx->progress.done = ctx->progress.total = 0;
    ctx->progress.phase = stages[ST_SYNC].phase;
    /* Bad options are reported by the first step, with a message. */
    if (at_opts_parse(params ? params->options : NULL, &s->opts, s->opt_err, sizeof(s->opt_err)) <
            0 &&
        !s->opt_err[0])
        snprintf(s->opt_err, sizeof(s->opt_err), "at: bad options");
    *ret_session = s;
    return 0;
}

void at_session_free(void *session)
{
    free(session);
}

static int at_sniff(const uint8_t *data, size_t len)
{
    (void)data;
    (void)len;
    return 0; /* this driver takes no package */
}

static int at_parse(const uint8_t *data, size_t len, void **ret_package, char *err, size_t errlen)
{
    (void)data;
    (void)len;
    *ret_package = NULL;
    snprintf(err, errlen, "the at driver takes no package");
    return -EOPNOTSUPP;
}

static void at_package_free(void *package)
{
    (void)package;
}

const struct proto at_proto = {
    .name = "at",
    .description = "Quectel AT port: identify (model, revision, IMEI, ICCID), AT+QDOWNLOAD=1",
    .transports = PROTO_TRANSPORT_SERIAL | PROTO_TRANSPORT_USB_BULK,
    .usb_ids = at_usb_ids,
    .usb_id_count = AT_USB_ID_COUNT,
    .sniff = at_sniff,
    .parse = at_parse,
    .package_free = at_package_free,
    .session_new = at_session_new,
    .step = at_session_step,
    .session_free = at_session_free,
};
