/* Fuzz target: the Unisoc host session against a device whose every answer comes from the
 * input. Byte 0 picks the package (8910 / 8850), the link and the options. Then each READ
 * takes one control byte: a timeout, raw input bytes, or a plausible reply (PDL ACK, VER,
 * ACK in the check mode the host just used) with an optional corrupted byte, so runs reach
 * FDL2 and the flash writes instead of dying at the first frame.
 *
 * Checked: the session never crashes, every request is well formed, it never issues more
 * than a few requests in a row without reading (no busy loop), progress never exceeds its
 * total, and it always ends.
 */
#include "package/pkg.h"
#include "protocol.h"
#include "fuzz_session.h"
#include "unisoc/unisoc.h"
#include "unisoc/unisoc_pkg.h"
#include "unisoc/unisoc_wire.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NIMG 6

struct fx {
    struct pkg pkg;
    struct unisoc_pac pac;
    struct unisoc_xml_file xml[NIMG];
    struct pkg_image img[NIMG];
    uint8_t bytes[NIMG][3000];
};

static void fx_add(struct fx *f, const char *id, const char *type, const char *block, uint64_t base,
                   uint64_t size, size_t len)
{
    struct unisoc_xml_file *x = &f->xml[f->pac.nxml];
    snprintf(x->id, sizeof(x->id), "%s", id);
    snprintf(x->type, sizeof(x->type), "%s", type);
    snprintf(x->block_id, sizeof(x->block_id), "%s", block);
    x->base = base;
    x->size = size;
    x->flag = len > 0;
    if (len) {
        struct pkg_image *img = &f->img[f->pac.images.count];
        uint8_t *d = f->bytes[f->pac.nxml];
        for (size_t i = 0; i < len; i++)
            d[i] = (uint8_t)(i * 7 + 0x7D);
        snprintf(img->name, sizeof(img->name), "%s", id);
        img->address = base < 0xFFFFFFFFull ? base : PKG_ADDR_NONE;
        img->size = len;
        img->data = d;
        f->pac.images.count++;
    }
    f->pac.nxml++;
}

static void fx_init(struct fx *f, int classic)
{
    memset(f, 0, sizeof(*f));
    f->pac.xml = f->xml;
    f->pac.images.items = f->img;
    f->pac.images.cap = NIMG;
    f->pkg.parsed_kind = PKG_PARSED_PAC;
    f->pkg.parsed = &f->pac;
    if (classic)
        fx_add(f, "FDL", "FDL", "", 0x5500, 0x8000, 1001);
    else
        fx_add(f, "HOST_FDL", "HOST_FDL", "", 0x8000c0, 0xff40, 2100);
    fx_add(f, "FDL2", "FDL2", "", 0x810000, 0x30000, 2200);
    fx_add(f, "BOOT", "CODE", "", 0x60000000, 0x10000, 2999);
    fx_add(f, "NV", "NV", "nv", 0xFFFFFFFF, 0x20000, 300);
    fx_add(f, "ERASE_FS", "EraseFlash", "", 0x604E0000, 0x60000, 0);
    fx_add(f, "PY_FS", "CODE2", "py_fs", 0xFFFFFFFF, 0x1000, 500);
}

/* A reply that fits what the host just wrote. */
static size_t plausible(const uint8_t *last, size_t last_len, int crc_mode, uint8_t *out)
{
    if (last_len && last[0] == UNISOC_PDL_TAG) {
        static const uint8_t ack[] = {0xAE, 4, 0, 0, 0, 0xFF, 0, 0, 0, 0, 0, 0};
        memcpy(out, ack, sizeof(ack));
        return sizeof(ack);
    }
    enum unisoc_check ck = crc_mode ? UNISOC_CHECK_CRC16 : UNISOC_CHECK_SUM;
    if (last_len == 1 && last[0] == UNISOC_BSL_FLAG)
        return unisoc_bsl_encode(out, 64, UNISOC_REP_VER, (const uint8_t *)"SPRD3", 6, ck, 1);
    return unisoc_bsl_encode(out, 64, UNISOC_REP_ACK, NULL, 0, ck, 1);
}

static int packet_complete(const uint8_t *p, size_t n)
{
    if (n == 0)
        return 1;
    if (p[0] == UNISOC_PDL_TAG)
        return n >= 8 && n >= 8 + ((size_t)p[1] | (size_t)p[2] << 8);
    return n == 1 || p[n - 1] == UNISOC_BSL_FLAG;
}

