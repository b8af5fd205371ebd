/* Test helpers for test_unisoc_session.c: a hand-built PAC description and a scripted fake
 * Unisoc device (canned golden replies per stage, a memory of written regions, one injected
 * fault). Written from protocols/unisoc.md, independently of tests/sim. Header-only because
 * each tests/unit/test_*.c is its own program. */
#ifndef FLASHRACK_TEST_UNISOC_FAKE_H
#define FLASHRACK_TEST_UNISOC_FAKE_H

#include "package/pkg.h"
#include "unisoc/unisoc_pkg.h"
#include "unisoc/unisoc_wire.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* ---- package fixture -------------------------------------------------------------------- */

#define MAXF 12

struct fixture {
    struct pkg pkg;
    struct unisoc_pac pac;
    struct unisoc_xml_file xml[MAXF];
    struct pkg_image img[MAXF];
    uint8_t *data[MAXF];
    size_t ndata;
};

static void fx_add(struct fixture *fx, const char *id, const char *type, const char *block,
                   uint64_t base, uint64_t size, size_t datalen, uint32_t seed)
{
    struct unisoc_xml_file *x = &fx->xml[fx->pac.nxml++];
    snprintf(x->id, sizeof(x->id), "%s", id);
    snprintf(x->type, sizeof(x->type), "%s", type);
    snprintf(x->block_id, sizeof(x->block_id), "%s", block);
    x->base = base;
    x->size = size;
    x->flag = datalen > 0;
    x->check = 1;
    if (!datalen)
        return;
    uint8_t *d = malloc(datalen);
    assert_non_null(d);
    for (size_t i = 0; i < datalen; i++) {
        seed = seed * 1103515245u + 12345u;
        d[i] = (uint8_t)(seed >> 16);
    }
    d[0] = 0x7E; /* every image needs escaping somewhere */
    d[1] = 0x7D;
    fx->data[fx->ndata++] = d;
    struct pkg_image *img = &fx->img[fx->pac.images.count++];
    memset(img, 0, sizeof(*img));
    snprintf(img->name, sizeof(img->name), "%s", id);
    snprintf(img->type, sizeof(img->type), "%s", type);
    snprintf(img->partition, sizeof(img->partition), "%s", block);
    img->address = base < 0xFFFFFFFFull ? base : PKG_ADDR_NONE;
    img->size = datalen;
    img->offset = 0;
    img->data = d;
}

static struct fixture *fx_new(const char *product)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    snprintf(fx->pac.product, sizeof(fx->pac.product), "%s", product);
    fx->pac.xml = fx->xml;
    fx->pac.images.items = fx->img;
    fx->pac.images.cap = MAXF;
    fx->pac.xml_index = -1;
    fx->pkg.parsed_kind = PKG_PARSED_PAC;
    fx->pkg.parsed = &fx->pac;
    fx->pkg.platform = PKG_PLATFORM_UNISOC;
    return fx;
}

/* Shaped like the Quectel UIS8910DM PACs of the notes (§4.3, §8) and tests/mkpkg. */
static struct fixture *fx_8910(void)
{
    struct fixture *fx = fx_new("UIX8910_MODEM");
    fx_add(fx, "HOST_FDL", "HOST_FDL", "", 0x8000c0, 0xff40, 3000, 1);
    fx_add(fx, "FDL2", "FDL2", "", 0x810000, 0x30000, 5001, 2); /* odd: padded */
    fx_add(fx, "BOOT", "CODE", "", 0x60000000, 0x10000, 6000, 3);
    fx_add(fx, "AP", "CODE", "", 0x60010000, 0x400000, 20000, 4);
    fx_add(fx, "NV", "NV", "nv", 0xFFFFFFFF, 0x20000, 4000, 5);
    fx_add(fx, "FLASH", "EraseFlash", "", 0xFE000001, 0, 0, 0);
    fx_add(fx, "ERASE_PY_FS_U", "EraseFlash", "", 0x604E0000, 0x60000, 0, 0);
    fx_add(fx, "FMT_FSSYS", "EraseFlash", "", 0xFE000006, 0x53595346, 0, 0);
    fx_add(fx, "PY_FS_U", "CODE2", "py_fs", 0x60c00000, 0x100000, 8000, 7);
    return fx;
}

static struct fixture *fx_8850(void)
{
    struct fixture *fx = fx_new("UIS8850DG");
    fx_add(fx, "FDL", "FDL", "", 0x5500, 0x8000, 1111, 11); /* odd, CRC stage: no pad */
    fx_add(fx, "FDL2", "FDL2", "", 0x9efffe00, 0x30000, 4000, 12);
    fx_add(fx, "BOOT", "CODE", "", 0x60000000, 0x10000, 3000, 13);
    fx_add(fx, "AP", "CODE", "", 0x60010000, 0x400000, 9000, 14);
    fx_add(fx, "NV", "NV", "", 0xFE000003, 0x20000, 2000, 15);
    return fx;
}

