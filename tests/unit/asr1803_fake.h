/* Test helper for test_asr1803_session.c: a scripted fake EC200A in WTPTP download mode (not
 * tests/sim): golden statuses of protocols/asr.md §3.1, the image ids its stage's TIM lists,
 * SEQ and byte-count checks, a record of what each image received, one injected fault.
 * Header-only because each tests/unit/test_*.c is its own program. */
#ifndef FLASHRACK_TEST_ASR1803_FAKE_H
#define FLASHRACK_TEST_ASR1803_FAKE_H

#include "asr1803/wtptp_wire.h"

#include "asr1803_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

/* ---- the fake device -------------------------------------------------------------------- */

enum fault {
    F_NONE = 0,
    F_NACK,                /* NACK the command fault_cmd (the fault_nth time it is seen) */
    F_SILENT,              /* never answer fault_cmd */
    F_BADSEQ,              /* answer fault_cmd with a wrong SEQ */
    F_TRUNCATE,            /* answer fault_cmd with 3 bytes only */
    F_ERRMSG,              /* report error 0x21 (program) instead of "ready" */
    F_PROCESSOR,           /* GETVERSION says another processor */
    F_STUCK,               /* come back in download mode after the last DISCONNECT */
    F_ASKS_UNKNOWN,        /* the bootloader asks for an id the package lacks */
    F_LEAVE_AT_DISCONNECT, /* vanish instead of answering DISCONNECT */
    F_NACK_REPORT,         /* NACK fault_cmd with DLEN 0 and the reason as a pending error report */
};

struct recv {
    uint32_t id;
    struct fxbuf bytes;
};

struct fake {
    int stage; /* 0 boot ROM, 1 DKB */
    uint32_t asks[2][8];
    size_t nasks[2], at;
    uint8_t seq;
    int fast;         /* grant fast mode when asked */
    uint32_t buf;     /* DATAHEADER grant */
    uint32_t current; /* image being received */
    size_t left, raw_left, burst_left;
    struct recv got[16];
    size_t ngot;
    uint8_t out[300];
    size_t out_len;
    int msg_ready, msgs_sent;
    int gone; /* left after DISCONNECT */
    int preamble6;
    enum fault fault;
    uint8_t fault_cmd;
    int fault_nth, seen;
    unsigned disconnects;
    uint32_t err_report;
};

static void reply(struct fake *d, uint8_t cmd, uint8_t seq, uint8_t status, uint8_t flags,
                  const uint8_t *data, uint8_t dlen)
{
    uint8_t *o = d->out;
    o[0] = cmd, o[1] = seq, o[2] = 0, o[3] = status, o[4] = flags, o[5] = dlen;
    if (dlen)
        memcpy(o + 6, data, dlen);
    d->out_len = 6u + dlen;
}

static void reply32(struct fake *d, uint8_t cmd, uint8_t seq, uint8_t flags, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    reply(d, cmd, seq, 0, flags, x, 4);
}

static struct recv *cur(struct fake *d)
{
    return &d->got[d->ngot - 1];
}

static void take(struct fake *d, const uint8_t *p, size_t n)
{
    fxb_put(&cur(d)->bytes, p, n);
    assert_true(n <= d->left);
    d->left -= n;
}

