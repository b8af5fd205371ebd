/* BSL framing for the Unisoc device model: the two check values, the HDLC-like encoder and an
 * incremental receiver that never depends on write boundaries (notes §2). */
#include "unisoc/unisoc.h"

#include <string.h>

uint16_t sim_unisoc_crc16_xmodem(const uint8_t *p, size_t n)
{
    /* CRC-16, poly 0x1021, init 0, MSB first, no reflection, no final XOR (notes §2.3a). */
    uint16_t crc = 0;
    for (size_t i = 0; i < n; i++) {
        crc ^= (uint16_t)(p[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

uint16_t sim_unisoc_sum16(const uint8_t *p, size_t n)
{
    /* RFC-1071 style: big-endian words, carries folded twice, one's complement (§2.3b).
     * A trailing odd byte is added as the low byte (the Unisoc/Quectel variant); the model
     * rejects odd payloads in sum mode anyway, so this only keeps the function total. */
    uint32_t s = 0;
    size_t i = 0;
    for (; i + 1 < n; i += 2)
        s += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (i < n)
        s += p[i];
    s = (s >> 16) + (s & 0xFFFF);
    s += s >> 16;
    return (uint16_t)~s;
}

uint16_t sim_unisoc_crc16_arc(const uint8_t *p, size_t n)
{
    /* CRC-16/ARC: poly 0x8005 reflected (0xA001), init 0 (NV image CRC, notes §4.4). */
    uint16_t crc = 0;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++)
            crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0xA001) : (uint16_t)(crc >> 1);
    }
    return crc;
}

static bool put_byte(uint8_t *out, size_t cap, size_t *pos, uint8_t b, bool escape)
{
    if (escape && (b == 0x7E || b == 0x7D)) {
        if (*pos + 2 > cap)
            return false;
        out[(*pos)++] = 0x7D;
        out[(*pos)++] = b ^ 0x20;
        return true;
    }
    if (*pos + 1 > cap)
        return false;
    out[(*pos)++] = b;
    return true;
}

size_t sim_unisoc_bsl_encode(uint16_t type, const uint8_t *payload, size_t len, bool crc,
                             bool escape, uint8_t *out, size_t cap)
{
    return sim_unisoc_bsl_encode_ex(type, payload, len, crc, escape, 0, out, cap);
}

size_t sim_unisoc_bsl_encode_ex(uint16_t type, const uint8_t *payload, size_t len, bool crc,
                                bool escape, uint16_t check_xor, uint8_t *out, size_t cap)
{
    if (len > 0xFFFF || cap < 2)
        return 0;
    uint8_t hdr[4] = {(uint8_t)(type >> 8), (uint8_t)type, (uint8_t)(len >> 8), (uint8_t)len};
    uint16_t check;
    if (crc) {
        /* CRC is a running function, so header and payload are fed as one stream. */
        uint8_t tmp[4 + UNISOC_READ_MAX];
        if (len > UNISOC_READ_MAX)
            return 0;
        memcpy(tmp, hdr, 4);
        if (len)
            memcpy(tmp + 4, payload, len);
        check = sim_unisoc_crc16_xmodem(tmp, 4 + len);
    } else {
        /* The one's-complement sum over an even-length header is additive. */
        uint16_t a = (uint16_t)~sim_unisoc_sum16(hdr, 4);
        uint16_t b = (uint16_t)~sim_unisoc_sum16(payload, len);
        uint32_t s = (uint32_t)a + b;
        s = (s >> 16) + (s & 0xFFFF);
        check = (uint16_t)~s;
    }
    check ^= check_xor; /* fault injection: a wrong check value */
    size_t pos = 0;
    out[pos++] = 0x7E;
    for (int i = 0; i < 4; i++)
        if (!put_byte(out, cap, &pos, hdr[i], escape))
            return 0;
    for (size_t i = 0; i < len; i++)
        if (!put_byte(out, cap, &pos, payload[i], escape))
            return 0;
    if (!put_byte(out, cap, &pos, (uint8_t)(check >> 8), escape) ||
        !put_byte(out, cap, &pos, (uint8_t)check, escape) || pos + 1 > cap)
        return 0;
    out[pos++] = 0x7E;
    return pos;
}

static void dec_store(struct sim_unisoc_dec *d, uint8_t b)
{
    d->flag_run = 0;
    if (d->bad)
        return;
    if (d->n >= d->cap) {
        d->bad = true;
        d->bad_why = "frame longer than the receive buffer";
        return;
    }
    d->buf[d->n++] = b;
}

static enum sim_unisoc_dec_ev dec_finish(struct sim_unisoc_dec *d)
{
    size_t n = d->n;
    bool bad = d->bad;
    d->n = 0;
    d->bad = false;
    d->esc = false;
    d->flag_run = 0;
    if (bad)
        return SIM_UNISOC_DEC_BAD;
    if (n < 6) {
        d->bad_why = "frame shorter than 6 bytes";
        return SIM_UNISOC_DEC_BAD;
    }
    d->type = (uint16_t)(d->buf[0] << 8 | d->buf[1]);
    d->len = (uint16_t)(d->buf[2] << 8 | d->buf[3]);
    if ((size_t)d->len != n - 6) {
        d->bad_why = "length field disagrees with the bytes received";
        return SIM_UNISOC_DEC_BAD;
    }
    uint16_t got = (uint16_t)(d->buf[n - 2] << 8 | d->buf[n - 1]);
    if (d->crc) {
        if (sim_unisoc_crc16_xmodem(d->buf, n - 2) != got) {
            d->bad_why = "CRC-16 mismatch";
            return SIM_UNISOC_DEC_BAD;
        }
    } else {
        if (d->len & 1) {
            d->bad_why = "odd-length payload in sum mode";
            return SIM_UNISOC_DEC_BAD;
        }
        if (sim_unisoc_sum16(d->buf, n - 2) != got) {
            d->bad_why = "checksum (sum) mismatch";
            return SIM_UNISOC_DEC_BAD;
        }
    }
    d->payload = d->buf + 4;
    return SIM_UNISOC_DEC_FRAME;
}

static enum sim_unisoc_dec_ev dec_flag_no_data(struct sim_unisoc_dec *d)
{
    /* An empty frame: the flag is just a new opener. Two or more in a row are a check-baud
     * burst, which only the model can judge (it depends on the stage). */
    d->flag_run++;
    return d->flag_run >= 2 ? SIM_UNISOC_DEC_FLAG_RUN : SIM_UNISOC_DEC_NONE;
}

enum sim_unisoc_dec_ev sim_unisoc_dec_byte(struct sim_unisoc_dec *d, uint8_t b)
{
    if (!d->in_frame) {
        if (b == 0x7E) {
            d->in_frame = true;
            d->n = 0;
            d->bad = d->esc = false;
            d->flag_run = 1;
        }
        return SIM_UNISOC_DEC_NONE;
    }
    if (d->escape) {
        if (b == 0x7E) {
            if (d->n == 0 && !d->esc && !d->bad)
                return dec_flag_no_data(d);
            return dec_finish(d);
        }
        if (d->esc) {
            d->esc = false;
            if (b != 0x5E && b != 0x5D) {
                d->flag_run = 0;
                if (!d->bad)
                    d->bad_why = "bad escape sequence";
                d->bad = true;
                return SIM_UNISOC_DEC_NONE;
            }
            dec_store(d, b ^ 0x20);
        } else if (b == 0x7D) {
            d->esc = true;
            d->flag_run = 0;
        } else {
            dec_store(d, b);
        }
        return SIM_UNISOC_DEC_NONE;
    }
    /* Transcode off: the length field decides where the frame ends (notes §2.2). */
    if (d->n == 0 && b == 0x7E)
        return dec_flag_no_data(d);
    size_t need = d->n >= 4 ? (size_t)(d->buf[2] << 8 | d->buf[3]) + 6 : 0;
    if (d->n >= 4 && d->n == need) {
        if (b == 0x7E)
            return dec_finish(d);
        d->in_frame = false;
        d->n = 0;
        d->bad_why = "no closing flag after the announced length";
        return SIM_UNISOC_DEC_BAD;
    }
    dec_store(d, b);
    if (d->n == 4 && (size_t)(d->buf[2] << 8 | d->buf[3]) + 6 > d->cap) {
        d->in_frame = false; /* cannot skip a length we do not trust: hunt for a flag */
        d->n = 0;
        d->bad_why = "frame longer than the receive buffer";
        return SIM_UNISOC_DEC_BAD;
    }
    return SIM_UNISOC_DEC_NONE;
}
