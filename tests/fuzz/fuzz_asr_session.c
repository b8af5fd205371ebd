/* Fuzz target: the ASR Crane host session against a device whose every answer comes from the
 * input. Byte 0 picks the link, the options and the ROM version the plausible answers report.
 * Then each READ takes one control byte: a timeout, raw input bytes, a heartbeat, an INFO
 * line, or a plausible answer to the host's last frame (UABT, HELLO_REPLY, DATA<size>, OKAY,
 * a getvar value) with an optional corrupted byte, so runs reach the flasher, the sparse
 * segments and the reboot instead of dying at the first frame.
 *
 * Checked: the session never crashes, every request is well formed, every frame it writes
 * decodes cleanly and stays within the MTU, it never issues many requests in a row without
 * reading (no busy loop), progress never exceeds its total, and it always ends.
 */
#include "asr/asr.h"
#include "asr/asr_pkg.h"
#include "asr/asr_wire.h"
#include "package/pkg.h"
#include "protocol.h"
#include "fuzz_session.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NIMG 6

struct fx {
    struct pkg pkg;
    struct asr_pkg ap;
    struct asr_cmd cmds[10];
    struct pkg_image img[NIMG];
    uint8_t bytes[NIMG][9000];
};

static void fx_add(struct fx *f, const char *command, const char *part, size_t len,
                   const char *bootrom)
{
    struct asr_cmd *c = &f->cmds[f->ap.dl.count++];
    snprintf(c->command, sizeof(c->command), "%s", command);
    snprintf(c->partition, sizeof(c->partition), "%s", part);
    snprintf(c->bootrom, sizeof(c->bootrom), "%s", bootrom);
    snprintf(c->image, sizeof(c->image), "%s.bin", command);
    if (!strcmp(command, "require") || !strcmp(command, "progress"))
        return;
    struct pkg_image *im = &f->img[f->ap.images.count];
    snprintf(im->type, sizeof(im->type), "%s", command);
    if (len) {
        uint8_t *d = f->bytes[f->ap.images.count];
        for (size_t i = 0; i < len; i++)
            d[i] = (uint8_t)(i * 7 + 0x7D);
        im->data = d;
        im->size = len;
    }
    f->ap.images.count++;
}

static void fx_init(struct fx *f)
{
    memset(f, 0, sizeof(*f));
    f->ap.dl.cmds = f->cmds;
    f->ap.images.items = f->img;
    f->ap.images.cap = NIMG;
    f->pkg.parsed_kind = PKG_PARSED_ASR;
    f->pkg.parsed = &f->ap;
    fx_add(f, "require", "", 0, "");
    snprintf(f->cmds[0].name, sizeof(f->cmds[0].name), "product");
    snprintf(f->cmds[0].value, sizeof(f->cmds[0].value), "arom|arom-tiny");
    fx_add(f, "call", "", 1500, "");
    fx_add(f, "call", "", 1700, "2019.01.15");
    fx_add(f, "partition", "", 0x88C, "");
    fx_add(f, "flash", "app", 9000, "");
    fx_add(f, "erase", "fs", 0, "");
}

/* What the host wrote last, as the device would see it. */
struct host_view {
    struct asr_smux_dec dec;
    uint8_t type;
    char cmd[ASR_ABOOT_CMD_MAX + 1];
    uint32_t want, got; /* download in progress */
    int data_done;
    int any;
};

static void host_wrote(struct host_view *h, const uint8_t *p, size_t n, uint32_t mtu)
{
    while (n) {
        size_t used = 0;
        struct asr_smux_frame f;
        enum asr_dec_result r = asr_smux_dec_feed(&h->dec, p, n, &used, &f);
        p += used;
        n -= used;
        if (r == ASR_DEC_ERROR)
            __builtin_trap(); /* the host wrote a malformed frame */
        if (r != ASR_DEC_FRAME)
            continue;
        if (f.len > ASR_SMUX_MTU || (f.type == ASR_SMUX_ABOOT_DATA && f.len > mtu))
            __builtin_trap(); /* over the MTU the device accepted */
        h->any = 1;
        h->type = f.type;
        h->data_done = 0;
        if (f.type == ASR_SMUX_ABOOT_CMD) {
            if (f.len > ASR_ABOOT_CMD_MAX)
                __builtin_trap();
            memcpy(h->cmd, f.payload, f.len);
            h->cmd[f.len] = '\0';
            if (!strncmp(h->cmd, "download:", 9)) {
                h->want = (uint32_t)strtoul(h->cmd + 9, NULL, 16);
                h->got = 0;
            }
        } else if (f.type == ASR_SMUX_ABOOT_DATA) {
            h->got += (uint32_t)f.len;
            if (h->got > h->want)
                __builtin_trap(); /* more data than announced */
            h->data_done = h->got == h->want;
        }
    }
}

