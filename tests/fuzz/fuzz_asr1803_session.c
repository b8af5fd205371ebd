/* Fuzz target: the ASR1803 (EC200A) WTPTP host session against a device whose every answer
 * comes from the input. Byte 0 picks the package variant, the options and how the device
 * comes back after DISCONNECT. Then each READ takes one control byte: a timeout, raw input
 * bytes, or a plausible status for the command the host just wrote (GETVERSION of the ROM or
 * the DKB, an image id from the package or not, buffer grants with or without fast mode,
 * ready/busy/error messages) with an optional corrupted byte, so runs reach the bootloader
 * stage and the flash instead of dying at the first status.
 *
 * Checked: the session never crashes, every request is well formed, it never issues more than
 * a few non-I/O requests in a row, progress never exceeds its total, and it always ends.
 */
#include "../unit/asr1803_fixture.h"
#include "asr/asr1803_pkg.h"
#include "asr1803/asr1803.h"
#include "asr1803/wtptp_wire.h"
#include "package/pkg.h"
#include "protocol.h"
#include "fuzz_session.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fx_pkg fixtures[2];
static void *pkgs[2];

static void *package(int variant)
{
    if (!pkgs[variant]) {
        struct fx_spec sp = {.with_dkb = 1, .nimg = 3, .img_len = {3000, 500, 5}};
        if (variant) {
            sp.split = 1;
            sp.ddr_alt = "0x1234";
            sp.nimg = 2;
        }
        fx_build(&fixtures[variant], &sp);
        char err[200];
        if (asr1803_pkg_hook_parse(fixtures[variant].file.p, fixtures[variant].file.len,
                                   &pkgs[variant], err, sizeof(err)) < 0)
            __builtin_trap();
    }
    return pkgs[variant];
}

static size_t status(uint8_t *out, uint8_t cmd, uint8_t seq, uint8_t st, uint8_t flags,
                     const uint8_t *d, uint8_t dlen)
{
    out[0] = cmd, out[1] = seq, out[2] = 0, out[3] = st, out[4] = flags, out[5] = dlen;
    if (dlen)
        memcpy(out + 6, d, dlen);
    return 6u + dlen;
}

