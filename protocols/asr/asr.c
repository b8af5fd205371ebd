/* ASR Crane host session: runs the plan of asr_plan.c one request at a time (protocol.h).
 *
 * Each op is one exchange: write a SMUX frame (handshake frames are resent every 100 ms),
 * read until a final aboot reply is decoded (heartbeats, INFO lines and device logs are
 * skipped), judge it. Downloads add a data phase (ABOOT_DATA frames of at most the MTU,
 * batched per write); flash ops repeat download + flash:<p> per sparse segment. Everything
 * the device does wrong ends in FAIL naming the phase, the step and what was expected vs
 * received.
 */
#include "asr/asr.h"

#include "asr/asr_pkg.h"
#include "asr/asr_session.h"
#include "asr/asr_wire.h"
#include "package/pkg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct asr_op *asr_sess_op(const struct asr_session *s)
{
    return &s->plan.ops[s->cur];
}

void asr_sess_op_next(struct asr_session *s, struct proto_request *out)
{
    s->cur++;
    s->started = 0;
    s->sub = SUB_CMD;
    asr_sess_op_start(s, out);
}

int asr_sess_is_download_id(uint16_t vid, uint16_t pid)
{
    return vid == 0x2ecc && (pid == 0x3004 || pid == 0x3017);
}

void asr_sess_fail(struct asr_session *s, struct proto_request *out, enum fail_code code,
                   const char *detail)
{
    const struct asr_op *op = asr_sess_op(s);
    if (op->kind == ASR_OP_FLASH)
        proto_req_fail(out, code, "%s: %s segment %u/%u: %s", op->phase, op->what, s->seg + 1,
                       s->nseg, detail);
    else
        proto_req_fail(out, code, "%s: %s: %s", op->phase, op->what, detail);
}

/* Writes tx[0..len); on USB a write that is a multiple of wMaxPacketSize gets one more 0x7E
 * (an empty frame, ignored by the device) so it never waits for a ZLP (§1.1). */
static void send_tx(struct asr_session *s, size_t len, struct proto_request *out)
{
    uint16_t mp = s->ctx->link.max_packet;
    if (s->ctx->link.kind == PROTO_LINK_USB_BULK && mp && len % mp == 0)
        s->tx[len++] = ASR_SMUX_FLAG;
    s->io.wait = PROTO_WAIT_WRITE;
    proto_req_write(out, s->tx, len, ASR_T_WRITE);
}

static void send_frame(struct asr_session *s, enum asr_smux_type type, const uint8_t *p, size_t n,
                       struct proto_request *out)
{
    size_t len = asr_smux_encode(s->tx, sizeof(s->tx) - 1, type, p, n);
    if (!len) {
        asr_sess_fail(s, out, FAIL_INTERNAL, "frame does not fit the transmit buffer");
        return;
    }
    send_tx(s, len, out);
}

void asr_sess_send_cmd(struct asr_session *s, const char *text, struct proto_request *out)
{
    snprintf(s->cmd, sizeof(s->cmd), "%s", text);
    send_frame(s, ASR_SMUX_ABOOT_CMD, (const uint8_t *)s->cmd, strlen(s->cmd), out);
}

static void send_download(struct asr_session *s, struct proto_request *out)
{
    char c[24];
    s->src_len = asr_src_len(&s->src);
    s->src_off = 0;
    if (s->src_len > s->maxdl) {
        char msg[160];
        snprintf(msg, sizeof(msg), "%zu bytes to download, the device takes at most %u (%s)",
                 s->src_len, s->maxdl, "max-download-size");
        asr_sess_fail(s, out, FAIL_PACKAGE, msg);
        return;
    }
    snprintf(c, sizeof(c), "download:%08zx", s->src_len);
    s->sub = SUB_DL_CMD;
    asr_sess_send_cmd(s, c, out);
}

/* Next batch of ABOOT_DATA frames, each at most the MTU. */
void asr_sess_send_data(struct asr_session *s, struct proto_request *out)
{
    size_t len = 0;
    while (s->src_off < s->src_len) {
        size_t n = s->src_len - s->src_off < s->mtu ? s->src_len - s->src_off : s->mtu;
        if (len + asr_smux_encoded_max(n) > ASR_BATCH)
            break;
        asr_src_copy(&s->src, s->src_off, s->scratch, n);
        len += asr_smux_encode(s->tx + len, ASR_BATCH - len, ASR_SMUX_ABOOT_DATA, s->scratch, n);
        s->src_off += n;
    }
    send_tx(s, len, out);
}

