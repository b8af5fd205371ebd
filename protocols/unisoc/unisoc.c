/* Unisoc host session: runs the plan of unisoc_plan.c one request at a time (protocol.h).
 *
 * Each op is one exchange: write the packet (split for ZLP avoidance on USB), read until a
 * whole reply frame is decoded (LOG frames and stale VERs are skipped), judge it. Data ops
 * repeat the exchange per chunk. Everything the device does wrong ends in FAIL naming the
 * phase, the step and what was expected vs received.
 */
#include "unisoc/unisoc.h"

#include "common/step.h"
#include "package/pkg.h"
#include "unisoc/unisoc_pkg.h"
#include "unisoc/unisoc_plan.h"
#include "unisoc/unisoc_wire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RX_MAX     4096
#define T_WRITE    5000
#define T_SETTLE   100  /* after a baud change, before the next frame */
#define T_LINGER   1000 /* after the reset ACK: closing at once can abort the reset (§4.3) */
#define WRITE_SLOP 64

struct unisoc_session {
    struct proto_ctx *ctx;
    struct unisoc_opts opts;
    struct unisoc_plan plan;
    enum fail_code plan_fail;
    char plan_err[200];
    size_t cur;
    struct proto_step io; /* outstanding request, end latch (common/step.h) */
    size_t off;           /* data ops: offset of the chunk in flight */
    size_t clen;          /* its data bytes (without pad) */
    uint32_t cidx;        /* its index */
    unsigned attempt;     /* silent-timeout retries used on this op */
    unsigned nak_retry;   /* VERIFY_ERROR retries used on this chunk */
    int got_ver;
    uint64_t deadline_ms;
    uint8_t *tx;
    size_t tx_cap;
    uint8_t *scratch; /* padded last chunk */
    size_t seg_off[3], seg_len[3];
    int nseg, seg;
    uint8_t rx[RX_MAX];
    size_t rx_len, rx_off;
    int escaping;
    struct unisoc_pdl_dec pdl;
    struct unisoc_bsl_dec bsl;
};

enum handled { H_DONE, H_SKIP };

static const struct unisoc_op *cur_op(const struct unisoc_session *s)
{
    return &s->plan.ops[s->cur];
}

static void op_start(struct unisoc_session *s, struct proto_request *out);

static void op_next(struct unisoc_session *s, struct proto_request *out)
{
    s->cur++;
    s->attempt = 0;
    s->nak_retry = 0;
    s->off = 0;
    s->cidx = 0;
    op_start(s, out);
}

static int is_download_id(uint16_t vid, uint16_t pid)
{
    return (vid == 0x0525 && pid == 0xa4a7) || (vid == 0x1782 && (pid == 0x4d00 || pid == 0x4d16));
}

/* Starts the write of tx[0..len): PDL sends its 8-byte header apart (§1.3); on USB a packet
 * whose length is a multiple of wMaxPacketSize is sent as (n-1)+1 so no ZLP is needed. */
static void send(struct unisoc_session *s, size_t len, size_t first, struct proto_request *out)
{
    s->nseg = 0;
    if (first && first < len) {
        s->seg_off[s->nseg] = 0;
        s->seg_len[s->nseg++] = first;
    }
    size_t at = s->nseg ? first : 0, rest = len - at;
    uint16_t mp = s->ctx->link.max_packet;
    if (s->ctx->link.kind == PROTO_LINK_USB_BULK && mp && rest > 1 && rest % mp == 0) {
        s->seg_off[s->nseg] = at;
        s->seg_len[s->nseg++] = rest - 1;
        at += rest - 1;
        rest = 1;
    }
    s->seg_off[s->nseg] = at;
    s->seg_len[s->nseg++] = rest;
    s->seg = 0;
    s->io.wait = PROTO_WAIT_WRITE;
    proto_req_write(out, s->tx + s->seg_off[0], s->seg_len[0], T_WRITE);
}

