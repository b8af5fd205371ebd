/* ASR SMUX framing and aboot replies (see asr_wire.h, protocols/asr.md §2.1-2.3). */
#include "asr/asr_wire.h"

#include <stdio.h>
#include <string.h>

enum { DEC_HUNT = 0, DEC_OPEN, DEC_ESC };

/* 0x7E "UUUU" 0x7E: the QDloader probe bytes "UUUU~" with an opening delimiter in front, so a
 * ROM that pattern-matches the raw bytes and one that parses a STDIO frame both see it. */
const uint8_t asr_smux_probe[6] = {0x7E, 'U', 'U', 'U', 'U', 0x7E};

const char *asr_smux_type_name(unsigned type)
{
    static const char *const names[] = {"STDIO",     "HELLO",      "HELLO_REPLY",
                                        "ABOOT_CMD", "ABOOT_DATA", "HEART_BEAT"};
    return type < sizeof(names) / sizeof(names[0]) ? names[type] : "?";
}

size_t asr_smux_encode(uint8_t *out, size_t cap, enum asr_smux_type type, const uint8_t *payload,
                       size_t n)
{
    if ((unsigned)type > ASR_SMUX_HEART_BEAT || cap < 2)
        return 0;
    size_t k = 0;
    out[k++] = ASR_SMUX_FLAG;
    if (type != ASR_SMUX_STDIO) {
        out[k++] = ASR_SMUX_ESC;
        out[k++] = (uint8_t)(0x20 + type);
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t b = payload[i];
        if (b == ASR_SMUX_FLAG || b == ASR_SMUX_ESC) {
            if (k + 2 > cap)
                return 0;
            out[k++] = ASR_SMUX_ESC;
            out[k++] = (uint8_t)(b ^ 0x20);
        } else {
            if (k + 1 > cap)
                return 0;
            out[k++] = b;
        }
    }
    if (k + 1 > cap)
        return 0;
    out[k++] = ASR_SMUX_FLAG;
    return k;
}

size_t asr_smux_encode_hello(uint8_t *out, size_t cap, uint16_t mtu)
{
    const uint8_t be[2] = {(uint8_t)(mtu >> 8), (uint8_t)mtu};
    return asr_smux_encode(out, cap, ASR_SMUX_HELLO, be, 2);
}

void asr_smux_dec_init(struct asr_smux_dec *d)
{
    memset(d, 0, sizeof(*d));
    d->state = DEC_HUNT;
}

static void reset_frame(struct asr_smux_dec *d)
{
    d->len = 0;
    d->type = ASR_SMUX_STDIO;
    d->typed = 0;
}

static enum asr_dec_result bad(struct asr_smux_dec *d, int next_state, const char *what,
                               unsigned byte)
{
    if (byte > 0xFF)
        snprintf(d->error, sizeof(d->error), "%s", what);
    else
        snprintf(d->error, sizeof(d->error), "%s 7D %02X", what, byte);
    reset_frame(d);
    d->state = (uint8_t)next_state;
    return ASR_DEC_ERROR;
}