/* A frame that fits what the host just wrote. */
static size_t plausible(const struct host_view *h, const char *bootrom, uint8_t *out, size_t cap)
{
    char text[64];
    if (h->type == ASR_SMUX_STDIO)
        return asr_smux_encode(out, cap, ASR_SMUX_STDIO, (const uint8_t *)"UABT", 4);
    if (h->type == ASR_SMUX_HELLO)
        return asr_smux_encode(out, cap, ASR_SMUX_HELLO_REPLY, (const uint8_t *)"\x01\x00", 2);
    if (h->type == ASR_SMUX_ABOOT_CMD && !strncmp(h->cmd, "download:", 9))
        snprintf(text, sizeof(text), "DATA%.8s", h->cmd + 9);
    else if (!strcmp(h->cmd, "getvar:product"))
        snprintf(text, sizeof(text), "OKAYarom-tiny");
    else if (!strcmp(h->cmd, "getvar:version-bootrom"))
        snprintf(text, sizeof(text), "OKAY%s", bootrom);
    else if (!strcmp(h->cmd, "getvar:max-download-size"))
        snprintf(text, sizeof(text), "OKAY0x2000");
    else
        snprintf(text, sizeof(text), "OKAY");
    return asr_smux_encode(out, cap, ASR_SMUX_ABOOT_CMD, (const uint8_t *)text, strlen(text));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    static const char *const options[] = {NULL, "mtu=256", "reboot=0;link_ms=0",
                                          "max_download=0x1100;probe_ms=300"};
    struct input in = {data, size, 1};
    uint8_t cfg = data[0];
    const char *bootrom = cfg & 0x10 ? "2019.01.15" : "2020.07.30";
    struct fx *f = malloc(sizeof(*f));
    struct host_view *h = calloc(1, sizeof(*h));
    if (!f || !h) {
        free(f);
        free(h);
        return 0;
    }
    fx_init(f);
    asr_smux_dec_init(&h->dec);
    struct proto_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.link.kind = cfg & 2 ? PROTO_LINK_SERIAL : PROTO_LINK_USB_BULK;
    ctx.link.vid = 0x2ecc;
    ctx.link.pid = 0x3004;
    ctx.link.max_packet = cfg & 2 ? 0 : (cfg & 1 ? 64 : 512);
    struct proto_params params = {.package = &f->pkg, .options = options[(cfg >> 2) & 3]};
    uint32_t mtu = (cfg >> 2 & 3) == 1 ? 256 : 1024;
    void *s = NULL;
    if (asr_proto.session_new(&params, &ctx, &s) != 0)
        __builtin_trap();
    struct proto_event ev = {.type = PROTO_EV_START};
    struct proto_request req;
    uint8_t reply[600];
    unsigned no_read = 0;
    for (unsigned steps = 0;; steps++) {
        if (steps > 1000000)
            __builtin_trap(); /* never ends */
        asr_proto.step(s, &ev, &req);
        memset(&ev, 0, sizeof(ev));
        if (req.type != PROTO_REQ_READ && ++no_read > 32)
            __builtin_trap(); /* busy without I/O from the device */
        if (fuzz_session_ended(&req, &ctx))
            break;
        switch (req.type) {
        case PROTO_REQ_WRITE:
            if (!req.data || req.len == 0 || req.len > 0x5000)
                __builtin_trap();
            if (ctx.link.max_packet && req.len % ctx.link.max_packet == 0)
                __builtin_trap(); /* would need a ZLP */
            host_wrote(h, req.data, req.len, mtu);
            ev.type = PROTO_EV_TX_DONE;
            ctx.now_ms += 1;
            break;
        case PROTO_REQ_READ: {
            no_read = 0;
            if (req.len == 0 || req.timeout_ms == 0)
                __builtin_trap();
            int c = next(&in);
            size_t n = 0;
            if (c < 0 || c % 16 == 0) {
                ev.type = PROTO_EV_TIMEOUT;
                ctx.now_ms += req.timeout_ms;
                break;
            }
            if (c % 16 == 15 && ctx.expect_leave_ms) {
                ctx.expect_leave_ms = 0; /* left after reboot, as announced, and came back */
                ctx.link.vid = cfg & 0x20 ? 0x2ecc : 0x2c7c;
                ctx.link.pid = cfg & 0x20 ? 0x3004 : 0x6001;
                ev.type = PROTO_EV_ATTACHED;
                break;
            }
            if (c % 16 == 1) {
                n = fuzz_take_raw(&in, reply, 64);
            } else if (c % 16 == 3) {
                n = asr_smux_encode(reply, sizeof(reply), ASR_SMUX_HEART_BEAT, (const uint8_t *)"H",
                                    1);
                ctx.now_ms += 299;
            } else if (c % 16 == 4) {
                n = asr_smux_encode(reply, sizeof(reply), ASR_SMUX_ABOOT_CMD,
                                    (const uint8_t *)"INFOfuzz", 8);
            } else if (h->any) {
                if (h->type == ASR_SMUX_ABOOT_DATA && !h->data_done)
                    n = 0; /* nothing to say until the download is complete */
                else if (h->type == ASR_SMUX_ABOOT_DATA)
                    n = asr_smux_encode(reply, sizeof(reply), ASR_SMUX_ABOOT_CMD,
                                        (const uint8_t *)"OKAY", 4);
                else
                    n = plausible(h, bootrom, reply, sizeof(reply));
                if (c % 16 == 2 && n)
                    fuzz_corrupt(&in, reply, n);
            }
            if (n > req.len)
                n = req.len;
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
        case PROTO_REQ_SET_LINE:
            ev.type = PROTO_EV_TX_DONE;
            break;
        case PROTO_REQ_WAIT:
            ctx.now_ms += req.timeout_ms;
            ev.type = PROTO_EV_WAKE;
            break;
        case PROTO_REQ_REENUMERATE:
            ctx.expect_leave_ms = 0;
            ctx.link.vid = cfg & 0x20 ? 0x2ecc : 0x2c7c;
            ctx.link.pid = cfg & 0x20 ? 0x3004 : 0x6001;
            ev.type = PROTO_EV_ATTACHED;
            break;
        default:
            __builtin_trap();
        }
    }
    asr_proto.session_free(s);
    free(f);
    free(h);
    return 0;
}