/* A status that fits the command the host wrote last. */
static size_t plausible(const uint8_t *last, size_t last_len, int raw_pending, struct input *in,
                        uint8_t *out, int *said_rom)
{
    int c = next(in);
    uint8_t k = c < 0 ? 0 : (uint8_t)c;
    if (raw_pending)
        return status(out, WTPTP_DATA, 0, 0, k & 1, NULL, 0);
    if (last_len == 4 && memcmp(last, wtptp_preamble, 4) == 0) {
        memset(out, 0, 6);
        return k & 1 ? 6 : 4;
    }
    if (last_len < 8)
        return 0;
    uint8_t cmd = last[0], seq = last[1], flags = k & 3 ? 0 : WTPTP_FLAG_MSG_PENDING;
    uint8_t v[24] = "1133\x14\x20\x01\x06"
                    "3AZN"
                    "8080"
                    "\0\0\0\x08"
                    "\xc8\x40\x18\0";
    switch (cmd) {
    case WTPTP_GETVERSION:
        *said_rom = (k & 0x10) != 0;
        if (*said_rom)
            memcpy(v, "0001", 4);
        return status(out, cmd, seq, 0, flags, v, k & 0x20 ? 12 : 24);
    case WTPTP_SELECTIMAGE: {
        static const uint32_t ids[] = {FX_TIMH,    FX_DKBI,    0x46424631, 0x46424632,
                                       0x46424633, 0x58585858, 0x46424631, FX_TIMH};
        uint32_t id = ids[(k >> 2) & 7];
        uint8_t b[4] = {(uint8_t)id, (uint8_t)(id >> 8), (uint8_t)(id >> 16), (uint8_t)(id >> 24)};
        return status(out, cmd, seq, 0, flags, b, 4);
    }
    case WTPTP_DATAHEADER: {
        static const uint32_t bufs[] = {0x4000, 0x10000, 1, 777, 0, 0x4000, 64, 0xFFFFFFFFu};
        uint32_t b = bufs[(k >> 2) & 7];
        uint8_t x[4] = {(uint8_t)b, (uint8_t)(b >> 8), (uint8_t)(b >> 16), (uint8_t)(b >> 24)};
        return status(out, cmd, seq, 0, (uint8_t)(flags | (k & 0x20 ? WTPTP_FLAG_FAST : 0)), x, 4);
    }
    case WTPTP_MESSAGE: {
        static const uint8_t msgs[][6] = {{0, 0, 2, 0, 0, 0}, {0, 0, 1, 0, 0, 0},
                                          {0, 0, 5, 0, 0, 0}, {1, 0, 0x21, 0, 0, 0},
                                          {2, 0, 0, 1, 0, 0}, {4, 0, 0, 0, 0, 1}};
        int m = (k >> 2) & 7;
        if (m >= 6)
            return status(out, cmd, seq, 0, flags, NULL, 0);
        return status(out, cmd, seq, 0, flags, msgs[m], 6);
    }
    default:
        return status(out, cmd, seq, (k & 0xC0) == 0xC0 ? WTPTP_NACK : 0, flags, NULL, 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    static const char *const options[] = {NULL, "fast=0;chunk=64", "reboot_check=0",
                                          "processor=;ready_ms=1000"};
    struct input in = {data, size, 1};
    uint8_t cfg = data[0];
    struct proto_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.link = (struct proto_link){PROTO_LINK_USB_BULK, 0x2ecc, 0x3002, 512, 0};
    struct proto_params params = {.package = package(cfg & 1), .options = options[(cfg >> 1) & 3]};
    void *s = NULL;
    if (asr1803_proto.session_new(&params, &ctx, &s) != 0)
        __builtin_trap();
    struct proto_event ev = {.type = PROTO_EV_START};
    struct proto_request req;
    uint8_t last[64], reply[300];
    size_t last_len = 0;
    int raw_pending = 0, said_rom = 0;
    unsigned idle = 0;
    for (unsigned steps = 0;; steps++) {
        if (steps > 2000000)
            __builtin_trap(); /* never ends */
        asr1803_proto.step(s, &ev, &req);
        memset(&ev, 0, sizeof(ev));
        if (req.type == PROTO_REQ_READ || req.type == PROTO_REQ_WRITE)
            idle = 0;
        else if (++idle > 8)
            __builtin_trap(); /* busy without I/O */
#ifdef FUZZ_TRACE             /* -DFUZZ_TRACE: how each input ends, to check that seeds go deep */
        if (req.type == PROTO_REQ_DONE || req.type == PROTO_REQ_FAIL)
            fprintf(stderr, "%s %s: %s (done %llu of %llu)\n",
                    req.type == PROTO_REQ_DONE ? "DONE" : "FAIL", fail_code_to_string(req.fail),
                    req.message, (unsigned long long)ctx.progress.done,
                    (unsigned long long)ctx.progress.total);
#endif
        if (fuzz_session_ended(&req, &ctx))
            break;
        switch (req.type) {
        case PROTO_REQ_WRITE: {
            if (!req.data || req.len == 0 || req.len > 0x20000 || !req.timeout_ms)
                __builtin_trap();
            /* A command starts with a known CMD byte and says its length; anything else is
             * fast-mode image data. */
            int cmd = req.len >= 8 && req.len == 8 + (size_t)wtptp_le32(req.data + 4);
            int pre = req.len == 4 && memcmp(req.data, wtptp_preamble, 4) == 0;
            if (cmd || pre) {
                last_len = req.len < sizeof(last) ? req.len : sizeof(last);
                memcpy(last, req.data, last_len);
                raw_pending = 0;
            } else {
                raw_pending = 1;
            }
            ev.type = PROTO_EV_TX_DONE;
            break;
        }
        case PROTO_REQ_READ: {
            if (req.len < WTPTP_STATUS_MAX || !req.timeout_ms)
                __builtin_trap();
            int c = next(&in);
            if (c < 0 || c % 16 == 0) {
                ev.type = PROTO_EV_TIMEOUT;
                ctx.now_ms += req.timeout_ms;
                break;
            }
            if (c % 16 == 15 && ctx.expect_leave_ms) {
                /* Left as announced after DISCONNECT and came back. */
                ctx.expect_leave_ms = 0;
                ctx.link.pid = cfg & 0x10 ? 0x3001 : 0x6005;
                ctx.link.vid = cfg & 0x10 ? 0x2ecc : 0x2c7c;
                ev.type = PROTO_EV_ATTACHED;
                break;
            }
            size_t n;
            if (c % 16 == 1) {
                n = fuzz_take_raw(&in, reply, 40);
            } else {
                n = plausible(last, last_len, raw_pending, &in, reply, &said_rom);
                raw_pending = 0;
                if (c % 16 == 2 && n)
                    fuzz_corrupt(&in, reply, n);
            }
            if (n == 0) {
                ev.type = PROTO_EV_TIMEOUT;
                ctx.now_ms += req.timeout_ms;
                break;
            }
            ev.type = PROTO_EV_RX;
            ev.data = reply;
            ev.len = n;
            ctx.now_ms += 1;
            break;
        }
        case PROTO_REQ_WAIT:
            ctx.now_ms += req.timeout_ms;
            ev.type = PROTO_EV_WAKE;
            break;
        case PROTO_REQ_REENUMERATE:
            if (!ctx.expect_leave_ms)
                __builtin_trap(); /* re-enumeration is only asked after DISCONNECT */
            ctx.expect_leave_ms = 0;
            /* After the boot ROM the DKB comes back as a download port; after the DKB the
             * module reboots (or, with bit 0x20 clear, wrongly stays in download mode). */
            ctx.link.vid = cfg & 0x20 && !said_rom ? 0x2c7c : 0x2ecc;
            ctx.link.pid = cfg & 0x20 && !said_rom ? 0x6005 : (cfg & 0x40 ? 0x3001 : 0x3002);
            said_rom = 0;
            ev.type = PROTO_EV_ATTACHED;
            break;
        default:
            __builtin_trap();
        }
    }
    asr1803_proto.session_free(s);
    return 0;
}