void asr_sess_start_segment(struct asr_session *s, struct proto_request *out)
{
    const struct asr_op *op = asr_sess_op(s);
    if (asr_sparse_segment(op->data, op->len, s->per, s->seg, &s->src, &s->seg_raw) < 0) {
        asr_sess_fail(s, out, FAIL_INTERNAL, "cannot build the sparse segment");
        return;
    }
    send_download(s, out);
}

static void start_flash(struct asr_session *s, struct proto_request *out)
{
    const struct asr_op *op = asr_sess_op(s);
    s->seg = 0;
    if (asr_sparse_is(op->data, op->len)) {
        /* Already ASR sparse (a pre-segmented release): sent as is, in one piece. */
        s->nseg = 1;
        s->seg_raw = op->len;
        asr_src_raw(&s->src, op->data, op->len);
        send_download(s, out);
        return;
    }
    s->per = asr_sparse_blocks_per_segment(s->maxdl);
    if (s->per == 0) {
        char msg[120];
        snprintf(msg, sizeof(msg), "max-download-size %u cannot carry one %u-byte block", s->maxdl,
                 ASR_SPARSE_BLOCK);
        asr_sess_fail(s, out, FAIL_PROTOCOL, msg);
        return;
    }
    s->nseg = asr_sparse_segment_count(op->len, s->per);
    asr_sess_start_segment(s, out);
}

static int skipped_by_bootrom(const struct asr_session *s, const struct asr_op *op)
{
    return op->bootrom[0] && s->bootrom[0] && strcmp(op->bootrom, s->bootrom) != 0;
}

void asr_sess_op_start(struct asr_session *s, struct proto_request *out)
{
    if (s->cur >= s->plan.count) {
        s->ctx->progress.phase = "done";
        proto_req_done(out);
        return;
    }
    const struct asr_op *op = asr_sess_op(s);
    if (skipped_by_bootrom(s, op)) {
        /* A call entry for another ROM version (download.json "version-bootrom"). */
        if (op->kind == ASR_OP_DOWNLOAD && s->ctx->progress.total >= op->len)
            s->ctx->progress.total -= op->len;
        asr_sess_op_next(s, out);
        return;
    }
    s->ctx->progress.phase = op->phase;
    uint64_t now = s->ctx->now_ms;
    switch (op->kind) {
    case ASR_OP_LINE:
        s->io.wait = PROTO_WAIT_LINE;
        proto_req_set_line(out, 0, 1, 1);
        return;
    case ASR_OP_REENUM:
        s->io.wait = PROTO_WAIT_DEVICE;
        proto_req_reenumerate(out, op->timeout_ms);
        return;
    case ASR_OP_PROBE:
    case ASR_OP_INIT:
    case ASR_OP_HELLO:
        if (!s->started) {
            s->started = 1;
            s->deadline_ms = now + op->timeout_ms;
        }
        s->resend_ms = now + ASR_T_RESEND;
        if (op->kind == ASR_OP_PROBE) {
            memcpy(s->tx, asr_smux_probe, sizeof(asr_smux_probe));
            send_tx(s, sizeof(asr_smux_probe), out);
        } else if (op->kind == ASR_OP_INIT) {
            send_frame(s, ASR_SMUX_STDIO, (const uint8_t *)"UABT", 4, out);
        } else {
            size_t n = asr_smux_encode_hello(s->tx, sizeof(s->tx) - 1, (uint16_t)s->opts.mtu);
            send_tx(s, n, out);
        }
        return;
    case ASR_OP_DOWNLOAD:
        asr_src_raw(&s->src, op->data, op->len);
        send_download(s, out);
        return;
    case ASR_OP_FLASH:
        start_flash(s, out);
        return;
    case ASR_OP_CALL:
        /* Crane ROM 2019.01.15: every host sends nop in place of call (§2.3). */
        s->sent_nop = strcmp(s->bootrom, ASR_QUIRK_BOOTROM) == 0;
        asr_sess_send_cmd(s, s->sent_nop ? "nop" : "call", out);
        return;
    case ASR_OP_CMD:
        if (op->flags & ASR_OPF_ARM_LEAVE) {
            /* From here a vanishing device is the reboot, not a failure (protocol.h). */
            s->ctx->expect_leave_ms = s->opts.reenum_ms;
            s->io.leave_armed = 1;
        }
        asr_sess_send_cmd(s, op->cmd, out);
        return;
    case ASR_OP_MAXDL:
        if (s->maxdl_known) {
            asr_sess_op_next(s, out); /* nothing was called since the last answer */
            return;
        }
        asr_sess_send_cmd(s, op->cmd, out);
        return;
    case ASR_OP_GETVAR:
    case ASR_OP_REQUIRE:
        asr_sess_send_cmd(s, op->cmd, out);
        return;
    }
    proto_req_fail(out, FAIL_INTERNAL, "asr: unknown plan operation %d", (int)op->kind);
}

