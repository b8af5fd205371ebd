/* The scripted ASR Crane device of test_asr_session.c, written by hand from
 * ../shared/protocols/asr.md: it answers the handshake and the aboot commands of §2.2-2.4, keeps
 * the downloaded blob, decodes the ASR sparse segments of flash: with its own reader (§2.6)
 * into a flash buffer, and can be told to misbehave one way per test. drive() plays the job
 * engine around a session. Header-only so the test stays one program. */
#ifndef FLASHRACK_ASR_SCRIPT_DEV_H
#define FLASHRACK_ASR_SCRIPT_DEV_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "asr/asr.h"
#include "asr/asr_wire.h"

struct dev {
    /* knobs */
    const char *bootrom, *product, *maxdl;
    int nop_fails;
    const char *probe_answer; /* raw bytes answering a probe; NULL = STDIO "UABT" */
    int probe_silent;
    int hello_len;
    const char *ovr_prefix, *ovr_reply; /* the first command starting with prefix gets reply */
    int ovr_silent, ovr_hang;           /* ... or none, from then on (hang: no heartbeats) */
    int heartbeats, info, split;
    uint16_t back_vid, back_pid;
    int leave_at_complete;
    uint16_t mp;
    /* state */
    struct asr_smux_dec dec;
    uint8_t q[1 << 16];
    size_t qlen, qoff;
    char log[64][132];
    int nlog;
    uint8_t *blob;
    uint32_t want, got;
    uint8_t flash[8 * 4096];
    int segments, silent, hung, left, reenums;
    size_t writes, zlp_bad;
};

static inline void dev_init(struct dev *d)
{
    memset(d, 0, sizeof(*d));
    d->bootrom = "2020.07.30";
    d->product = "arom-tiny";
    d->maxdl = "0x100000";
    d->hello_len = 2;
    d->back_vid = 0x2c7c;
    d->back_pid = 0x6001;
    memset(d->flash, 0xA5, sizeof(d->flash));
    asr_smux_dec_init(&d->dec);
}

static inline void queue(struct dev *d, const uint8_t *p, size_t n)
{
    assert_true(d->qlen + n <= sizeof(d->q));
    memcpy(d->q + d->qlen, p, n);
    d->qlen += n;
}

static inline void queue_frame(struct dev *d, enum asr_smux_type t, const char *text, size_t n)
{
    uint8_t f[600];
    size_t k = asr_smux_encode(f, sizeof(f), t, (const uint8_t *)text, n);
    assert_true(k > 0);
    queue(d, f, k);
}

static inline void reply(struct dev *d, const char *text)
{
    if (d->heartbeats) /* a heartbeat every ~300 ms: at least one between two replies */
        queue_frame(d, ASR_SMUX_HEART_BEAT, "H", 1);
    if (d->info)
        queue_frame(d, ASR_SMUX_ABOOT_CMD, "INFOworking", 11);
    queue_frame(d, ASR_SMUX_ABOOT_CMD, text, strlen(text));
}

static inline uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* §2.6 reader: RAW chunks land at the block cursor, DONT_CARE moves it, the CRC32 chunk
 * (last) must match the RAW bytes. Returns NULL or what is wrong. */
static inline const char *apply_sparse(struct dev *d, const uint8_t *b, size_t n)
{
    if (n < 32 || le32(b) != 0xED26FF3A || b[8] != 32 || b[10] != 16 || le32(b + 12) != 4096)
        return "bad sparse header";
    uint32_t total = le32(b + 16), chunks = le32(b + 20), blk = 0;
    size_t at = 32;
    uLong crc = crc32(0L, Z_NULL, 0);
    for (uint32_t c = 0; c < chunks; c++) {
        if (at + 16 > n)
            return "chunk past the end";
        uint16_t type = (uint16_t)(b[at] | b[at + 1] << 8);
        uint32_t blocks = le32(b + at + 4), size = le32(b + at + 8);
        if (type == 0xCAC1) {
            if (size != 16 + blocks * 4096 || at + size > n ||
                (blk + blocks) * 4096 > sizeof(d->flash))
                return "bad RAW chunk";
            memcpy(d->flash + (size_t)blk * 4096, b + at + 16, (size_t)blocks * 4096);
            crc = crc32(crc, b + at + 16, blocks * 4096);
        } else if (type == 0xCAC3) {
            if (size != 16)
                return "bad DONT_CARE";
        } else if (type == 0xCAC4) {
            if (size != 20 || at + 20 != n || c + 1 != chunks || le32(b + at + 16) != crc)
                return "bad CRC32 chunk";
        } else {
            return "unknown chunk";
        }
        blk += blocks;
        at += size;
    }
    return blk == total && at == n ? NULL : "blocks do not add up";
}