enum asr_dec_result asr_smux_dec_feed(struct asr_smux_dec *d, const uint8_t *p, size_t n,
                                      size_t *used, struct asr_smux_frame *f)
{
    size_t i = 0;
    if (d->delivered) {
        reset_frame(d); /* the frame delivered by the previous call */
        d->delivered = 0;
    }
    while (i < n) {
        uint8_t b = p[i++];
        switch (d->state) {
        case DEC_HUNT:
            if (b == ASR_SMUX_FLAG) {
                reset_frame(d);
                d->state = DEC_OPEN;
            } else {
                d->skipped++;
            }
            break;
        case DEC_OPEN:
            if (b == ASR_SMUX_FLAG) {
                if (d->len == 0 && !d->typed)
                    break; /* "7E 7E": an empty frame between frames is legal */
                f->type = d->type;
                f->payload = d->buf;
                f->len = d->len;
                d->frames++;
                *used = i;
                /* The closing delimiter also opens the next frame; the buffer is cleared
                 * on the next call so the payload stays valid until then. */
                d->state = DEC_OPEN;
                d->delivered = 1;
                return ASR_DEC_FRAME;
            }
            if (b == ASR_SMUX_ESC) {
                d->state = DEC_ESC;
                break;
            }
            if (d->len >= sizeof(d->buf)) {
                *used = i;
                return bad(d, DEC_HUNT, "frame longer than 2048 bytes", 0x100);
            }
            d->buf[d->len++] = b;
            break;
        case DEC_ESC:
            if (b == ASR_SMUX_FLAG) {
                *used = i;
                return bad(d, DEC_OPEN, "escape byte 0x7D followed by the delimiter", 0x100);
            }
            if (b == 0x5E || b == 0x5D) {
                if (d->len >= sizeof(d->buf)) {
                    *used = i;
                    return bad(d, DEC_HUNT, "frame longer than 2048 bytes", 0x100);
                }
                d->buf[d->len++] = (uint8_t)(b ^ 0x20);
                d->state = DEC_OPEN;
                break;
            }
            if (b >= 0x20 && b <= 0x25) {
                if (d->len || d->typed) {
                    *used = i;
                    return bad(d, DEC_HUNT, "frame type pair inside a frame:", b);
                }
                d->type = (uint8_t)(b - 0x20);
                d->typed = 1;
                d->state = DEC_OPEN;
                break;
            }
            *used = i;
            return bad(d, DEC_HUNT, "unknown escape", b);
        }
    }
    *used = i;
    return ASR_DEC_MORE;
}

size_t asr_smux_dec_partial(const struct asr_smux_dec *d)
{
    return d->state == DEC_HUNT || d->delivered ? 0 : d->len + d->typed;
}

void asr_printable(char *dst, size_t cap, const uint8_t *p, size_t n)
{
    size_t k = 0;
    if (!cap)
        return;
    for (size_t i = 0; i < n && k + 1 < cap; i++)
        dst[k++] = p[i] >= 0x20 && p[i] < 0x7F ? (char)p[i] : '?';
    dst[k] = '\0';
}

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void asr_reply_parse(const uint8_t *p, size_t n, struct asr_reply *r)
{
    memset(r, 0, sizeof(*r));
    char sample[40];
    asr_printable(sample, sizeof(sample), p, n);
    if (n < 4 || n > ASR_ABOOT_CMD_MAX) {
        r->kind = ASR_REPLY_BAD;
        snprintf(r->text, sizeof(r->text), "a %zu-byte reply '%s' (aboot replies are 4..%u)", n,
                 sample, ASR_ABOOT_CMD_MAX);
        return;
    }
    static const struct {
        const char *prefix;
        enum asr_reply_kind kind;
    } kinds[] = {{"OKAY", ASR_REPLY_OKAY},
                 {"FAIL", ASR_REPLY_FAIL},
                 {"DATA", ASR_REPLY_DATA},
                 {"INFO", ASR_REPLY_INFO}};
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        if (memcmp(p, kinds[k].prefix, 4) != 0)
            continue;
        r->kind = kinds[k].kind;
        asr_printable(r->text, sizeof(r->text), p + 4, n - 4);
        if (r->kind != ASR_REPLY_DATA)
            return;
        uint32_t v = 0;
        int ok = n == 12;
        for (size_t i = 4; ok && i < 12; i++) {
            int h = hexval(p[i]);
            ok = h >= 0;
            v = v << 4 | (uint32_t)(h & 0xF);
        }
        if (ok) {
            r->size = v;
            return;
        }
        r->kind = ASR_REPLY_BAD;
        snprintf(r->text, sizeof(r->text), "'%s' (DATA must carry exactly 8 hex digits)", sample);
        return;
    }
    r->kind = ASR_REPLY_BAD;
    snprintf(r->text, sizeof(r->text), "'%s' (not OKAY, FAIL, DATA or INFO)", sample);
}

const char *asr_reply_kind_name(enum asr_reply_kind kind)
{
    switch (kind) {
    case ASR_REPLY_OKAY:
        return "OKAY";
    case ASR_REPLY_FAIL:
        return "FAIL";
    case ASR_REPLY_DATA:
        return "DATA";
    case ASR_REPLY_INFO:
        return "INFO";
    case ASR_REPLY_BAD:
        break;
    }
    return "malformed reply";
}