static void fail_op(struct unisoc_session *s, struct proto_request *out, enum fail_code code,
                    const char *detail)
{
    const struct unisoc_op *op = cur_op(s);
    if (op->kind == UNISOC_OP_DATA || op->kind == UNISOC_OP_PDL_DATA)
        proto_req_fail(out, code, "%s: %s chunk %u (offset 0x%zx of %zu): %s", op->phase, op->what,
                       (unsigned)s->cidx, s->off, op->len, detail);
    else
        proto_req_fail(out, code, "%s: %s: %s", op->phase, op->what, detail);
}

static void op_start(struct unisoc_session *s, struct proto_request *out)
{
    if (s->cur >= s->plan.count) {
        proto_req_fail(out, FAIL_INTERNAL, "unisoc: plan ended without re-enumeration");
        return;
    }
    const struct unisoc_op *op = cur_op(s);
    s->ctx->progress.phase = op->phase;
    size_t n = 0, first = 0;
    switch (op->kind) {
    case UNISOC_OP_LINE:
        s->io.wait = PROTO_WAIT_LINE;
        proto_req_set_line(out, op->baud, 1, 1);
        return;
    case UNISOC_OP_REENUM:
        s->io.wait = PROTO_WAIT_DEVICE;
        proto_req_reenumerate(out, op->timeout_ms);
        return;
    case UNISOC_OP_PDL:
    case UNISOC_OP_PDL_EXEC:
        n = unisoc_pdl_encode(s->tx, s->tx_cap, op->pdl_cmd, op->arg1, op->arg2, op->payload,
                              op->plen);
        first = UNISOC_PDL_HDR;
        unisoc_pdl_dec_init(&s->pdl);
        break;
    case UNISOC_OP_PDL_DATA:
        if (s->off >= op->len) {
            op_next(s, out);
            return;
        }
        s->clen = op->len - s->off < op->chunk ? op->len - s->off : op->chunk;
        n = unisoc_pdl_encode(s->tx, s->tx_cap, UNISOC_PDL_MID_DATA, s->cidx, (uint32_t)s->clen,
                              op->data + s->off, s->clen);
        first = UNISOC_PDL_HDR;
        unisoc_pdl_dec_init(&s->pdl);
        break;
    case UNISOC_OP_CHECK_BAUD:
        s->tx[0] = UNISOC_BSL_FLAG;
        n = 1;
        break;
    case UNISOC_OP_CMD:
    case UNISOC_OP_BAUD:
    case UNISOC_OP_TRANSCODE:
        if (op->cmd == UNISOC_CMD_NORMAL_RESET) {
            /* From here a vanishing device is the reset, not a failure (protocol.h). */
            s->ctx->expect_leave_ms = s->opts.reenum_ms;
            s->io.leave_armed = 1;
        }
        n = unisoc_bsl_encode(s->tx, s->tx_cap, op->cmd, op->payload, op->plen, op->check,
                              s->escaping);
        break;
    case UNISOC_OP_DATA: {
        if (s->off >= op->len) {
            op_next(s, out);
            return;
        }
        s->clen = op->len - s->off < op->chunk ? op->len - s->off : op->chunk;
        const uint8_t *p = op->data + s->off;
        size_t plen = s->clen;
        if (op->pad_even && (plen & 1)) {
            memcpy(s->scratch, p, plen);
            s->scratch[plen++] = 0xFF;
            p = s->scratch;
        }
        n = unisoc_bsl_encode(s->tx, s->tx_cap, UNISOC_CMD_MIDST_DATA, p, plen, op->check,
                              s->escaping);
        break;
    }
    }
    if (n == 0) {
        fail_op(s, out, FAIL_INTERNAL, "packet does not fit the transmit buffer");
        return;
    }
    send(s, n, first, out);
}

/* Reads until a reply is decoded or the op's deadline passes. */
static void on_timeout(struct unisoc_session *s, struct proto_request *out);
static enum handled on_bsl(struct unisoc_session *s, const struct unisoc_bsl_frame *f,
                           struct proto_request *out);
static enum handled on_pdl(struct unisoc_session *s, uint32_t status, struct proto_request *out);