static inline void on_cmd(struct dev *d, const char *c)
{
    snprintf(d->log[d->nlog < 64 ? d->nlog++ : 63], sizeof(d->log[0]), "%s", c);
    if (d->silent)
        return;
    if (d->ovr_prefix && !strncmp(c, d->ovr_prefix, strlen(d->ovr_prefix))) {
        d->ovr_prefix = NULL;
        if (d->ovr_silent || d->ovr_hang) {
            d->silent = 1;
            d->hung = d->ovr_hang;
            return;
        }
        queue_frame(d, ASR_SMUX_ABOOT_CMD, d->ovr_reply, strlen(d->ovr_reply));
        return;
    }
    char buf[160];
    if (!strncmp(c, "getvar:", 7)) {
        const char *v = !strcmp(c + 7, "product")             ? d->product
                        : !strcmp(c + 7, "version-bootrom")   ? d->bootrom
                        : !strcmp(c + 7, "max-download-size") ? d->maxdl
                                                              : NULL;
        snprintf(buf, sizeof(buf), v ? "OKAY%s" : "FAILunknown variable", v ? v : "");
        reply(d, buf);
    } else if (!strncmp(c, "download:", 9)) {
        d->want = (uint32_t)strtoul(c + 9, NULL, 16);
        d->got = 0;
        free(d->blob);
        d->blob = malloc(d->want);
        snprintf(buf, sizeof(buf), "DATA%08x", d->want);
        reply(d, buf);
    } else if (!strncmp(c, "flash:", 6)) {
        const char *bad = apply_sparse(d, d->blob, d->got);
        d->segments++;
        snprintf(buf, sizeof(buf), bad ? "FAIL%s" : "OKAY", bad ? bad : "");
        reply(d, buf);
    } else if (!strcmp(c, "nop") && d->nop_fails) {
        reply(d, "FAILunknown command");
    } else if (!strcmp(c, "complete") && d->leave_at_complete) {
        d->left = 1;
    } else {
        reply(d, "OKAY");
    }
}

static inline void dev_rx(struct dev *d, const uint8_t *p, size_t n)
{
    while (n) {
        size_t used;
        struct asr_smux_frame f;
        enum asr_dec_result r = asr_smux_dec_feed(&d->dec, p, n, &used, &f);
        p += used;
        n -= used;
        assert_int_not_equal(r, ASR_DEC_ERROR); /* the host never sends a malformed frame */
        if (r != ASR_DEC_FRAME)
            continue;
        assert_true(f.len <= 1024);
        if (f.type == ASR_SMUX_STDIO && f.len == 4 &&
            (!memcmp(f.payload, "UUUU", 4) || !memcmp(f.payload, "UABT", 4))) {
            if (d->probe_silent)
                continue;
            if (d->probe_answer)
                queue(d, (const uint8_t *)d->probe_answer, strlen(d->probe_answer));
            else
                queue_frame(d, ASR_SMUX_STDIO, "UABT", 4);
        } else if (f.type == ASR_SMUX_HELLO) {
            assert_int_equal(f.len, 2);
            queue_frame(d, ASR_SMUX_HELLO_REPLY, "\x04\x00\x00", (size_t)d->hello_len);
        } else if (f.type == ASR_SMUX_ABOOT_CMD) {
            char c[132];
            assert_true(f.len <= 128);
            memcpy(c, f.payload, f.len);
            c[f.len] = '\0';
            on_cmd(d, c);
        } else if (f.type == ASR_SMUX_ABOOT_DATA) {
            assert_true(d->blob && d->got + f.len <= d->want);
            memcpy(d->blob + d->got, f.payload, f.len);
            d->got += (uint32_t)f.len;
            if (d->got == d->want && !d->silent)
                reply(d, "OKAY");
        }
    }
}

/* Plays the job: returns the final request. */
static inline struct proto_request drive(struct dev *d, void *s, struct proto_ctx *ctx)
{
    struct proto_event ev = {.type = PROTO_EV_START};
    struct proto_request req;
    for (int steps = 0; steps < 200000; steps++) {
        asr_proto.step(s, &ev, &req);
        memset(&ev, 0, sizeof(ev));
        switch (req.type) {
        case PROTO_REQ_DONE:
        case PROTO_REQ_FAIL:
            return req;
        case PROTO_REQ_WRITE:
            assert_true(req.len > 0 && req.data);
            d->writes++;
            if (d->mp && req.len % d->mp == 0)
                d->zlp_bad++;
            dev_rx(d, req.data, req.len);
            ev.type = PROTO_EV_TX_DONE;
            ctx->now_ms += 1;
            break;
        case PROTO_REQ_READ:
            assert_true(req.len > 0);
            if (d->left && ctx->expect_leave_ms) {
                ctx->link.vid = d->back_vid; /* the job: announced departure, device back */
                ctx->link.pid = d->back_pid;
                ctx->expect_leave_ms = 0;
                ev.type = PROTO_EV_ATTACHED;
                break;
            }
            if (d->qoff == d->qlen && d->heartbeats && !d->hung && req.timeout_ms >= 300) {
                ctx->now_ms += 300;
                queue_frame(d, ASR_SMUX_HEART_BEAT, "H", 1);
            }
            if (d->qoff < d->qlen) {
                size_t n = d->split ? 1 : d->qlen - d->qoff;
                if (n > req.len)
                    n = req.len;
                ev.type = PROTO_EV_RX;
                ev.data = d->q + d->qoff;
                ev.len = n;
                d->qoff += n;
                if (d->qoff == d->qlen)
                    d->qoff = d->qlen = 0;
                ctx->now_ms += 1;
            } else {
                ev.type = PROTO_EV_TIMEOUT;
                ctx->now_ms += req.timeout_ms;
            }
            break;
        case PROTO_REQ_SET_LINE:
            assert_true(req.dtr && req.rts);
            ev.type = PROTO_EV_TX_DONE;
            break;
        case PROTO_REQ_WAIT:
            ctx->now_ms += req.timeout_ms;
            ev.type = PROTO_EV_WAKE;
            break;
        case PROTO_REQ_REENUMERATE:
            ctx->link.vid = d->back_vid;
            ctx->link.pid = d->back_pid;
            ctx->expect_leave_ms = 0;
            d->reenums++;
            ev.type = PROTO_EV_ATTACHED;
            break;
        default:
            fail_msg("unexpected request %d", (int)req.type);
        }
    }
    fail_msg("session never ended");
    return req;
}

#endif