int asr_sess_is_handshake(const struct asr_op *op)
{
    return op->kind == ASR_OP_PROBE || op->kind == ASR_OP_INIT || op->kind == ASR_OP_HELLO;
}

static void read_more(struct asr_session *s, struct proto_request *out)
{
    const struct asr_op *op = asr_sess_op(s);
    uint64_t now = s->ctx->now_ms;
    uint64_t until = s->deadline_ms;
    if (s->running && s->opts.link_ms && s->last_frame_ms + s->opts.link_ms < until)
        until = s->last_frame_ms + s->opts.link_ms;
    if (now >= until) {
        asr_sess_on_timeout(s, out);
        return;
    }
    if (asr_sess_is_handshake(op) && now >= s->resend_ms) {
        asr_sess_op_start(s, out); /* repeat the handshake frame; the window keeps running */
        return;
    }
    if (asr_sess_is_handshake(op) && s->resend_ms < until)
        until = s->resend_ms;
    uint64_t left = until - now;
    s->io.wait = PROTO_WAIT_READ;
    proto_req_read(out, ASR_RX_MAX - (s->rx_len - s->rx_off),
                   (uint32_t)(left > UINT32_MAX ? UINT32_MAX : left));
}

static void pump(struct asr_session *s, struct proto_request *out)
{
    while (s->rx_off < s->rx_len) {
        size_t used = 0;
        struct asr_smux_frame f;
        enum asr_dec_result r =
            asr_smux_dec_feed(&s->dec, s->rx + s->rx_off, s->rx_len - s->rx_off, &used, &f);
        s->rx_off += used;
        if (r == ASR_DEC_ERROR) {
            if (asr_sess_op(s)->kind == ASR_OP_PROBE) {
                s->junk_frames++; /* caught the device mid-stream: hunt on */
                continue;
            }
            char msg[160];
            snprintf(msg, sizeof(msg), "malformed SMUX frame from the device: %s", s->dec.error);
            asr_sess_fail(s, out, FAIL_PROTOCOL, msg);
            return;
        }
        if (r == ASR_DEC_FRAME) {
            s->last_frame_ms = s->ctx->now_ms;
            if (asr_sess_on_frame(s, &f, out))
                return;
        }
    }
    read_more(s, out);
}

static void on_written(struct asr_session *s, struct proto_request *out)
{
    const struct asr_op *op = asr_sess_op(s);
    uint64_t now = s->ctx->now_ms;
    s->last_frame_ms = now; /* the link is measured from our last write too */
    if (s->sub == SUB_DL_DATA) {
        if (s->src_off < s->src_len) {
            asr_sess_send_data(s, out);
            return;
        }
        s->sub = SUB_DL_OKAY;
        s->deadline_ms = now + ASR_T_AFTER_DATA;
    } else if (s->sub == SUB_DL_CMD) {
        s->deadline_ms = now + ASR_T_CMD;
    } else if (!asr_sess_is_handshake(op)) {
        s->deadline_ms = now + op->timeout_ms;
    }
    pump(s, out); /* bytes left over from the last read first, then read */
}

static void begin(struct asr_session *s, struct proto_request *out)
{
    if (s->plan_fail != FAIL_NONE) {
        proto_req_fail(out, s->plan_fail, "%s: %s",
                       s->plan_fail == FAIL_PACKAGE ? "package" : "setup", s->plan_err);
        return;
    }
    asr_sess_set_ident(s);
    s->ctx->progress.total = s->plan.total_bytes;
    s->ctx->progress.done = 0;
    asr_sess_op_start(s, out);
}

static void on_attached(struct asr_session *s, struct proto_request *out)
{
    const struct proto_link *l = &s->ctx->link;
    if (asr_sess_is_download_id(l->vid, l->pid)) {
        proto_req_fail(out, FAIL_VERIFY,
                       "reenumerate: after reboot the module came back as %04x:%04x, still in "
                       "download mode",
                       l->vid, l->pid);
        return;
    }
    s->ctx->progress.phase = "done";
    proto_req_done(out);
}

static void on_start_cb(void *session, struct proto_request *out)
{
    begin(session, out);
}

static void on_written_cb(void *session, struct proto_request *out)
{
    on_written(session, out);
}