static void pump(struct unisoc_session *s, struct proto_request *out)
{
    const struct unisoc_op *op = cur_op(s);
    int pdl = op->kind == UNISOC_OP_PDL || op->kind == UNISOC_OP_PDL_DATA;
    while (s->rx_off < s->rx_len) {
        size_t used = 0;
        enum unisoc_dec_result r;
        uint32_t status = 0;
        struct unisoc_bsl_frame f;
        char msg[160];
        if (pdl)
            r = unisoc_pdl_dec_feed(&s->pdl, s->rx + s->rx_off, s->rx_len - s->rx_off, &used,
                                    &status);
        else
            r = unisoc_bsl_dec_feed(&s->bsl, s->rx + s->rx_off, s->rx_len - s->rx_off, &used, &f);
        s->rx_off += used;
        if (r == UNISOC_DEC_ERROR) {
            snprintf(msg, sizeof(msg), "malformed reply: %s", pdl ? s->pdl.error : s->bsl.error);
            fail_op(s, out, FAIL_PROTOCOL, msg);
            return;
        }
        if (r == UNISOC_DEC_FRAME && (pdl ? on_pdl(s, status, out) : on_bsl(s, &f, out)) == H_DONE)
            return;
    }
    if (pdl && s->pdl.saw_bsl_flag && s->pdl.got == 0) {
        fail_op(s, out, FAIL_NO_MATCH,
                "expected a PDL reply (0xAE), got BSL flags (0x7E): the device is a classic "
                "BSL ROM (UIS8850?), not the UIS8910 PDL ROM this package needs");
        return;
    }
    uint64_t now = s->ctx->now_ms;
    if (now >= s->deadline_ms) {
        on_timeout(s, out);
        return;
    }
    uint64_t left = s->deadline_ms - now;
    s->io.wait = PROTO_WAIT_READ;
    proto_req_read(out, RX_MAX, (uint32_t)(left > UINT32_MAX ? UINT32_MAX : left));
}

static void on_timeout(struct unisoc_session *s, struct proto_request *out)
{
    const struct unisoc_op *op = cur_op(s);
    int pdl = op->kind == UNISOC_OP_PDL || op->kind == UNISOC_OP_PDL_DATA;
    size_t partial = pdl ? s->pdl.got : unisoc_bsl_dec_partial(&s->bsl);
    char msg[200];
    if (partial) {
        snprintf(msg, sizeof(msg),
                 "truncated reply: %zu bytes of a frame, then nothing within %u ms", partial,
                 op->timeout_ms);
        fail_op(s, out, FAIL_PROTOCOL, msg);
        return;
    }
    if (s->attempt + 1 < op->tries) {
        s->attempt++;
        op_start(s, out);
        return;
    }
    uint64_t junk = pdl ? s->pdl.skipped : s->bsl.skipped;
    /* Only the ROM handshake: later, skipped bytes may be a late PDL reply to EXEC. */
    if (op->kind == UNISOC_OP_CHECK_BAUD && op->check == UNISOC_CHECK_CRC16 && junk &&
        !s->got_ver) {
        snprintf(msg, sizeof(msg),
                 "expected a VER frame, got %llu bytes that are not BSL frames (a PDL ROM?)",
                 (unsigned long long)junk);
        fail_op(s, out, FAIL_NO_MATCH, msg);
        return;
    }
    snprintf(msg, sizeof(msg), "expected %s, got no reply within %u ms%s",
             op->kind == UNISOC_OP_CHECK_BAUD ? "VER"
             : pdl                            ? "a PDL ACK"
                                              : "ACK",
             op->timeout_ms, op->tries > 1 ? " (every try)" : "");
    fail_op(s, out, FAIL_TIMEOUT, msg);
}

static void copy_printable(char *dst, size_t cap, const uint8_t *p, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < cap && p[i]; i++)
        dst[k++] = p[i] >= 0x20 && p[i] < 0x7F ? (char)p[i] : '?';
    dst[k] = '\0';
}