static void fx_free(struct fixture *fx)
{
    for (size_t i = 0; i < fx->ndata; i++)
        free(fx->data[i]);
    free(fx);
}

/* ---- scripted fake device --------------------------------------------------------------- */

enum fault {
    F_NONE = 0,
    F_NAK,          /* DOWN_SIZE_ERROR */
    F_BADCHECK,     /* ACK with a wrong check value */
    F_SILENCE,      /* no reply */
    F_TRUNC_OPEN,   /* the start of a frame, then nothing */
    F_TRUNC_CLOSED, /* closed frame whose length field disagrees */
    F_VERIFY_ONCE,  /* VERIFY_ERROR, the resend is accepted */
    F_LOG,          /* a LOG frame before the real reply */
    F_DOUBLE_VER,   /* two VERs for one check-baud */
    F_PDL_NAK,      /* PDL status INVALID_ADDR */
    F_INCOMPAT,     /* FDL2 EXEC answers INCOMPATIBLE_PARTITION */
};

struct region {
    uint32_t addr;
    char name[40];
    uint8_t buf[32768];
    size_t len, announced;
    uint32_t checksum;
    int has_checksum, ended;
};

struct fake {
    int classic;          /* classic BSL ROM; else UIS8910 PDL ROM */
    int bsl_rom;          /* an 8910 package meets a BSL ROM that answers anything with VER */
    int drop_after_reset; /* leaves the bus right after NORMAL_RESET arrives */
    int answers_junk;     /* the 8910 PDL ROM answers non-PDL bytes with a PDL error */
    int stage;            /* 0 ROM, 1 FDL1, 2 FDL2, 3 reset */
    uint8_t in[80000];
    size_t in_len;
    uint8_t out[4096];
    size_t out_len, out_off;
    size_t piece; /* most bytes per RX, 0 = everything queued */
    struct region reg[12];
    int nreg;
    struct region *open;
    uint32_t erased[12];
    int nerased;
    unsigned seen[4][256]; /* commands per stage */
    unsigned pdl_idx;
    enum fault fault;
    int fault_stage;
    unsigned fault_cmd, fault_nth;
    int fault_done;
    uint32_t baud;
    int transcode_off;
    char error[200]; /* the host broke a rule */
};

static const uint8_t ack_crc[] = {0x7E, 0x00, 0x80, 0x00, 0x00, 0x3B, 0x5A, 0x7E};
static const uint8_t ack_sum[] = {0x7E, 0x00, 0x80, 0x00, 0x00, 0xFF, 0x7F, 0x7E};
static const uint8_t ver_rom[] = {0x7E, 0x00, 0x81, 0x00, 0x06, 0x53, 0x50,
                                  0x52, 0x44, 0x33, 0x00, 0x57, 0x0A, 0x7E};

