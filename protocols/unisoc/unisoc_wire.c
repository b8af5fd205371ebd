/* Unisoc BSL and PDL framing (see unisoc_wire.h, protocols/unisoc.md §2 and §4.1). */
#include "unisoc/unisoc_wire.h"

#include <stdio.h>
#include <string.h>

enum { DEC_HUNT = 0, DEC_OPEN };

uint16_t unisoc_crc16_xmodem(const uint8_t *p, size_t n)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < n; i++) {
        crc ^= (uint16_t)(p[i] << 8);
        for (int k = 0; k < 8; k++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

uint16_t unisoc_fdl_sum(const uint8_t *p, size_t n, int odd_high)
{
    uint32_t s = 0;
    size_t i = 0;
    for (; i + 1 < n; i += 2)
        s += (uint32_t)p[i] << 8 | p[i + 1];
    if (i < n)
        s += odd_high ? (uint32_t)p[i] << 8 : p[i];
    s = (s >> 16) + (s & 0xFFFF);
    s += s >> 16;
    return (uint16_t)~s;
}

static const struct {
    unsigned code;
    const char *name;
} rep_names[] = {
    {0x80, "ACK"},
    {0x81, "VER"},
    {0x82, "INVALID_CMD"},
    {0x83, "UNKNOWN_CMD"},
    {0x84, "OPERATION_FAILED"},
    {0x85, "NOT_SUPPORT_BAUDRATE"},
    {0x86, "DOWN_NOT_START"},
    {0x87, "DOWN_MULTI_START"},
    {0x88, "DOWN_EARLY_END"},
    {0x89, "DOWN_DEST_ERROR"},
    {0x8A, "DOWN_SIZE_ERROR"},
    {0x8B, "VERIFY_ERROR"},
    {0x8C, "NOT_VERIFY"},
    {0x8D, "NOT_ENOUGH_MEMORY"},
    {0x8E, "WAIT_INPUT_TIMEOUT"},
    {0x93, "READ_FLASH"},
    {0x96, "INCOMPATIBLE_PARTITION"},
    {0x97, "UNKNOWN_DEVICE"},
    {0x98, "INVALID_DEVICE_SIZE"},
    {0x99, "ILLEGAL_SDRAM"},
    {0x9A, "WRONG_SDRAM_PARAMETER"},
    {0xA0, "ERROR_CHECKSUM"},
    {0xA1, "CHECKSUM_DIFF"},
    {0xA2, "WRITE_ERROR"},
    {0xA3, "CHIPID_NOT_MATCH"},
    {0xA4, "FLASH_CFG_ERROR"},
    {0xA5, "DOWN_STL_SIZE_ERROR"},
    {0xA6, "SIGN_VERIFY_ERROR"},
    {0xA7, "PHONE_IS_ROOTED"},
    {0xAA, "SEC_VERIFY_ERROR"},
    {0xAC, "NOT_ENABLE_WRITE_FLASH"},
    {0xAD, "ENABLE_SECUREBOOT_ERROR"},
    {0xB3, "FLASH_WRITTEN_PROTECTION"},
    {0xB4, "FLASH_INITIALIZING_FAIL"},
    {0xFE, "UNSUPPORTED_COMMAND"},
    {0xFF, "LOG"},
};

const char *unisoc_rep_name(unsigned code)
{
    for (size_t i = 0; i < sizeof(rep_names) / sizeof(rep_names[0]); i++)
        if (rep_names[i].code == code)
            return rep_names[i].name;
    return "?";
}

int unisoc_rep_is_nak(unsigned code)
{
    /* Errors of §3.2; 0x93..0x96 and 0x9B..0x9F are data replies, not refusals. */
    return (code >= 0x82 && code <= 0x8E) || (code >= 0x97 && code <= 0x9A) ||
           (code >= 0xA0 && code <= 0xAD && code != 0xAB) || code == 0xB3 || code == 0xB4 ||
           code == 0xFE;
}

const char *unisoc_pdl_status_name(uint32_t status)
{
    static const char *const names[] = {
        "ACK",
        "INVALID_CMD",
        "UNKNOWN_CMD",
        "INVALID_ADDR",
        "INVALID_BAUDRATE",
        "INVALID_PARTITION",
        "SIZE_ERROR",
        "WAIT_TIMEOUT",
        "VERIFY_ERROR",
        "CHECKSUM_ERROR",
        "OPERATION_FAILED",
        "DEVICE_ERROR",
        "NO_MEMORY",
    };
    return status < sizeof(names) / sizeof(names[0]) ? names[status] : "?";
}

static size_t put_byte(uint8_t *out, size_t cap, size_t at, uint8_t b, int escape)
{
    if (escape && (b == UNISOC_BSL_FLAG || b == UNISOC_BSL_ESC)) {
        if (at + 2 > cap)
            return 0;
        out[at] = UNISOC_BSL_ESC;
        out[at + 1] = (uint8_t)(b ^ 0x20);
        return 2;
    }
    if (at + 1 > cap)
        return 0;
    out[at] = b;
    return 1;
}

size_t unisoc_bsl_encode(uint8_t *out, size_t cap, uint16_t type, const uint8_t *payload, size_t n,
                         enum unisoc_check check, int escape)
{
    if (n > 0xFFFF || cap < 2)
        return 0;
    uint8_t hdr[4] = {(uint8_t)(type >> 8), (uint8_t)type, (uint8_t)(n >> 8), (uint8_t)n};
    uint16_t cv;
    if (check == UNISOC_CHECK_CRC16) {
        /* CRC is linear in its register: continue over the payload after the header. */
        uint16_t crc = 0;
        for (size_t i = 0; i < 4 + n; i++) {
            crc ^= (uint16_t)((i < 4 ? hdr[i] : payload[i - 4]) << 8);
            for (int k = 0; k < 8; k++)
                crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
        }
        cv = crc;
    } else {
        /* Header is 4 bytes (even), so summing it apart keeps the word alignment. */
        uint32_t s = (uint32_t)type + (uint32_t)n;
        s += (uint16_t)~unisoc_fdl_sum(payload, n, 0);
        s = (s >> 16) + (s & 0xFFFF);
        s += s >> 16;
        cv = (uint16_t)~s;
    }
    uint8_t tail[2] = {(uint8_t)(cv >> 8), (uint8_t)cv};
    size_t at = 0;
    out[at++] = UNISOC_BSL_FLAG;
    for (size_t i = 0; i < 4 + n + 2; i++) {
        uint8_t b = i < 4 ? hdr[i] : i < 4 + n ? payload[i - 4] : tail[i - 4 - n];
        size_t w = put_byte(out, cap, at, b, escape);
        if (!w)
            return 0;
        at += w;
    }
    if (at + 1 > cap)
        return 0;
    out[at++] = UNISOC_BSL_FLAG;
    return at;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

size_t unisoc_pdl_encode(uint8_t *out, size_t cap, uint32_t cmd, uint32_t arg1, uint32_t arg2,
                         const uint8_t *extra, size_t n)
{
    size_t total = UNISOC_PDL_HDR + 12 + n;
    if (total > cap || n > UINT32_MAX - 12)
        return 0;
    out[0] = UNISOC_PDL_TAG;
    put_le32(out + 1, (uint32_t)(12 + n));
    out[5] = 0xFF; /* flow id, host side */
    out[6] = out[7] = 0;
    put_le32(out + 8, cmd);
    put_le32(out + 12, arg1);
    put_le32(out + 16, arg2);
    if (n)
        memcpy(out + 20, extra, n);
    return total;
}

/* ---- BSL decoder ----------------------------------------------------------------------- */

void unisoc_bsl_dec_init(struct unisoc_bsl_dec *d, int escaping)
{
    d->len = d->need = 0;
    d->state = DEC_HUNT;
    d->esc = 0;
    d->escaping = escaping != 0;
    d->after_close = 0;
    d->skipped = 0;
    d->error[0] = '\0';
}

void unisoc_bsl_dec_set_escaping(struct unisoc_bsl_dec *d, int escaping)
{
    d->escaping = escaping != 0;
    d->state = DEC_HUNT;
    d->len = d->need = 0;
    d->esc = 0;
    d->after_close = 0;
}

size_t unisoc_bsl_dec_partial(const struct unisoc_bsl_dec *d)
{
    return d->state == DEC_OPEN ? d->len : 0;
}

static void dec_open(struct unisoc_bsl_dec *d, int after_close)
{
    d->state = DEC_OPEN;
    d->len = d->need = 0;
    d->esc = 0;
    d->after_close = (uint8_t)after_close;
}

static enum unisoc_dec_result dec_error(struct unisoc_bsl_dec *d, const char *fmt, size_t a,
                                        size_t b)
{
    snprintf(d->error, sizeof(d->error), fmt, a, b);
    d->state = DEC_HUNT;
    d->len = d->need = 0;
    d->esc = 0;
    return UNISOC_DEC_ERROR;
}

/* A flag ended a non-empty frame: validate it. */
static enum unisoc_dec_result dec_close(struct unisoc_bsl_dec *d, struct unisoc_bsl_frame *f)
{
    if (d->esc)
        return dec_error(d, "escape byte right before the closing flag (%zu bytes)", d->len, 0);
    if (d->len < 6)
        return dec_error(d, "frame of %zu bytes is shorter than 6", d->len, 0);
    size_t n = (size_t)d->buf[2] << 8 | d->buf[3];
    if (n + 6 != d->len)
        return dec_error(d, "truncated frame: length field says %zu payload bytes, frame has %zu",
                         n, d->len - 6);
    uint16_t cv = (uint16_t)(d->buf[4 + n] << 8 | d->buf[5 + n]);
    f->type = (uint16_t)(d->buf[0] << 8 | d->buf[1]);
    f->payload = d->buf + 4;
    f->len = n;
    f->crc_ok = unisoc_crc16_xmodem(d->buf, 4 + n) == cv;
    f->sum_ok = unisoc_fdl_sum(d->buf, 4 + n, 0) == cv || unisoc_fdl_sum(d->buf, 4 + n, 1) == cv;
    return UNISOC_DEC_FRAME;
}

enum unisoc_dec_result unisoc_bsl_dec_feed(struct unisoc_bsl_dec *d, const uint8_t *p, size_t n,
                                           size_t *used, struct unisoc_bsl_frame *f)
{
    size_t i = 0;
    enum unisoc_dec_result r = UNISOC_DEC_MORE;
    while (i < n && r == UNISOC_DEC_MORE) {
        uint8_t b = p[i++];
        if (d->state == DEC_HUNT) {
            if (b == UNISOC_BSL_FLAG)
                dec_open(d, 0);
            else
                d->skipped++;
            continue;
        }
        if (!d->escaping) {
            /* Transcode off: the length field, not the flag, ends the frame (§2.2). */
            if (d->len == 0 && b == UNISOC_BSL_FLAG && d->need == 0) {
                d->after_close = 0;
                continue; /* empty frame / repeated opener */
            }
            if (d->need && d->len == d->need) {
                if (b != UNISOC_BSL_FLAG)
                    r = dec_error(d, "no closing flag after %zu frame bytes (got 0x%02zx)", d->len,
                                  b);
                else if ((r = dec_close(d, f)) == UNISOC_DEC_FRAME)
                    dec_open(d, 1), d->state = DEC_HUNT;
                continue;
            }
            d->buf[d->len++] = b;
            if (d->len == 4) {
                d->need = ((size_t)d->buf[2] << 8 | d->buf[3]) + 6;
                if (d->need - 6 > UNISOC_BSL_MAX_PAYLOAD)
                    r = dec_error(d, "frame announces %zu payload bytes (limit %zu)", d->need - 6,
                                  UNISOC_BSL_MAX_PAYLOAD);
            }
            continue;
        }
        if (b == UNISOC_BSL_FLAG) {
            if (d->len == 0 && !d->esc) {
                d->after_close = 0; /* empty frame: this flag opens the next one */
                continue;
            }
            int junk = d->after_close;
            r = dec_close(d, f);
            if (r == UNISOC_DEC_ERROR && junk) {
                /* Bytes after a closing flag without their own opener: inter-frame noise,
                 * and this flag opens the next frame. */
                d->skipped += d->len;
                dec_open(d, 0);
                r = UNISOC_DEC_MORE;
            } else if (r == UNISOC_DEC_FRAME) {
                dec_open(d, 1); /* a closing flag may double as the next opener */
            }
            continue;
        }
        if (d->esc) {
            if (b != (UNISOC_BSL_FLAG ^ 0x20) && b != (UNISOC_BSL_ESC ^ 0x20)) {
                if (d->after_close) {
                    d->skipped += d->len + 2;
                    d->state = DEC_HUNT;
                    continue;
                }
                r = dec_error(d, "bad escape sequence 7D %02zX after %zu frame bytes", b, d->len);
                continue;
            }
            b ^= 0x20;
            d->esc = 0;
        } else if (b == UNISOC_BSL_ESC) {
            d->esc = 1;
            continue;
        }
        if (d->len >= sizeof(d->buf)) {
            if (d->after_close) {
                d->skipped += d->len + 1;
                d->state = DEC_HUNT;
                continue;
            }
            r = dec_error(d, "frame longer than %zu bytes", sizeof(d->buf), 0);
            continue;
        }
        d->buf[d->len++] = b;
    }
    *used = i;
    return r;
}

/* ---- PDL decoder ----------------------------------------------------------------------- */

void unisoc_pdl_dec_init(struct unisoc_pdl_dec *d)
{
    memset(d, 0, sizeof(*d));
}

enum unisoc_dec_result unisoc_pdl_dec_feed(struct unisoc_pdl_dec *d, const uint8_t *p, size_t n,
                                           size_t *used, uint32_t *status)
{
    size_t i = 0;
    while (i < n) {
        uint8_t b = p[i++];
        if (d->got == 0 && b != UNISOC_PDL_TAG) {
            d->skipped++;
            if (b == UNISOC_BSL_FLAG)
                d->saw_bsl_flag = 1;
            continue;
        }
        if (d->got < UNISOC_PDL_HDR) {
            d->hdr[d->got++] = b;
            if (d->got == UNISOC_PDL_HDR) {
                d->size = (uint32_t)d->hdr[1] | (uint32_t)d->hdr[2] << 8 |
                          (uint32_t)d->hdr[3] << 16 | (uint32_t)d->hdr[4] << 24;
                if (d->size < 4 || d->size > UNISOC_PDL_MAX_REPLY) {
                    snprintf(d->error, sizeof(d->error),
                             "PDL reply announces %u data bytes (expected 4..%u)", d->size,
                             UNISOC_PDL_MAX_REPLY);
                    d->got = 0;
                    *used = i;
                    return UNISOC_DEC_ERROR;
                }
            }
            continue;
        }
        d->body[d->got++ - UNISOC_PDL_HDR] = b;
        if (d->got == UNISOC_PDL_HDR + d->size) {
            *status = (uint32_t)d->body[0] | (uint32_t)d->body[1] << 8 |
                      (uint32_t)d->body[2] << 16 | (uint32_t)d->body[3] << 24;
            d->got = 0;
            *used = i;
            return UNISOC_DEC_FRAME;
        }
    }
    *used = i;
    return UNISOC_DEC_MORE;
}