static enum handled on_bsl(struct unisoc_session *s, const struct unisoc_bsl_frame *f,
                           struct proto_request *out)
{
    const struct unisoc_op *op = cur_op(s);
    char msg[200];
    int ok = op->check == UNISOC_CHECK_CRC16 ? f->crc_ok : f->sum_ok;
    if (!ok) {
        if (op->kind == UNISOC_OP_CHECK_BAUD && op->check == UNISOC_CHECK_CRC16 && f->sum_ok)
            snprintf(msg, sizeof(msg),
                     "VER carries the FDL sum, not the ROM CRC: an FDL is already running "
                     "(power-cycle the module into download mode)");
        else
            snprintf(msg, sizeof(msg), "reply 0x%02x (%s) has a bad %s check value", f->type,
                     unisoc_rep_name(f->type),
                     op->check == UNISOC_CHECK_CRC16 ? "CRC-16" : "FDL sum");
        fail_op(s, out, FAIL_PROTOCOL, msg);
        return H_DONE;
    }
    if (f->type == UNISOC_REP_LOG)
        return H_SKIP; /* free-text log an FDL may send at any time (§3.2) */
    if (op->kind == UNISOC_OP_CHECK_BAUD) {
        if (f->type != UNISOC_REP_VER) {
            snprintf(msg, sizeof(msg), "expected VER (0x81), got 0x%02x (%s)", f->type,
                     unisoc_rep_name(f->type));
            fail_op(s, out, unisoc_rep_is_nak(f->type) ? FAIL_REJECTED : FAIL_PROTOCOL, msg);
            return H_DONE;
        }
        char ver[64];
        copy_printable(ver, sizeof(ver), f->payload, f->len);
        if (!s->got_ver) {
            snprintf(s->ctx->ident.revision, sizeof(s->ctx->ident.revision), "%s", ver);
            if (s->opts.ver[0] && !strstr(ver, s->opts.ver)) {
                snprintf(msg, sizeof(msg), "expected a VER containing '%s', got '%s'", s->opts.ver,
                         ver);
                fail_op(s, out, FAIL_NO_MATCH, msg);
                return H_DONE;
            }
        }
        s->got_ver = 1;
        op_next(s, out);
        return H_DONE;
    }
    if (f->type == UNISOC_REP_VER)
        return H_SKIP; /* a late answer to a repeated check-baud */
    int ack = f->type == UNISOC_REP_ACK || (f->type == UNISOC_REP_INCOMPATIBLE_PARTITION &&
                                            (op->flags & UNISOC_OPF_ALLOW_INCOMPAT));
    if (ack) {
        if (op->kind == UNISOC_OP_DATA) {
            s->ctx->progress.done += s->clen;
            s->off += s->clen;
            s->cidx++;
            s->nak_retry = 0;
            s->attempt = 0;
            op_start(s, out);
        } else if (op->kind == UNISOC_OP_BAUD) {
            s->io.wait = PROTO_WAIT_LINE;
            proto_req_set_line(out, op->baud, 1, 1);
        } else if (op->cmd == UNISOC_CMD_NORMAL_RESET) {
            s->io.wait = PROTO_WAIT_TIMER; /* keep the port open a moment, then REENUMERATE */
            proto_req_wait(out, T_LINGER);
        } else {
            if (op->kind == UNISOC_OP_TRANSCODE) {
                s->escaping = 0;
                unisoc_bsl_dec_set_escaping(&s->bsl, 0);
            }
            op_next(s, out);
        }
        return H_DONE;
    }
    if (op->kind == UNISOC_OP_BAUD && f->type == UNISOC_REP_NOT_SUPPORT_BAUDRATE) {
        op_next(s, out); /* keep the current speed (README: baud) */
        return H_DONE;
    }
    if (op->kind == UNISOC_OP_DATA && f->type == UNISOC_REP_VERIFY_ERROR && !s->nak_retry) {
        s->nak_retry = 1; /* DLoader resends a MIDST once after VERIFY_ERROR (§7) */
        s->rx_off = s->rx_len;
        op_start(s, out);
        return H_DONE;
    }
    snprintf(msg, sizeof(msg), "expected ACK (0x80), got 0x%02x (%s)%s", f->type,
             unisoc_rep_name(f->type),
             f->type == UNISOC_REP_VERIFY_ERROR && op->kind == UNISOC_OP_DATA ? " twice" : "");
    fail_op(s, out, unisoc_rep_is_nak(f->type) ? FAIL_REJECTED : FAIL_PROTOCOL, msg);
    return H_DONE;
}

