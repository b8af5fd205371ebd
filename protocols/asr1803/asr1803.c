/* ASR1803 (EC200A) WTPTP host session: one request at a time (protocol.h), driven by what
 * the device asks for (SELECTIMAGE), with the images of asr1803_plan.c.
 *
 * Every exchange is: write one command, read until one whole status is decoded, judge it
 * (echoed CMD/SEQ/CID, STATUS, the data the step needs). Fast-mode image data is written raw
 * in pieces and judged by one DATA status at its end. Anything the device does wrong ends
 * in FAIL naming the stage, the step, the image and what was expected vs received.
 */
#include "asr1803/asr1803.h"

#include "asr/asr1803_pkg.h"
#include "asr1803/asr1803_session.h"
#include "package/pkg.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int asr1803_is_download_id(uint16_t vid, uint16_t pid)
{
    return vid == 0x2ecc && (pid == 0x3001 || pid == 0x3002);
}

const char *asr1803_stage_name(const struct asr1803_session *s)
{
    return s->stage == ASR1803_STAGE_ROM ? "boot ROM" : "bootloader";
}

void asr1803_fail(struct asr1803_session *s, struct proto_request *out, enum fail_code code,
                  const char *fmt, ...)
{
    char detail[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    const char *phase = s->ctx->progress.phase ? s->ctx->progress.phase : "start";
    if (s->im && s->step >= ST_VERIFY && s->step <= ST_DONE)
        proto_req_fail(out, code, "%s: %s %s image %s (offset %zu of %zu): %s", phase,
                       asr1803_stage_name(s), wtptp_cmd_name(s->want_cmd), s->im->name, s->off,
                       s->im->len, detail);
    else
        proto_req_fail(out, code, "%s: %s %s: %s", phase, asr1803_stage_name(s),
                       s->step == ST_PREAMBLE ? "PREAMBLE" : wtptp_cmd_name(s->want_cmd), detail);
}

static void add_done(struct asr1803_session *s, size_t n)
{
    struct proto_progress *p = &s->ctx->progress;
    p->done += n;
    if (p->done > p->total)
        p->total = p->done;
}

static void on_timeout(struct asr1803_session *s, struct proto_request *out);

/* Writes one command and remembers what its status must echo. */
static void send_cmd(struct asr1803_session *s, struct proto_request *out, enum asr1803_step step,
                     uint8_t cmd, uint8_t flags, const uint8_t *data, uint32_t len,
                     uint32_t timeout_ms)
{
    uint8_t seq = 0;
    if (cmd == WTPTP_DATAHEADER || cmd == WTPTP_DATA)
        seq = ++s->seq;
    size_t n = wtptp_encode(s->tx, s->tx_cap, cmd, seq, 0, flags, data, len);
    s->step = step;
    s->want_cmd = cmd;
    s->want_seq = seq;
    s->want_cid = 0;
    s->timeout_ms = timeout_ms;
    if (n == 0) {
        asr1803_fail(s, out, FAIL_INTERNAL, "command does not fit the transmit buffer");
        return;
    }
    wtptp_dec_init(&s->dec, 0);
    s->io.wait = PROTO_WAIT_WRITE;
    proto_req_write(out, s->tx, n, s->opts.status_ms);
}

void asr1803_send_message(struct asr1803_session *s, struct proto_request *out,
                          enum asr1803_step step)
{
    send_cmd(s, out, step, WTPTP_MESSAGE, 0, NULL, 0, s->opts.status_ms);
}

void asr1803_send_preamble(struct asr1803_session *s, struct proto_request *out)
{
    s->ctx->progress.phase = "handshake";
    s->step = ST_PREAMBLE;
    s->want_cmd = WTPTP_PREAMBLE;
    s->seq = 0;
    s->timeout_ms = s->opts.status_ms;
    memcpy(s->tx, wtptp_preamble, WTPTP_PREAMBLE_LEN);
    wtptp_dec_init(&s->dec, 1);
    s->io.wait = PROTO_WAIT_WRITE;
    proto_req_write(out, s->tx, WTPTP_PREAMBLE_LEN, s->opts.status_ms);
}

static size_t slow_chunk(const struct asr1803_session *s)
{
    size_t c = s->burst_left < s->opts.chunk ? s->burst_left : s->opts.chunk;
    return c < s->im->len - s->off ? c : s->im->len - s->off;
}

/* Issues the command of `step`; a message the last status flagged is drained first. */
void asr1803_issue(struct asr1803_session *s, struct proto_request *out, enum asr1803_step step)
{
    if (s->drains && step != ST_MSG)
        s->drains = 0;
    switch (step) {
    case ST_GETVERSION:
        send_cmd(s, out, step, WTPTP_GETVERSION, 0, NULL, 0, s->opts.status_ms);
        return;
    case ST_SELECT:
        s->im = NULL;
        send_cmd(s, out, step, WTPTP_SELECTIMAGE, 0, NULL, 0, s->opts.status_ms);
        return;
    case ST_VERIFY: {
        static const uint8_t ack = 0; /* "host has this image" */
        send_cmd(s, out, step, WTPTP_VERIFYIMAGE, 0, &ack, 1, s->opts.status_ms);
        return;
    }
    case ST_DATAHEADER: {
        uint8_t rem[4];
        uint32_t left = (uint32_t)(s->im->len - s->off);
        for (int k = 0; k < 4; k++)
            rem[k] = (uint8_t)(left >> (8 * k));
        send_cmd(s, out, step, WTPTP_DATAHEADER, s->opts.fast ? WTPTP_FLAG_FAST : 0, rem, 4,
                 s->opts.status_ms);
        return;
    }
    case ST_DATA:
        s->clen = slow_chunk(s);
        send_cmd(s, out, step, WTPTP_DATA, 0, s->im->data + s->off, (uint32_t)s->clen,
                 s->opts.data_ms);
        return;
    case ST_DONE:
        send_cmd(s, out, step, WTPTP_DONE, 0, NULL, 0, s->opts.data_ms);
        return;
    case ST_DISCONNECT:
        /* The device resets or re-enumerates after this: its leaving is expected. */
        s->ctx->expect_leave_ms = s->opts.reenum_ms;
        s->io.leave_armed = 1;
        send_cmd(s, out, step, WTPTP_DISCONNECT, 0, NULL, 0, s->opts.status_ms);
        return;
    case ST_READY:
    case ST_FINAL:
        s->poll_deadline_ms = s->ctx->now_ms + s->opts.ready_ms;
        s->saw_ready = 0;
        asr1803_send_message(s, out, step);
        return;
    default:
        asr1803_fail(s, out, FAIL_INTERNAL, "asr1803: no command for step %d", (int)step);
        return;
    }
}

/* Issues step, draining a flagged message first (§3.1 FLAGS bit0). */
void asr1803_next(struct asr1803_session *s, struct proto_request *out, int pending,
                  enum asr1803_step step)
{
    if (pending && step != ST_READY && step != ST_FINAL) {
        s->resume = step;
        asr1803_send_message(s, out, ST_MSG);
        return;
    }
    asr1803_issue(s, out, step);
}

static void write_raw(struct asr1803_session *s, struct proto_request *out)
{
    size_t left = s->im->len - s->off;
    size_t n = left < s->buf ? left : s->buf;
    if (n > ASR1803_RAW_PIECE_MAX)
        n = ASR1803_RAW_PIECE_MAX;
    s->clen = n;
    s->step = ST_RAW;
    s->io.wait = PROTO_WAIT_WRITE;
    proto_req_write(out, s->im->data + s->off, n, s->opts.data_ms);
}

static void on_status(struct asr1803_session *s, const struct wtptp_status *st,
                      struct proto_request *out)
{
    if (s->step == ST_PREAMBLE) {
        /* §3.2: CMD SEQ CID STATUS; a UART-style echo of the preamble is accepted too. */
        int echo = st->cmd == 0 && st->seq == 0xD3 && st->cid == 0x02 && st->status == 0x2B;
        if (st->cmd != 0 || (!echo && st->status != WTPTP_ACK)) {
            asr1803_fail(s, out, st->status == WTPTP_NACK ? FAIL_REJECTED : FAIL_PROTOCOL,
                         "expected the preamble reply 00 xx xx 00, got %02x %02x %02x %02x",
                         st->cmd, st->seq, st->cid, st->status);
            return;
        }
        s->seq = 0;
        /* The 4-byte reply has no FLAGS: ask once, as QDloader does (§3.4 step 1). */
        asr1803_next(s, out, 1, ST_GETVERSION);
        return;
    }
    if (s->step == ST_NACKMSG) {
        uint8_t type = 0;
        uint32_t code = 0;
        int have = st->cmd == WTPTP_MESSAGE && st->status == WTPTP_ACK &&
                   wtptp_parse_message(st->data, st->dlen, &type, &code) == 0 &&
                   type == WTPTP_MSG_ERROR;
        s->step = s->nack_step;
        s->want_cmd = s->nack_cmd;
        if (have)
            asr1803_fail(s, out, FAIL_REJECTED, "expected ACK, got NACK, error 0x%02x (%s)", code,
                         wtptp_error_name(code));
        else
            asr1803_fail(s, out, FAIL_REJECTED, "expected ACK, got NACK (no error report)");
        return;
    }
    int fastend = s->step == ST_FASTEND;
    if (st->cmd != s->want_cmd ||
        (!fastend && (st->seq != s->want_seq || st->cid != s->want_cid))) {
        asr1803_fail(s, out, FAIL_PROTOCOL,
                     "expected the status of %s (seq %u, cid %u), got %s (0x%02x) seq %u cid %u",
                     wtptp_cmd_name(s->want_cmd), s->want_seq, s->want_cid, wtptp_cmd_name(st->cmd),
                     st->cmd, st->seq, st->cid);
        return;
    }
    if (st->status != WTPTP_ACK) {
        uint32_t code = st->dlen == 1 ? st->data[0] : st->dlen >= 4 ? wtptp_le32(st->data) : 0;
        if (st->status == WTPTP_NACK && !st->dlen && (st->flags & WTPTP_FLAG_MSG_PENDING) &&
            s->step != ST_MSG && s->step != ST_READY && s->step != ST_FINAL) {
            /* The reason travels as an error report (§3.1 MESSAGE type 1): fetch it. */
            s->nack_step = s->step;
            s->nack_cmd = s->want_cmd;
            asr1803_send_message(s, out, ST_NACKMSG);
            return;
        }
        if (st->status == WTPTP_NACK)
            asr1803_fail(s, out, FAIL_REJECTED, "expected ACK, got NACK%s%s", st->dlen ? ": " : "",
                         st->dlen ? wtptp_error_name(code) : "");
        else
            asr1803_fail(s, out, FAIL_PROTOCOL, "expected ACK, got status %u (%s)", st->status,
                         wtptp_status_name(st->status));
        return;
    }
    int pending = st->flags & WTPTP_FLAG_MSG_PENDING;
    switch (s->step) {
    case ST_MSG:
        if (asr1803_on_message(s, st, out) < 0)
            return;
        if (pending && ++s->drains > ASR1803_DRAIN_MAX) {
            asr1803_fail(s, out, FAIL_PROTOCOL, "more than %d messages in a row",
                         ASR1803_DRAIN_MAX);
            return;
        }
        asr1803_next(s, out, pending, s->resume);
        return;
    case ST_GETVERSION:
        asr1803_on_getversion(s, st, out);
        return;
    case ST_SELECT:
        asr1803_on_select(s, st, out);
        return;
    case ST_VERIFY:
        asr1803_next(s, out, pending, s->im->len ? ST_DATAHEADER : ST_DONE);
        return;
    case ST_DATAHEADER:
        if (st->dlen != 4) {
            asr1803_fail(s, out, FAIL_PROTOCOL, "expected a 4-byte buffer size, got %u bytes",
                         st->dlen);
            return;
        }
        s->buf = wtptp_le32(st->data);
        if (s->buf == 0) {
            asr1803_fail(s, out, FAIL_PROTOCOL, "device grants a 0-byte buffer");
            return;
        }
        s->fast = s->opts.fast && (st->flags & WTPTP_FLAG_FAST);
        if (s->fast) {
            write_raw(s, out);
            return;
        }
        s->burst_left = s->buf;
        asr1803_next(s, out, pending, ST_DATA);
        return;
    case ST_DATA:
        add_done(s, s->clen);
        s->off += s->clen;
        s->burst_left -= s->clen;
        asr1803_next(s, out, pending,
                     s->off >= s->im->len ? ST_DONE
                     : s->burst_left      ? ST_DATA
                                          : ST_DATAHEADER);
        return;
    case ST_FASTEND:
        asr1803_next(s, out, pending, ST_DONE);
        return;
    case ST_DONE:
        asr1803_on_image_done(s, pending, out);
        return;
    case ST_READY:
    case ST_FINAL:
        asr1803_on_poll(s, st, out);
        return;
    case ST_DISCONNECT:
        s->io.wait = PROTO_WAIT_DEVICE;
        if (s->stage == ASR1803_STAGE_BL && !s->opts.reboot_check) {
            s->ctx->progress.phase = "done";
            s->ctx->progress.total = s->ctx->progress.done;
            proto_req_done(out);
            return;
        }
        s->ctx->progress.phase = "reenumerate";
        proto_req_reenumerate(out, s->opts.reenum_ms);
        return;
    default:
        asr1803_fail(s, out, FAIL_INTERNAL, "asr1803: status in step %d", (int)s->step);
        return;
    }
}

static void read_status(struct asr1803_session *s, struct proto_request *out)
{
    while (s->rx_off < s->rx_len) {
        size_t used = 0;
        struct wtptp_status st;
        enum wtptp_dec_result r =
            wtptp_dec_feed(&s->dec, s->rx + s->rx_off, s->rx_len - s->rx_off, &used, &st);
        s->rx_off += used;
        if (r != WTPTP_DEC_STATUS)
            break;
        size_t extra = s->rx_len - s->rx_off;
        /* A 6-byte preamble status (FLAGS, DLEN 0) in one transfer: the §3.2 alternative. */
        if (s->step == ST_PREAMBLE && extra == 2 && s->rx[s->rx_off + 1] == 0)
            extra = 0;
        if (extra) {
            asr1803_fail(s, out, FAIL_PROTOCOL, "%zu unexpected bytes after the status", extra);
            return;
        }
        s->rx_off = s->rx_len = 0;
        on_status(s, &st, out);
        return;
    }
    uint64_t now = s->ctx->now_ms;
    if (now >= s->deadline_ms) {
        on_timeout(s, out);
        return;
    }
    uint64_t left = s->deadline_ms - now;
    s->io.wait = PROTO_WAIT_READ;
    proto_req_read(out, ASR1803_RX_MAX, (uint32_t)(left > UINT32_MAX ? UINT32_MAX : left));
}

static void on_timeout(struct asr1803_session *s, struct proto_request *out)
{
    size_t partial = wtptp_dec_partial(&s->dec);
    if (partial) {
        asr1803_fail(s, out, FAIL_PROTOCOL,
                     "truncated reply: %zu bytes of a status, then nothing within %u ms", partial,
                     s->timeout_ms);
        return;
    }
    if (s->step == ST_PREAMBLE && ++s->tries < ASR1803_PREAMBLE_TRY) {
        asr1803_send_preamble(s, out);
        return;
    }
    if (s->step == ST_DISCONNECT) {
        /* The module may reset without answering; whether it comes back decides. */
        s->io.wait = PROTO_WAIT_DEVICE;
        s->ctx->progress.phase = "reenumerate";
        proto_req_reenumerate(out, s->opts.reenum_ms);
        return;
    }
    asr1803_fail(s, out, FAIL_TIMEOUT, "expected a status, got no reply within %u ms%s",
                 s->timeout_ms, s->step == ST_PREAMBLE ? " (every try)" : "");
}

static void on_written(struct asr1803_session *s, struct proto_request *out)
{
    if (s->step == ST_RAW) {
        add_done(s, s->clen);
        s->off += s->clen;
        if (s->off < s->im->len) {
            write_raw(s, out);
            return;
        }
        s->step = ST_FASTEND;
        s->want_cmd = WTPTP_DATA;
        s->timeout_ms = s->opts.data_ms;
        wtptp_dec_init(&s->dec, 0);
    }
    s->deadline_ms = s->ctx->now_ms + s->timeout_ms;
    s->rx_off = s->rx_len = 0;
    read_status(s, out);
}

static void begin(struct asr1803_session *s, struct proto_request *out)
{
    if (s->plan_fail != FAIL_NONE) {
        proto_req_fail(out, s->plan_fail, "%s: %s",
                       s->plan_fail == FAIL_PACKAGE ? "package" : "setup", s->plan_err);
        return;
    }
    snprintf(s->ctx->ident.chip, sizeof(s->ctx->ident.chip), "ASR1803");
    s->ctx->progress.done = 0;
    s->ctx->progress.total = s->plan.stage[ASR1803_STAGE_BL].bytes;
    s->stage = ASR1803_STAGE_ROM;
    asr1803_send_preamble(s, out);
}

static void on_start_cb(void *session, struct proto_request *out)
{
    begin(session, out);
}

static void on_written_cb(void *session, struct proto_request *out)
{
    on_written(session, out);
}

static size_t rx_room(void *session)
{
    (void)session;
    return ASR1803_RX_MAX;
}

static void on_received(void *session, const uint8_t *data, size_t len, struct proto_request *out)
{
    struct asr1803_session *s = session;
    if (len)
        memcpy(s->rx, data, len);
    s->rx_len = len;
    s->rx_off = 0;
    read_status(s, out);
}

static void on_read_timeout(void *session, struct proto_request *out)
{
    on_timeout(session, out);
}

static void on_write_timeout(void *session, struct proto_request *out)
{
    asr1803_fail(session, out, FAIL_TIMEOUT, "the write did not complete in time");
}

static void on_woke(void *session, struct proto_request *out)
{
    struct asr1803_session *s = session;
    asr1803_send_message(s, out, s->step);
}

/* After DISCONNECT the job may report the device back in place of its answer. */
static void on_attached_cb(void *session, struct proto_request *out)
{
    asr1803_on_attached(session, out);
}

static const struct proto_step_ops step_ops = {
    .driver = "asr1803",
    .start = on_start_cb,
    .written = on_written_cb,
    .rx_room = rx_room,
    .received = on_received,
    .read_timeout = on_read_timeout,
    .write_timeout = on_write_timeout,
    .woke = on_woke,
    .attached = on_attached_cb,
};

void asr1803_session_step(void *session, const struct proto_event *in, struct proto_request *out)
{
    struct asr1803_session *s = session;
    proto_step_run(&s->io, &step_ops, s, in, out);
}

int asr1803_session_new(const struct proto_params *params, struct proto_ctx *ctx,
                        void **ret_session)
{
    const struct pkg *pkg = params ? params->package : NULL;
    if (!pkg || !pkg->parsed || !ctx ||
        (pkg->parsed_kind != PKG_PARSED_FBF && pkg->parsed_kind != PKG_PARSED_BLF))
        return -EINVAL;
    struct asr1803_session *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->ctx = ctx;
    /* Bad options and unusable packages are reported by the first step, with a message. */
    if (asr1803_opts_parse(params->options, &s->opts, s->plan_err, sizeof(s->plan_err)) < 0)
        s->plan_fail = FAIL_INTERNAL;
    else
        s->plan_fail = asr1803_plan_build(&s->plan, pkg, s->plan_err, sizeof(s->plan_err));
    s->tx_cap = WTPTP_CMD_HDR + WTPTP_DATA_MAX;
    s->tx = malloc(s->tx_cap);
    if (!s->tx) {
        asr1803_session_free(s);
        return -ENOMEM;
    }
    *ret_session = s;
    return 0;
}

void asr1803_session_free(void *session)
{
    struct asr1803_session *s = session;
    if (!s)
        return;
    asr1803_plan_free(&s->plan);
    free(s->tx);
    free(s);
}

static int asr1803_sniff(const uint8_t *data, size_t len)
{
    return asr1803_fbf_sniff(data, len) || asr1803_blf_sniff(data, len);
}

static const struct proto_usb_id asr1803_usb_ids[] = {
    {0x2ecc, 0x3002, 0, PROTO_TRANSPORT_USB_BULK, "EC200A (ASR1803) boot-ROM download port"},
    {0x2ecc, 0x3001, 0, PROTO_TRANSPORT_USB_BULK, "EC200A (ASR1803) DKB/bootloader download port"},
};

const struct proto asr1803_proto = {
    .name = "asr1803",
    .description = "ASR1803 (EC200A) WTPTP download (BLF / FBF)",
    .transports = PROTO_TRANSPORT_USB_BULK,
    .usb_ids = asr1803_usb_ids,
    .usb_id_count = sizeof(asr1803_usb_ids) / sizeof(asr1803_usb_ids[0]),
    .sniff = asr1803_sniff,
    .parse = asr1803_pkg_hook_parse,
    .package_free = asr1803_pkg_hook_free,
    .session_new = asr1803_session_new,
    .step = asr1803_session_step,
    .session_free = asr1803_session_free,
};