static void on_line_set(void *session, struct proto_request *out)
{
    asr_sess_op_next(session, out);
}

static size_t rx_room(void *session)
{
    const struct asr_session *s = session;
    return ASR_RX_MAX - (s->rx_len - s->rx_off);
}

static void on_received(void *session, const uint8_t *data, size_t len, struct proto_request *out)
{
    struct asr_session *s = session;
    /* Keep what the last read left (frames after the one that ended a wait). */
    memmove(s->rx, s->rx + s->rx_off, s->rx_len - s->rx_off);
    s->rx_len -= s->rx_off;
    s->rx_off = 0;
    if (len)
        memcpy(s->rx + s->rx_len, data, len);
    s->rx_len += len;
    pump(s, out);
}

static void on_read_timeout(void *session, struct proto_request *out)
{
    read_more(session, out);
}

static void on_write_timeout(void *session, struct proto_request *out)
{
    struct asr_session *s = session;
    if (asr_sess_op(s)->flags & ASR_OPF_TAIL)
        asr_sess_op_next(s, out);
    else
        asr_sess_fail(s, out, FAIL_TIMEOUT, "the write did not complete in time");
}

static void on_attached_cb(void *session, struct proto_request *out)
{
    on_attached(session, out);
}

static const struct proto_step_ops step_ops = {
    .driver = "asr",
    .start = on_start_cb,
    .written = on_written_cb,
    .line_set = on_line_set,
    .rx_room = rx_room,
    .received = on_received,
    .read_timeout = on_read_timeout,
    .write_timeout = on_write_timeout,
    .attached = on_attached_cb,
};

void asr_session_step(void *session, const struct proto_event *in, struct proto_request *out)
{
    struct asr_session *s = session;
    proto_step_run(&s->io, &step_ops, s, in, out);
}

int asr_session_new(const struct proto_params *params, struct proto_ctx *ctx, void **ret_session)
{
    const struct pkg *pkg = params ? params->package : NULL;
    if (!pkg || pkg->parsed_kind != PKG_PARSED_ASR || !pkg->parsed || !ctx || !ret_session)
        return -EINVAL;
    struct asr_session *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->ctx = ctx;
    asr_smux_dec_init(&s->dec);
    /* Bad options and unusable packages are reported by the first step, with a message. */
    if (asr_opts_parse(params->options, &s->opts, s->plan_err, sizeof(s->plan_err)) < 0)
        s->plan_fail = FAIL_INTERNAL;
    else
        s->plan_fail =
            asr_plan_build(&s->plan, pkg->parsed, &s->opts, s->plan_err, sizeof(s->plan_err));
    s->mtu = s->opts.mtu ? s->opts.mtu : ASR_SMUX_MTU;
    s->maxdl = ASR_MAXDL_UNKNOWN;
    *ret_session = s;
    return 0;
}

void asr_session_free(void *session)
{
    struct asr_session *s = session;
    if (!s)
        return;
    asr_plan_free(&s->plan);
    free(s);
}

int asr_sniff(const uint8_t *data, size_t len)
{
    static const char name[] = "download.json";
    const size_t n = sizeof(name) - 1;
    if (len < 30 + n || memcmp(data, "PK\x03\x04", 4) != 0)
        return 0;
    for (size_t i = 30; i + n <= len; i++)
        if (data[i] == 'd' && memcmp(data + i, name, n) == 0)
            return 1;
    return 0;
}

/* 2ecc:3015 is listed for these boards too, but its role is unverified (§1.1): not claimed. */
static const struct proto_usb_id asr_usb_ids[] = {
    {0x2ecc, 0x3004, 1, PROTO_TRANSPORT_USB_BULK, "ASR160x (Crane) ROM / aboot download port"},
    {0x2ecc, 0x3017, 1, PROTO_TRANSPORT_USB_BULK, "ASR160x (Crane) download port, alternate id"},
};

const struct proto asr_proto = {
    .name = "asr",
    .description = "ASR160x Crane download (SMUX + aboot, download.json zip)",
    .transports = PROTO_TRANSPORT_USB_BULK | PROTO_TRANSPORT_SERIAL,
    .usb_ids = asr_usb_ids,
    .usb_id_count = sizeof(asr_usb_ids) / sizeof(asr_usb_ids[0]),
    .sniff = asr_sniff,
    .parse = asr_pkg_hook_parse,
    .package_free = asr_pkg_hook_free,
    .session_new = asr_session_new,
    .step = asr_session_step,
    .session_free = asr_session_free,
};