static enum handled on_pdl(struct unisoc_session *s, uint32_t status, struct proto_request *out)
{
    const struct unisoc_op *op = cur_op(s);
    if (status != 0) {
        char msg[120];
        snprintf(msg, sizeof(msg), "expected PDL status 0 (ACK), got %u (%s)", status,
                 unisoc_pdl_status_name(status));
        fail_op(s, out, FAIL_REJECTED, msg);
        return H_DONE;
    }
    if (op->kind == UNISOC_OP_PDL_DATA) {
        s->ctx->progress.done += s->clen;
        s->off += s->clen;
        s->cidx++;
        op_start(s, out);
    } else {
        op_next(s, out);
    }
    return H_DONE;
}

static void on_written(struct unisoc_session *s, struct proto_request *out)
{
    if (++s->seg < s->nseg) {
        proto_req_write(out, s->tx + s->seg_off[s->seg], s->seg_len[s->seg], T_WRITE);
        return;
    }
    const struct unisoc_op *op = cur_op(s);
    if (op->kind == UNISOC_OP_PDL_EXEC) {
        /* No reply: FDL1 starts and will speak BSL with the sum (§4.1 step 5). */
        op_next(s, out);
        return;
    }
    s->deadline_ms = s->ctx->now_ms + op->timeout_ms;
    pump(s, out);
}

static void begin(struct unisoc_session *s, struct proto_request *out)
{
    if (s->plan_fail != FAIL_NONE) {
        proto_req_fail(out, s->plan_fail, "%s: %s",
                       s->plan_fail == FAIL_PACKAGE ? "package" : "setup", s->plan_err);
        return;
    }
    const struct proto_link *l = &s->ctx->link;
    int is8910 = s->plan.chip == UNISOC_CHIP_8910;
    snprintf(s->ctx->ident.chip, sizeof(s->ctx->ident.chip), "%s",
             is8910             ? "UIS8910DM"
             : l->pid == 0x4d16 ? "UIS8850"
                                : "SPRD classic");
    if ((is8910 && l->vid == 0x1782 && l->pid == 0x4d16) ||
        (!is8910 && l->vid == 0x0525 && l->pid == 0xa4a7)) {
        proto_req_fail(out, FAIL_NO_MATCH,
                       "handshake: the package is for %s but the device is %04x:%04x (%s)",
                       is8910 ? "UIS8910DM (PDL ROM, HOST_FDL)" : "a classic BSL ROM (FDL)", l->vid,
                       l->pid, is8910 ? "UIS8850 download port" : "UIS8910 download port");
        return;
    }
    s->ctx->progress.total = s->plan.total_bytes;
    s->ctx->progress.done = 0;
    op_start(s, out);
}

static void on_attached(struct unisoc_session *s, struct proto_request *out)
{
    const struct proto_link *l = &s->ctx->link;
    if (is_download_id(l->vid, l->pid)) {
        proto_req_fail(out, FAIL_VERIFY,
                       "reenumerate: after NORMAL_RESET the module came back as %04x:%04x, still "
                       "in download mode",
                       l->vid, l->pid);
        return;
    }
    s->ctx->progress.phase = "done";
    proto_req_done(out);
}

static void on_line_set(void *session, struct proto_request *out)
{
    struct unisoc_session *s = session;
    if (cur_op(s)->kind == UNISOC_OP_BAUD) {
        s->io.wait = PROTO_WAIT_TIMER;
        proto_req_wait(out, T_SETTLE);
    } else {
        op_next(s, out);
    }
}

static size_t rx_room(void *session)
{
    (void)session;
    return RX_MAX;
}

static void on_received(void *session, const uint8_t *data, size_t len, struct proto_request *out)
{
    struct unisoc_session *s = session;
    if (len)
        memcpy(s->rx, data, len);
    s->rx_len = len;
    s->rx_off = 0;
    pump(s, out);
}

static void on_write_timeout(void *session, struct proto_request *out)
{
    fail_op(session, out, FAIL_TIMEOUT, "the write did not complete in time");
}

