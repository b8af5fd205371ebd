/* SMUX framing of the ASR aboot link (notes §2.1), the CRC-32 the sparse and partition
 * formats use, and the structural FIP check of the ROM's `verify` (§2.10). The receiver works
 * a byte at a time because USB bulk transfers split frames anywhere. */
#include "asr/asr.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static int bad(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int bad(char *err, size_t err_len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

size_t sim_asr_encode(unsigned type, const uint8_t *payload, size_t len, uint8_t *out, size_t cap)
{
    size_t w = 0;
    if (cap < 4)
        return 0;
    out[w++] = ASR_FLAG;
    /* STDIO (type 0) travels without a type pair (§2.1). */
    if (type != ASR_T_STDIO) {
        out[w++] = ASR_ESC;
        out[w++] = (uint8_t)(0x20 + type);
    }
    for (size_t i = 0; i < len; i++) {
        uint8_t b = payload[i];
        if (b == ASR_FLAG || b == ASR_ESC) {
            if (w + 2 > cap)
                return 0;
            out[w++] = ASR_ESC;
            out[w++] = b == ASR_FLAG ? 0x5E : 0x5D;
        } else {
            if (w + 1 > cap)
                return 0;
            out[w++] = b;
        }
    }
    if (w + 1 > cap)
        return 0;
    out[w++] = ASR_FLAG;
    return w;
}

void sim_asr_dec_init(struct sim_asr_dec *d, size_t mtu)
{
    memset(d, 0, sizeof(*d));
    d->mtu = mtu > ASR_MTU_MAX ? ASR_MTU_MAX : mtu;
}

static void dec_open(struct sim_asr_dec *d)
{
    d->in_frame = true;
    d->esc = false;
    d->over = false;
    d->n = 0;
    d->type = ASR_T_STDIO; /* a frame without a type pair is STDIO */
}

enum sim_asr_dec_ev sim_asr_dec_byte(struct sim_asr_dec *d, uint8_t b)
{
    if (!d->in_frame) {
        /* Hunting: the QDloader preamble "UUUU" + 0x7E arrives before any frame opened. */
        if (b == ASR_FLAG) {
            bool probe = d->u_run >= 4;
            d->u_run = 0;
            dec_open(d);
            return probe ? SIM_ASR_DEC_PROBE : SIM_ASR_DEC_NONE;
        }
        d->u_run = b == 'U' ? d->u_run + 1 : 0;
        return SIM_ASR_DEC_NONE;
    }
    if (b == ASR_FLAG) {
        enum sim_asr_dec_ev ev = SIM_ASR_DEC_NONE;
        /* An empty frame is ignored, so "7E 7E" between frames is legal. A lone type pair
         * with no payload is still a frame (a HELLO without MTU must reach the model so it
         * can refuse to answer it). */
        if (d->over)
            ev = SIM_ASR_DEC_LOST;
        else if (d->n > 0 || d->type != ASR_T_STDIO)
            ev = SIM_ASR_DEC_FRAME;
        d->ftype = d->type;
        d->flen = d->n;
        dec_open(d); /* the payload stays in buf until the next byte arrives */
        return ev;
    }
    if (d->esc) {
        d->esc = false;
        if (b == 0x5E || b == 0x5D) {
            b ^= 0x20;
        } else if (b >= 0x20 && b <= 0x25) {
            d->type = (uint8_t)(b - 0x20);
            return SIM_ASR_DEC_NONE;
        } else {
            return SIM_ASR_DEC_NONE; /* unknown escape values are dropped */
        }
    } else if (b == ASR_ESC) {
        d->esc = true;
        return SIM_ASR_DEC_NONE;
    }
    if (d->n >= d->mtu) {
        d->over = true; /* keep consuming until the closing flag, then drop */
        return SIM_ASR_DEC_NONE;
    }
    d->buf[d->n++] = b;
    return SIM_ASR_DEC_NONE;
}

/* Reflected 0xEDB88320, a byte at a time through a table: every sparse segment (up to 1 MiB)
 * is checked before the flash: OKAY, so with large images (throughput runs) a bitwise loop was
 * ~16 % of the flash phase. Built once (pthread_once: the rack calls models from its main loop
 * and from umockdev's ioctl thread); FILL chunks call this 4 bytes at a time. */
static uint32_t crc_table[256];
static pthread_once_t crc_table_once = PTHREAD_ONCE_INIT;

static void crc_table_build(void)
{
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t c = b;
        for (int i = 0; i < 8; i++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
        crc_table[b] = c;
    }
}

uint32_t sim_asr_crc32(uint32_t crc, const uint8_t *p, size_t n)
{
    pthread_once(&crc_table_once, crc_table_build);
    crc = ~crc;
    while (n--)
        crc = (crc >> 8) ^ crc_table[(crc ^ *p++) & 0xFFu];
    return ~crc;
}

/* ---- FIP package (preboot.img, flasher.img) ---- */

int sim_asr_fip_check(const uint8_t *p, size_t n, char *err, size_t err_len)
{
    static const uint8_t bl2[16] = {0x5f, 0xf9, 0xec, 0x0b, 0x4d, 0x22, 0x3e, 0x4d,
                                    0xa5, 0x44, 0xc3, 0x9d, 0x81, 0xc7, 0x3f, 0x0a};
    static const uint8_t cert[16] = {0xd6, 0xe2, 0x69, 0xea, 0x5d, 0x63, 0xe4, 0x11,
                                     0x8d, 0x8c, 0x9f, 0xba, 0xbe, 0x99, 0x56, 0xa5};
    static const uint8_t zero[16];
    if (n < 16 + 40 || le32(p) != 0xAA640001u)
        return bad(err, err_len, "verify: no FIP ToC (name 0xAA640001)");
    bool have_bl2 = false, have_cert = false;
    size_t pos = 16;
    for (; pos + 40 <= n; pos += 40) {
        const uint8_t *e = p + pos;
        uint64_t off = le64(e + 16), size = le64(e + 24);
        if (memcmp(e, zero, 16) == 0) {
            if (off != n)
                return bad(err, err_len, "verify: FIP end marker at 0x%" PRIx64 ", size 0x%zx", off,
                           n);
            break;
        }
        if (off > n || size > n - off || (size && off < pos + 80))
            return bad(err, err_len,
                       "verify: FIP entry %zu (0x%" PRIx64 "+0x%" PRIx64 ") out of bounds",
                       (pos - 16) / 40, off, size);
        if (memcmp(e, bl2, 16) == 0 && size)
            have_bl2 = true;
        if (memcmp(e, cert, 16) == 0) {
            if (size == 0 || p[off] != 0x30)
                return bad(err, err_len, "verify: FIP certificate is not DER");
            have_cert = true;
        }
    }
    if (pos + 40 > n)
        return bad(err, err_len, "verify: FIP ToC without end marker");
    if (!have_bl2 || !have_cert)
        return bad(err, err_len, "verify: FIP without %s", have_bl2 ? "certificate" : "BL2");
    return 0;
}
