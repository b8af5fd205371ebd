/* ASR Crane host session, the judging half: what a decoded frame, a reply or a timeout means
 * for the step in flight (see asr_session.h; the exchange engine is asr.c). Frames that carry
 * no answer (heartbeats, INFO, logs, late handshake answers) are skipped; a final reply moves
 * the plan on or ends the session with a message naming what was expected and what came. */
#include "asr/asr_session.h"

#include <stdio.h>
#include <string.h>

void asr_sess_on_timeout(struct asr_session *s, struct proto_request *out)
{
    const struct asr_op *op = asr_sess_op(s);
    uint64_t now = s->ctx->now_ms;
    char msg[512];
    if (op->flags & ASR_OPF_TAIL) {
        asr_sess_op_next(s, out); /* after reboot silence is fine: the device may be resetting */
        return;
    }
    size_t partial = asr_smux_dec_partial(&s->dec);
    if (partial && now < s->deadline_ms) {
        snprintf(msg, sizeof(msg),
                 "link lost: %zu bytes of a frame, then nothing for %u ms (heartbeats stopped)",
                 partial, s->opts.link_ms);
        asr_sess_fail(s, out, FAIL_PROTOCOL, msg);
        return;
    }
    if (now < s->deadline_ms) {
        snprintf(msg, sizeof(msg),
                 "link lost: no frame, not even a heartbeat, for %u ms while waiting for the "
                 "reply to '%s'%s%s",
                 s->opts.link_ms, s->cmd, s->last_info[0] ? " (last INFO: " : "",
                 s->last_info[0] ? s->last_info : "");
        if (s->last_info[0])
            strncat(msg, ")", sizeof(msg) - strlen(msg) - 1);
        asr_sess_fail(s, out, FAIL_TIMEOUT, msg);
        return;
    }
    if (partial) {
        snprintf(msg, sizeof(msg), "truncated frame: %zu bytes, then nothing within %u ms", partial,
                 op->timeout_ms);
        asr_sess_fail(s, out, FAIL_PROTOCOL, msg);
        return;
    }
    if (op->kind == ASR_OP_PROBE && (s->dec.skipped || s->junk_frames)) {
        snprintf(msg, sizeof(msg),
                 "expected STDIO \"UABT\", got %llu bytes that are not SMUX frames within %u "
                 "ms: not an ASR Crane ROM in aboot download mode",
                 (unsigned long long)(s->dec.skipped + s->junk_frames), op->timeout_ms);
        asr_sess_fail(s, out, FAIL_NO_MATCH, msg);
        return;
    }
    const char *want = op->kind == ASR_OP_HELLO    ? "HELLO_REPLY"
                       : asr_sess_is_handshake(op) ? "STDIO \"UABT\""
                       : s->sub == SUB_DL_CMD      ? "DATA<size>"
                       : s->sub == SUB_DL_OKAY || s->sub == SUB_CMD || s->sub == SUB_FLASH_CMD
                           ? "OKAY"
                           : "a reply";
    uint32_t waited = s->sub == SUB_DL_OKAY  ? ASR_T_AFTER_DATA
                      : s->sub == SUB_DL_CMD ? ASR_T_CMD
                                             : op->timeout_ms;
    if (asr_sess_is_handshake(op))
        snprintf(msg, sizeof(msg), "expected %s, got no answer within %u ms (sent every %u ms)",
                 want, waited, ASR_T_RESEND);
    else
        snprintf(msg, sizeof(msg), "expected %s to '%s', got no reply within %u ms%s%s%s", want,
                 s->sub == SUB_DL_OKAY ? "the download data" : s->cmd, waited,
                 s->last_info[0] ? " (last INFO: " : "", s->last_info, s->last_info[0] ? ")" : "");
    asr_sess_fail(s, out, FAIL_TIMEOUT, msg);
}

void asr_sess_set_ident(struct asr_session *s)
{
    struct device_ident *id = &s->ctx->ident;
    snprintf(id->chip, sizeof(id->chip), "ASR160x%s%.23s", s->product[0] ? " " : "", s->product);
    snprintf(id->revision, sizeof(id->revision), "%s%.24s%s%.23s", s->bootrom[0] ? "bootrom " : "",
             s->bootrom, s->version[0] ? (s->bootrom[0] ? ", aboot " : "aboot ") : "", s->version);
}