static void on_woke(void *session, struct proto_request *out)
{
    op_next(session, out);
}

static void on_start_cb(void *session, struct proto_request *out)
{
    begin(session, out);
}

static void on_written_cb(void *session, struct proto_request *out)
{
    on_written(session, out);
}

static void on_read_timeout_cb(void *session, struct proto_request *out)
{
    on_timeout(session, out);
}

static void on_attached_cb(void *session, struct proto_request *out)
{
    on_attached(session, out);
}

static const struct proto_step_ops step_ops = {
    .driver = "unisoc",
    .start = on_start_cb,
    .written = on_written_cb,
    .line_set = on_line_set,
    .rx_room = rx_room,
    .received = on_received,
    .read_timeout = on_read_timeout_cb,
    .write_timeout = on_write_timeout,
    .woke = on_woke,
    .attached = on_attached_cb,
};

void unisoc_session_step(void *session, const struct proto_event *in, struct proto_request *out)
{
    struct unisoc_session *s = session;
    proto_step_run(&s->io, &step_ops, s, in, out);
}

int unisoc_session_new(const struct proto_params *params, struct proto_ctx *ctx, void **ret_session)
{
    const struct pkg *pkg = params ? params->package : NULL;
    if (!pkg || pkg->parsed_kind != PKG_PARSED_PAC || !pkg->parsed || !ctx)
        return -EINVAL;
    struct unisoc_session *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->ctx = ctx;
    s->escaping = 1;
    unisoc_bsl_dec_init(&s->bsl, 1);
    unisoc_pdl_dec_init(&s->pdl);
    /* Bad options and unusable packages are reported by the first step, with a message. */
    if (unisoc_opts_parse(params->options, &s->opts, s->plan_err, sizeof(s->plan_err)) < 0)
        s->plan_fail = FAIL_INTERNAL;
    else
        s->plan_fail = unisoc_plan_build(&s->plan, pkg->parsed, &s->opts, ctx->link.kind,
                                         s->plan_err, sizeof(s->plan_err));
    size_t chunk = s->opts.chunk > 0x840 ? s->opts.chunk : 0x840;
    s->tx_cap = unisoc_bsl_encoded_max(chunk + 2) + WRITE_SLOP;
    s->tx = malloc(s->tx_cap);
    s->scratch = malloc(chunk + 2);
    if (!s->tx || !s->scratch) {
        unisoc_session_free(s);
        return -ENOMEM;
    }
    *ret_session = s;
    return 0;
}

void unisoc_session_free(void *session)
{
    struct unisoc_session *s = session;
    if (!s)
        return;
    unisoc_plan_free(&s->plan);
    free(s->tx);
    free(s->scratch);
    free(s);
}

static const struct proto_usb_id unisoc_usb_ids[] = {
    {0x0525, 0xa4a7, 1, PROTO_TRANSPORT_USB_BULK | PROTO_TRANSPORT_SERIAL,
     "UIS8910DM download port (CDC-ACM data interface)"},
    {0x1782, 0x4d00, 0, PROTO_TRANSPORT_USB_BULK | PROTO_TRANSPORT_SERIAL,
     "SPRD BootROM download port"},
    {0x1782, 0x4d16, -1, PROTO_TRANSPORT_USB_BULK | PROTO_TRANSPORT_SERIAL,
     "UIS8850 download port"},
};

const struct proto unisoc_proto = {
    .name = "unisoc",
    .description = "Unisoc UIS8910DM / UIS8850 download (PDL, BSL, PAC)",
    .transports = PROTO_TRANSPORT_USB_BULK | PROTO_TRANSPORT_SERIAL,
    .usb_ids = unisoc_usb_ids,
    .usb_id_count = sizeof(unisoc_usb_ids) / sizeof(unisoc_usb_ids[0]),
    .sniff = unisoc_pac_sniff,
    .parse = unisoc_pkg_hook_parse,
    .package_free = unisoc_pkg_hook_free,
    .session_new = unisoc_session_new,
    .step = unisoc_session_step,
    .session_free = unisoc_session_free,
};