static void command(struct fake *d, const uint8_t *p, size_t n)
{
    if (n == 4 && memcmp(p, wtptp_preamble, 4) == 0) {
        static const uint8_t ack[6] = {0, 0, 0, 0, 0, 0};
        memcpy(d->out, ack, 6);
        d->out_len = d->preamble6 ? 6 : 4;
        d->seq = 0;
        return;
    }
    assert_true(n >= 8);
    uint8_t cmd = p[0], seq = p[1];
    uint32_t len = wtptp_le32(p + 4);
    assert_int_equal(n, 8 + len);
    if (cmd == WTPTP_DATAHEADER || cmd == WTPTP_DATA)
        assert_int_equal(seq, (uint8_t)(d->seq + 1)); /* §3.3: pre-incremented */
    if (cmd == WTPTP_DATAHEADER || cmd == WTPTP_DATA)
        d->seq = seq;
    else
        assert_int_equal(seq, 0);
    if (cmd == d->fault_cmd && ++d->seen == d->fault_nth) {
        switch (d->fault) {
        case F_NACK:
            reply(d, cmd, seq, WTPTP_NACK, 0, (const uint8_t *)"\x21", 1);
            return;
        case F_SILENT:
            return;
        case F_NACK_REPORT:
            reply(d, cmd, seq, WTPTP_NACK, WTPTP_FLAG_MSG_PENDING | WTPTP_FLAG_MSG_NUMERIC, NULL,
                  0);
            d->err_report = 0x6A;
            return;
        case F_BADSEQ:
            reply(d, cmd, (uint8_t)(seq + 7), WTPTP_ACK, 0, NULL, 0);
            return;
        case F_TRUNCATE:
            reply(d, cmd, seq, WTPTP_ACK, 0, NULL, 0);
            d->out_len = 3;
            return;
        default:
            break;
        }
    }
    switch (cmd) {
    case WTPTP_MESSAGE:
        if (d->err_report) {
            uint8_t m[6] = {WTPTP_MSG_ERROR, 0, (uint8_t)d->err_report, 0, 0, 0};
            reply(d, cmd, 0, 0, 0, m, 6);
        } else if (d->msg_ready && d->fault == F_ERRMSG) {
            reply(d, cmd, 0, 0, 0, (const uint8_t *)"\x01\x00\x21\x00\x00\x00", 6);
        } else if (d->msg_ready) {
            d->msg_ready = 0;
            d->msgs_sent++;
            reply(d, cmd, 0, 0, 0, (const uint8_t *)"\x00\x00\x02\x00\x00\x00", 6);
        } else {
            reply(d, cmd, 0, 0, 0, NULL, 0);
        }
        return;
    case WTPTP_GETVERSION: {
        /* u32 LE values: "3311" -> 31 31 33 33 on the wire (README: FourCC order) */
        uint8_t v[24] = "1133\x14\x20\x01\x06"
                        "3AZN"
                        "8080"
                        "\0\0\0\x08"
                        "\xc8\x40\x18\0";
        if (d->stage == 0)
            memcpy(v, "0100\x01\x01\x01\x20", 8);
        if (d->fault == F_PROCESSOR)
            memcpy(v + 8, "0081", 4);
        reply(d, cmd, 0, 0, 0, v, d->stage ? 24 : 12);
        return;
    }
    case WTPTP_SELECTIMAGE:
        assert_true(d->at < d->nasks[d->stage]);
        d->current = d->asks[d->stage][d->at++];
        reply32(d, cmd, 0, 0, d->current);
        return;
    case WTPTP_VERIFYIMAGE:
        assert_int_equal(len, 1);
        assert_int_equal(p[8], 0);
        assert_true(d->ngot < 16);
        d->got[d->ngot].id = d->current;
        memset(&d->got[d->ngot].bytes, 0, sizeof(struct fxbuf));
        d->ngot++;
        d->left = SIZE_MAX;
        reply(d, cmd, 0, 0, 0, NULL, 0);
        return;
    case WTPTP_DATAHEADER: {
        assert_int_equal(len, 4);
        uint32_t rem = wtptp_le32(p + 8);
        if (d->left == SIZE_MAX)
            d->left = rem;
        assert_int_equal(rem, d->left); /* §4.3: remaining is what is still due */
        int fast = d->fast && (p[3] & WTPTP_FLAG_FAST);
        if (fast)
            d->raw_left = rem;
        d->burst_left = d->buf;
        reply32(d, cmd, seq, fast ? WTPTP_FLAG_FAST : 0, d->buf);
        return;
    }
    case WTPTP_DATA:
        assert_true(len <= d->burst_left && len <= WTPTP_DATA_MAX);
        d->burst_left -= len;
        take(d, p + 8, len);
        reply(d, cmd, seq, 0, 0, NULL, 0);
        return;
    case WTPTP_DONE:
        assert_int_equal(d->left, 0);
        /* The bootloader programs each FBF image, then says "ready" (§3.4 step 4). */
        if (d->stage == 1 && d->current != FX_TIMH)
            d->msg_ready = 1;
        reply(d, cmd, 0, 0, d->msg_ready ? WTPTP_FLAG_MSG_PENDING : 0, NULL, 0);
        return;
    case WTPTP_DISCONNECT:
        d->disconnects++;
        d->gone = 1;
        if (d->fault != F_LEAVE_AT_DISCONNECT)
            reply(d, cmd, 0, 0, 0, NULL, 0);
        return;
    default:
        fail_msg("fake: unexpected command 0x%02x", cmd);
    }
}

static void dev_write(struct fake *d, const uint8_t *p, size_t n)
{
    if (d->raw_left) {
        assert_true(n <= d->raw_left && n <= d->buf);
        take(d, p, n);
        d->raw_left -= n;
        if (!d->raw_left)
            reply(d, WTPTP_DATA, d->seq, 0, 0, NULL, 0); /* one status after the last byte */
        return;
    }
    command(d, p, n);
}

static void fake_init(struct fake *d, const struct fx_pkg *f, int rom)
{
    memset(d, 0, sizeof(*d));
    d->stage = rom ? 0 : 1;
    d->fast = 1;
    d->buf = 0x4000;
    for (size_t i = 0; i < f->n; i++) {
        const struct fx_member *m = &f->m[i];
        if (!m->id)
            continue;
        size_t k;
        for (k = 0; k < d->nasks[m->stage]; k++)
            if (d->asks[m->stage][k] == m->id)
                break;
        if (k == d->nasks[m->stage])
            d->asks[m->stage][d->nasks[m->stage]++] = m->id;
    }
}

static void fake_free(struct fake *d)
{
    for (size_t i = 0; i < d->ngot; i++)
        free(d->got[i].bytes.p);
}

#endif