static void store_var(struct asr_session *s, enum asr_var var, const char *value)
{
    char *dst = var == ASR_VAR_PRODUCT   ? s->product
                : var == ASR_VAR_BOOTROM ? s->bootrom
                : var == ASR_VAR_VERSION ? s->version
                                         : NULL;
    if (!dst)
        return;
    size_t cap = var == ASR_VAR_PRODUCT ? sizeof(s->product) : sizeof(s->bootrom);
    size_t n = strnlen(value, cap - 1);
    memcpy(dst, value, n);
    dst[n] = '\0';
    asr_sess_set_ident(s);
}

static void on_okay(struct asr_session *s, const struct asr_reply *r, struct proto_request *out);

/* One decoded frame; returns 1 when it produced the next request. */
int asr_sess_on_frame(struct asr_session *s, const struct asr_smux_frame *f,
                      struct proto_request *out)
{
    const struct asr_op *op = asr_sess_op(s);
    char msg[512];
    switch (f->type) {
    case ASR_SMUX_HEART_BEAT:
        return 0; /* its arrival already renewed last_frame_ms */
    case ASR_SMUX_HELLO:
        return 0;
    case ASR_SMUX_STDIO:
        if ((op->kind == ASR_OP_PROBE || op->kind == ASR_OP_INIT) && f->len == 4 &&
            memcmp(f->payload, "UABT", 4) == 0) {
            asr_sess_op_next(s, out);
            return 1;
        }
        if (op->kind == ASR_OP_PROBE && f->len >= 4 && memcmp(f->payload, "UUUU", 4) == 0) {
            asr_sess_fail(s, out, FAIL_NO_MATCH,
                          "the device answered the probe with ETHOS (7E 7E \"UUUU\"), the IPv6/UDP "
                          "aboot variant this driver does not speak; only SMUX ROMs are supported");
            return 1;
        }
        return 0; /* device log text, or a late UABT */
    case ASR_SMUX_HELLO_REPLY:
        if (op->kind != ASR_OP_HELLO)
            return 0; /* a late answer to a repeated HELLO */
        if (f->len != 2) {
            snprintf(msg, sizeof(msg), "HELLO_REPLY carries %zu bytes (expected a 2-byte MTU)",
                     f->len);
            asr_sess_fail(s, out, FAIL_PROTOCOL, msg);
            return 1;
        }
        uint32_t mtu = (uint32_t)f->payload[0] << 8 | f->payload[1];
        if (mtu < 64) {
            snprintf(msg, sizeof(msg), "device MTU %u is below 64 bytes (offered %u)", mtu,
                     s->opts.mtu);
            asr_sess_fail(s, out, FAIL_PROTOCOL, msg);
            return 1;
        }
        s->mtu = mtu < s->opts.mtu ? mtu : s->opts.mtu; /* never above what we offered */
        s->running = 1;
        asr_sess_op_next(s, out);
        return 1;
    case ASR_SMUX_ABOOT_DATA:
        if (asr_sess_is_handshake(op))
            return 0; /* left over from an earlier session */
        snprintf(msg, sizeof(msg), "expected a reply to '%s', got a %zu-byte ABOOT_DATA frame",
                 s->cmd, f->len);
        asr_sess_fail(s, out, FAIL_PROTOCOL, msg);
        return 1;
    case ASR_SMUX_ABOOT_CMD:
        break;
    default:
        return 0;
    }
    if (asr_sess_is_handshake(op))
        return 0; /* a reply meant for an earlier session */
    struct asr_reply r;
    asr_reply_parse(f->payload, f->len, &r);
    if (r.kind == ASR_REPLY_INFO) {
        snprintf(s->last_info, sizeof(s->last_info), "%.63s", r.text);
        return 0;
    }
    if (r.kind == ASR_REPLY_BAD) {
        snprintf(msg, sizeof(msg), "reply to '%s' is %s", s->cmd, r.text);
        asr_sess_fail(s, out, FAIL_PROTOCOL, msg);
        return 1;
    }
    if (r.kind == ASR_REPLY_FAIL) {
        int tolerated = (op->flags & (ASR_OPF_FAIL_OK | ASR_OPF_TAIL)) ||
                        op->kind == ASR_OP_GETVAR || (op->kind == ASR_OP_CALL && s->sent_nop);
        if (tolerated && s->sub == SUB_CMD) {
            asr_sess_op_next(s, out);
            return 1;
        }
        if (op->kind == ASR_OP_MAXDL) {
            s->maxdl = ASR_MAXDL_UNKNOWN; /* README: a device that will not tell */
            if (s->opts.max_download && s->opts.max_download < s->maxdl)
                s->maxdl = s->opts.max_download;
            s->maxdl_known = 1;
            asr_sess_op_next(s, out);
            return 1;
        }
        if (op->kind == ASR_OP_REQUIRE)
            snprintf(msg, sizeof(msg),
                     "download.json requires %s = '%.60s', the device does not know it (FAIL "
                     "'%.60s')",
                     op->name, op->value, r.text);
        else
            snprintf(msg, sizeof(msg), "device answered FAIL '%s' to '%s'", r.text, s->cmd);
        asr_sess_fail(s, out, op->kind == ASR_OP_REQUIRE ? FAIL_NO_MATCH : FAIL_REJECTED, msg);
        return 1;
    }
    if (r.kind == ASR_REPLY_DATA) {
        if (s->sub != SUB_DL_CMD || r.size != s->src_len) {
            if (s->sub == SUB_DL_CMD)
                snprintf(msg, sizeof(msg), "expected DATA%08zx, got DATA%08x", s->src_len,
                         (unsigned)r.size);
            else
                snprintf(msg, sizeof(msg), "expected OKAY to '%s', got DATA%08x", s->cmd,
                         (unsigned)r.size);
            asr_sess_fail(s, out, FAIL_PROTOCOL, msg);
            return 1;
        }
        s->sub = SUB_DL_DATA;
        asr_sess_send_data(s, out);
        return 1;
    }
    if (s->sub == SUB_DL_CMD) {
        snprintf(msg, sizeof(msg), "expected DATA%08zx to '%s', got OKAY%s", s->src_len, s->cmd,
                 r.text);
        asr_sess_fail(s, out, FAIL_PROTOCOL, msg);
        return 1;
    }
    on_okay(s, &r, out);
    return 1;
}