/* The check mode the host used for its last frame: answer in the same one. */
static int frame_is_crc(const uint8_t *p, size_t n, int dflt)
{
    struct unisoc_bsl_dec *d = malloc(sizeof(*d));
    struct unisoc_bsl_frame fr;
    size_t used;
    int r = dflt;
    if (!d)
        return r;
    unisoc_bsl_dec_init(d, 1);
    if (unisoc_bsl_dec_feed(d, p, n, &used, &fr) == UNISOC_DEC_FRAME)
        r = fr.crc_ok && !fr.sum_ok;
    free(d);
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    static const char *const options[] = {NULL, "write_nv=1;transcode=0", "baud=115200;chunk=64",
                                          "ver=SPRD"};
    struct input in = {data, size, 1};
    uint8_t cfg = data[0];
    int classic = cfg & 1;
    struct fx *f = malloc(sizeof(*f));
    if (!f)
        return 0;
    fx_init(f, classic);
    struct proto_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.link.kind = cfg & 2 ? PROTO_LINK_SERIAL : PROTO_LINK_USB_BULK;
    ctx.link.vid = 0x1782;
    ctx.link.pid = 0x4d00;
    ctx.link.max_packet = cfg & 2 ? 0 : 64;
    struct proto_params params = {.package = &f->pkg, .options = options[(cfg >> 2) & 3]};
    void *s = NULL;
    if (unisoc_proto.session_new(&params, &ctx, &s) != 0)
        __builtin_trap();
    struct proto_event ev = {.type = PROTO_EV_START};
    struct proto_request req;
    uint8_t last[0x2000], reply[4096];
    size_t last_len = 0;
    int crc_mode = classic;
    unsigned no_read = 0;
    for (unsigned steps = 0;; steps++) {
        if (steps > 1000000)
            __builtin_trap(); /* never ends */
        unisoc_proto.step(s, &ev, &req);
        memset(&ev, 0, sizeof(ev));
        if (req.type != PROTO_REQ_READ && ++no_read > 16)
            __builtin_trap(); /* busy without I/O from the device */
        if (fuzz_session_ended(&req, &ctx))
            break;
        switch (req.type) {
        case PROTO_REQ_WRITE:
            if (!req.data || req.len == 0 || req.len > 0x20000)
                __builtin_trap();
            /* Remember the packet (all its pieces when it was split) to answer it. */
            if (!packet_complete(last, last_len) && last_len + req.len <= sizeof(last)) {
                memcpy(last + last_len, req.data, req.len);
                last_len += req.len;
            } else if (req.len <= sizeof(last)) {
                memcpy(last, req.data, req.len);
                last_len = req.len;
            }
            if (packet_complete(last, last_len) && last_len >= 8 && last[0] == UNISOC_BSL_FLAG)
                crc_mode = frame_is_crc(last, last_len, crc_mode);
            ev.type = PROTO_EV_TX_DONE;
            break;
        case PROTO_REQ_READ: {
            no_read = 0;
            if (req.len == 0)
                __builtin_trap();
            int c = next(&in);
            if (c < 0 || c % 16 == 0) {
                ev.type = PROTO_EV_TIMEOUT;
                ctx.now_ms += req.timeout_ms;
                break;
            }
            if (c % 16 == 15 && ctx.expect_leave_ms) {
                /* The device left after NORMAL_RESET, as announced, and came back. */
                ctx.expect_leave_ms = 0;
                ctx.link.vid = 0x2c7c;
                ctx.link.pid = 0x0901;
                ev.type = PROTO_EV_ATTACHED;
                break;
            }
            size_t n;
            if (c % 16 == 1) {
                n = fuzz_take_raw(&in, reply, 64);
            } else {
                n = plausible(last, last_len, crc_mode, reply);
                /* The ROM answers EXEC with a CRC ACK, then FDL1 speaks with the sum. */
                if (crc_mode && last_len >= 3 && last[0] == UNISOC_BSL_FLAG && last[1] == 0 &&
                    last[2] == UNISOC_CMD_EXEC_DATA)
                    crc_mode = 0;
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
            ctx.link.vid = (cfg & 0x10) ? 0x1782 : 0x2c7c; /* back in download mode? */
            ctx.link.pid = (cfg & 0x10) ? 0x4d00 : 0x0901;
            ev.type = PROTO_EV_ATTACHED;
            break;
        default:
            __builtin_trap();
        }
    }
    unisoc_proto.session_free(s);
    free(f);
    return 0;
}