static void dev_err(struct fake *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void dev_err(struct fake *d, const char *fmt, ...)
{
    if (d->error[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->error, sizeof(d->error), fmt, ap);
    va_end(ap);
}

static void queue(struct fake *d, const uint8_t *p, size_t n)
{
    assert_true(d->out_len + n <= sizeof(d->out));
    memcpy(d->out + d->out_len, p, n);
    d->out_len += n;
}

static void queue_frame(struct fake *d, uint16_t type, const char *payload, size_t n)
{
    uint8_t f[256];
    size_t w =
        unisoc_bsl_encode(f, sizeof(f), type, (const uint8_t *)payload, n,
                          d->stage == 0 ? UNISOC_CHECK_CRC16 : UNISOC_CHECK_SUM, !d->transcode_off);
    queue(d, f, w);
}

static void queue_pdl(struct fake *d, uint32_t status)
{
    uint8_t r[12] = {0xAE, 4, 0, 0, 0, 0xFF, 0, 0, (uint8_t)status, 0, 0, 0};
    queue(d, r, sizeof(r));
}

/* The reply to a command, with the scenario's fault applied at its (stage, cmd, nth). */
static void reply(struct fake *d, unsigned cmd, int ok)
{
    int hit = d->fault && !d->fault_done && d->fault_stage == d->stage && d->fault_cmd == cmd &&
              d->seen[d->stage][cmd] == d->fault_nth;
    if (hit) {
        d->fault_done = 1;
        switch (d->fault) {
        case F_NAK:
            queue_frame(d, 0x8A, "", 0);
            return;
        case F_BADCHECK:
            queue(d, (const uint8_t *)"\x7E\x00\x80\x00\x00\x12\x34\x7E", 8);
            return;
        case F_SILENCE:
            return;
        case F_TRUNC_OPEN:
            queue(d, (const uint8_t *)"\x7E\x00\x80\x00", 4);
            return;
        case F_TRUNC_CLOSED:
            queue(d, (const uint8_t *)"\x7E\x00\x80\x00\x04\xAA\xBB\x12\x34\x7E", 10);
            return;
        case F_VERIFY_ONCE:
            d->seen[d->stage][cmd]--; /* the resend counts as the same chunk */
            queue_frame(d, 0x8B, "", 0);
            return;
        case F_LOG:
            queue_frame(d, 0xFF, "writing...", 10);
            break;
        case F_INCOMPAT:
            queue_frame(d, 0x96, "", 0);
            return;
        default:
            break;
        }
    }
    if (!ok)
        queue_frame(d, 0x82, "", 0);
    else if (d->stage == 0)
        queue(d, ack_crc, sizeof(ack_crc));
    else if (d->transcode_off)
        queue_frame(d, 0x80, "", 0);
    else
        queue(d, ack_sum, sizeof(ack_sum));
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static struct region *dev_open(struct fake *d, uint32_t addr, const char *name, size_t size)
{
    assert_true(d->nreg < 12);
    struct region *r = &d->reg[d->nreg++];
    memset(r, 0, sizeof(*r));
    r->addr = addr;
    snprintf(r->name, sizeof(r->name), "%s", name);
    r->announced = size;
    d->open = r;
    return r;
}

static void dev_data(struct fake *d, const uint8_t *p, size_t n, size_t max)
{
    if (!d->open || d->open->ended) {
        dev_err(d, "data without START");
        return;
    }
    if (n > max) {
        dev_err(d, "chunk of %zu bytes in stage %d (max %zu)", n, d->stage, max);
        return;
    }
    if (d->stage > 0 && (n & 1)) {
        dev_err(d, "odd chunk of %zu bytes in sum mode", n);
        return;
    }
    if (d->open->len + n > d->open->announced || d->open->len + n > sizeof(d->open->buf)) {
        dev_err(d, "more data than announced");
        return;
    }
    memcpy(d->open->buf + d->open->len, p, n);
    d->open->len += n;
}

static void dev_end(struct fake *d)
{
    if (!d->open || d->open->len != d->open->announced) {
        dev_err(d, "END_DATA after %zu of %zu bytes", d->open ? d->open->len : 0,
                d->open ? d->open->announced : 0);
        return;
    }
    d->open->ended = 1;
    if (d->open->has_checksum) {
        uint32_t sum = 0;
        for (size_t i = 0; i < d->open->len; i++)
            sum += d->open->buf[i];
        uint16_t crc = unisoc_crc16_arc(0, d->open->buf + 2, d->open->len - 2);
        if (sum != d->open->checksum || d->open->buf[0] != (crc >> 8) ||
            d->open->buf[1] != (crc & 0xFF))
            dev_err(d, "NV checksum/CRC mismatch");
    }
}

static void pdl_packet(struct fake *d, const uint8_t *p, size_t size)
{
    uint32_t cmd = le32(p + 8), a1 = le32(p + 12), a2 = le32(p + 16);
    const uint8_t *extra = p + 20;
    size_t n = size - 12;
    if (d->bsl_rom) {
        queue(d, ver_rom, sizeof(ver_rom));
        return;
    }
    switch (cmd) {
    case 0:
        queue_pdl(d, 0);
        break;
    case 4:
        if (n != 5 || memcmp(extra, "PDL1", 5) != 0)
            dev_err(d, "PDL START without PDL1");
        dev_open(d, a1, "HOST_FDL", a2);
        d->pdl_idx = 0;
        queue_pdl(d, d->fault == F_PDL_NAK ? 3 : 0);
        break;
    case 5:
        if (a1 != d->pdl_idx++ || a2 != n)
            dev_err(d, "PDL MID index %u / length %u (expected %u / %zu)", a1, a2, d->pdl_idx - 1,
                    n);
        dev_data(d, extra, n, 0x800);
        queue_pdl(d, 0);
        break;
    case 6:
        dev_end(d);
        queue_pdl(d, 0);
        break;
    case 7:
        d->stage = 1;
        break;
    default:
        queue_pdl(d, 2);
    }
}

static void bsl_frame(struct fake *d, const uint8_t *raw, size_t len)
{
    if (len < 6 || (size_t)(raw[2] << 8 | raw[3]) + 6 != len) {
        dev_err(d, "bad frame length %zu", len);
        return;
    }
    unsigned cmd = (unsigned)(raw[0] << 8 | raw[1]);
    const uint8_t *p = raw + 4;
    size_t n = len - 6;
    uint16_t cv = (uint16_t)(raw[len - 2] << 8 | raw[len - 1]);
    uint16_t want =
        d->stage == 0 ? unisoc_crc16_xmodem(raw, len - 2) : unisoc_fdl_sum(raw, len - 2, 0);
    if (cv != want) {
        dev_err(d, "cmd 0x%02x: check 0x%04x, expected 0x%04x", cmd, cv, want);
        return;
    }
    d->seen[d->stage][cmd & 0xFF]++;
    size_t max = d->stage == 0 ? 0x210 : d->stage == 1 ? 0x840 : 0x800;
    switch (cmd) {
    case 0x00:
    case 0x05:
        reply(d, cmd, 1);
        if (cmd == 0x05)
            d->stage = 3;
        break;
    case 0x01:
        if (n == 8 || n == 12) {
            struct region *r = dev_open(d, be32(p), "", be32(p + 4));
            if (n == 12)
                r->has_checksum = 1, r->checksum = be32(p + 8);
        } else if (n == 76 || n == 80) {
            char name[40] = "";
            for (int i = 0; i < 36 && p[2 * i]; i++)
                name[i] = (char)p[2 * i];
            struct region *r = dev_open(d, 0, name, le32(p + 72));
            if (n == 80)
                r->has_checksum = 1, r->checksum = le32(p + 76);
        } else {
            {
                reply(d, cmd, 0);
                return;
            }
        }
        reply(d, cmd, 1);
        break;
    case 0x02:
        if (d->fault == F_VERIFY_ONCE && !d->fault_done && d->stage == d->fault_stage &&
            d->seen[d->stage][2] == d->fault_nth) {
            reply(d, cmd, 1);
            return;
        } /* refused: not stored */
        dev_data(d, p, n, max);
        reply(d, cmd, 1);
        break;
    case 0x03:
        dev_end(d);
        reply(d, cmd, 1);
        break;
    case 0x04:
        reply(d, cmd, d->open && d->open->ended);
        d->stage++;
        break;
    case 0x09:
        d->baud = be32(p);
        reply(d, cmd, n == 4);
        break;
    case 0x0A:
        if (d->nerased < 12)
            d->erased[d->nerased++] = n == 8 ? be32(p) : 0xFFFFFFFF;
        reply(d, cmd, 1);
        break;
    case 0x21:
        reply(d, cmd, 1);
        d->transcode_off = 1;
        break;
    default:
        queue_frame(d, 0x83, "", 0);
    }
}

/* Host bytes in: PDL packets in the 8910 ROM, else BSL frames and check-baud flags. */
static void dev_write(struct fake *d, const uint8_t *p, size_t n)
{
    assert_true(d->in_len + n <= sizeof(d->in));
    memcpy(d->in + d->in_len, p, n);
    d->in_len += n;
    for (;;) {
        size_t used = 0;
        if (d->stage == 0 && !d->classic) {
            if (d->in_len < 8)
                return;
            if (d->in[0] != 0xAE && d->answers_junk) {
                queue_pdl(d, 2); /* UNKNOWN_CMD to whatever is not PDL */
                d->in_len = 0;
                return;
            }
            if (d->in[0] != 0xAE) {
                dev_err(d, "PDL stage got 0x%02x", d->in[0]);
                d->in_len = 0;
                return;
            }
            size_t size = le32(d->in + 1);
            if (d->in_len < 8 + size)
                return;
            pdl_packet(d, d->in, size);
            used = 8 + size;
        } else {
            size_t i = 0;
            while (i < d->in_len && d->in[i] == 0x7E)
                i++;
            if (i == d->in_len) {
                if (i && d->stage < 2) { /* check-baud */
                    if (d->stage == 0)
                        queue(d, ver_rom, sizeof(ver_rom));
                    else
                        queue_frame(d, 0x81, "FDL1 test", 9);
                    if (d->fault == F_DOUBLE_VER && !d->fault_done && d->stage == 1) {
                        d->fault_done = 1;
                        queue_frame(d, 0x81, "FDL1 test", 9);
                    }
                }
                d->in_len = 0;
                return;
            }
            uint8_t raw[0x10000];
            size_t len = 0, k = i;
            if (d->transcode_off) {
                if (d->in_len < i + 4)
                    return;
                size_t need = (size_t)(d->in[i + 2] << 8 | d->in[i + 3]) + 6;
                if (d->in_len < i + need + 1)
                    return;
                memcpy(raw, d->in + i, need);
                len = need;
                k = i + need;
            } else {
                for (; k < d->in_len && d->in[k] != 0x7E; k++) {
                    uint8_t b = d->in[k];
                    if (b == 0x7D && k + 1 < d->in_len)
                        b = d->in[++k] ^ 0x20;
                    raw[len++] = b;
                }
                if (k == d->in_len)
                    return; /* wait for the rest (ZLP split) */
            }
            used = k + 1;
            bsl_frame(d, raw, len);
        }
        memmove(d->in, d->in + used, d->in_len - used);
        d->in_len -= used;
    }
}

#endif