static void on_okay(struct asr_session *s, const struct asr_reply *r, struct proto_request *out)
{
    const struct asr_op *op = asr_sess_op(s);
    char msg[512];
    if (s->sub == SUB_DL_OKAY) {
        if (op->kind == ASR_OP_FLASH) {
            s->sub = SUB_FLASH_CMD;
            s->deadline_ms = 0;
            asr_sess_send_cmd(s, op->cmd, out);
            return;
        }
        s->ctx->progress.done += op->len;
        asr_sess_op_next(s, out);
        return;
    }
    if (s->sub == SUB_FLASH_CMD) {
        s->ctx->progress.done += s->seg_raw;
        if (++s->seg < s->nseg) {
            asr_sess_start_segment(s, out);
            return;
        }
        asr_sess_op_next(s, out);
        return;
    }
    switch (op->kind) {
    case ASR_OP_GETVAR:
        store_var(s, op->var, r->text);
        break;
    case ASR_OP_REQUIRE:
        if (!asr_require_match(op->name, op->value, r->text)) {
            snprintf(msg, sizeof(msg),
                     "download.json requires %s = '%.60s', the device has '%.60s'", op->name,
                     op->value, r->text);
            asr_sess_fail(s, out, FAIL_NO_MATCH, msg);
            return;
        }
        store_var(s, op->var, r->text);
        break;
    case ASR_OP_MAXDL: {
        uint32_t v;
        if (asr_parse_hex32(r->text, &v) < 0 || v == 0) {
            snprintf(msg, sizeof(msg), "expected a hex size above 0, got OKAY'%.40s'", r->text);
            asr_sess_fail(s, out, FAIL_PROTOCOL, msg);
            return;
        }
        s->maxdl = s->opts.max_download && s->opts.max_download < v ? s->opts.max_download : v;
        s->maxdl_known = 1;
        break;
    }
    case ASR_OP_CALL:
        s->maxdl_known = 0; /* the image called may change the limit (flasher: 1 MiB) */
        break;
    default:
        break;
    }
    asr_sess_op_next(s, out);
}
