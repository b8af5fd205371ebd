/* WTPTP encoders and the bounded status decoder (see wtptp_wire.h). */
#include "asr1803/wtptp_wire.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

const uint8_t wtptp_preamble[WTPTP_PREAMBLE_LEN] = {0x00, 0xD3, 0x02, 0x2B};

uint32_t wtptp_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

size_t wtptp_encode(uint8_t *out, size_t cap, uint8_t cmd, uint8_t seq, uint8_t cid, uint8_t flags,
                    const uint8_t *data, uint32_t len)
{
    if (cap < WTPTP_CMD_HDR || (size_t)len > cap - WTPTP_CMD_HDR || (len && !data))
        return 0;
    out[0] = cmd;
    out[1] = seq;
    out[2] = cid;
    out[3] = flags;
    out[4] = (uint8_t)len;
    out[5] = (uint8_t)(len >> 8);
    out[6] = (uint8_t)(len >> 16);
    out[7] = (uint8_t)(len >> 24);
    if (len)
        memcpy(out + WTPTP_CMD_HDR, data, len);
    return WTPTP_CMD_HDR + (size_t)len;
}

void wtptp_dec_init(struct wtptp_dec *d, int preamble)
{
    d->got = 0;
    d->preamble = preamble;
}

size_t wtptp_dec_partial(const struct wtptp_dec *d)
{
    return d->got;
}

/* Bytes the status in buf needs in total, as far as the header says so far. */
static size_t status_need(const struct wtptp_dec *d)
{
    if (d->preamble)
        return WTPTP_PREAMBLE_REPLY;
    if (d->got < WTPTP_STATUS_HDR)
        return WTPTP_STATUS_HDR;
    return WTPTP_STATUS_HDR + (size_t)d->buf[5];
}

enum wtptp_dec_result wtptp_dec_feed(struct wtptp_dec *d, const uint8_t *p, size_t n, size_t *used,
                                     struct wtptp_status *st)
{
    size_t i = 0;
    for (;;) {
        size_t need = status_need(d);
        if (d->got >= need)
            break;
        if (i >= n) {
            *used = i;
            return WTPTP_DEC_MORE;
        }
        size_t take = need - d->got < n - i ? need - d->got : n - i;
        memcpy(d->buf + d->got, p + i, take); /* need <= sizeof(buf): DLEN is one byte */
        d->got += take;
        i += take;
    }
    memset(st, 0, sizeof(*st));
    st->cmd = d->buf[0];
    st->seq = d->buf[1];
    st->cid = d->buf[2];
    st->status = d->buf[3];
    if (!d->preamble) {
        st->flags = d->buf[4];
        st->dlen = d->buf[5];
        memcpy(st->data, d->buf + WTPTP_STATUS_HDR, st->dlen);
    }
    d->got = 0;
    *used = i;
    return WTPTP_DEC_STATUS;
}

/* FourCC of a LE u32, most significant byte first ("3311" for bytes 31 31 33 33). */
static void fourcc(const uint8_t *p, char out[5], char raw[5])
{
    for (int k = 0; k < 4; k++) {
        uint8_t c = p[3 - k], r = p[k];
        out[k] = c >= 0x20 && c < 0x7F ? (char)c : '?';
        raw[k] = r >= 0x20 && r < 0x7F ? (char)r : '?';
    }
    out[4] = raw[4] = '\0';
}

int wtptp_parse_version(const uint8_t *data, size_t n, struct wtptp_version *v)
{
    memset(v, 0, sizeof(*v));
    if (n < 12)
        return -EINVAL;
    fourcc(data, v->version, v->version_raw);
    v->date = wtptp_le32(data + 4);
    fourcc(data + 8, v->processor, v->processor_raw);
    if (n >= 24) {
        fourcc(data + 12, v->ddr_vendor, v->ddr_vendor_raw);
        v->ddr_size = wtptp_le32(data + 16);
        v->flash_id = wtptp_le32(data + 20);
        v->extended = 1;
    }
    return 0;
}

int wtptp_parse_message(const uint8_t *data, size_t n, uint8_t *type, uint32_t *code)
{
    if (n != 6)
        return -EINVAL;
    *type = data[0];
    *code = wtptp_le32(data + 2);
    return 0;
}

void wtptp_id_text(uint32_t id, char out[16])
{
    char c[4];
    for (int k = 0; k < 4; k++) {
        c[k] = (char)(id >> (24 - 8 * k));
        if (c[k] < 0x21 || c[k] > 0x7E) {
            snprintf(out, 16, "0x%08x", id);
            return;
        }
    }
    memcpy(out, c, 4);
    out[4] = '\0';
}

const char *wtptp_cmd_name(unsigned cmd)
{
    switch (cmd) {
    case WTPTP_PREAMBLE:
        return "PREAMBLE";
    case WTPTP_GETVERSION:
        return "GETVERSION";
    case WTPTP_DATA:
        return "DATA";
    case WTPTP_SELECTIMAGE:
        return "SELECTIMAGE";
    case WTPTP_VERIFYIMAGE:
        return "VERIFYIMAGE";
    case WTPTP_DATAHEADER:
        return "DATAHEADER";
    case WTPTP_MESSAGE:
        return "MESSAGE";
    case WTPTP_DONE:
        return "DONE";
    case WTPTP_DISCONNECT:
        return "DISCONNECT";
    default:
        return "?";
    }
}

const char *wtptp_status_name(unsigned status)
{
    switch (status) {
    case WTPTP_ACK:
        return "ACK";
    case WTPTP_NACK:
        return "NACK";
    case WTPTP_SEQ_ERROR:
        return "sequence error";
    default:
        return "unknown status";
    }
}

const char *wtptp_notify_name(uint32_t code)
{
    static const char *const names[] = {"?",
                                        "busy",
                                        "ready",
                                        "reset BBT",
                                        "erase-all start",
                                        "disconnect",
                                        "erase-all done",
                                        "erase-without-burn start",
                                        "erase-without-burn done",
                                        "fuse start",
                                        "fuse done",
                                        "UE-info start",
                                        "UE-info done"};
    return code < sizeof(names) / sizeof(names[0]) ? names[code] : "?";
}

const char *wtptp_msg_type_name(unsigned type)
{
    static const char *const names[] = {"notification", "error report", "burnt size", "NAND id",
                                        "flash size",   "fuse info",    "UE info"};
    return type < sizeof(names) / sizeof(names[0]) ? names[type] : "?";
}

const char *wtptp_error_name(uint32_t code)
{
    switch (code) {
    case 0x01:
        return "not found";
    case 0x02:
        return "general error";
    case 0x03:
        return "write error";
    case 0x04:
        return "read error";
    case 0x05:
        return "not supported";
    case 0x20:
        return "erase error";
    case 0x21:
        return "program error";
    case 0x6A:
        return "invalid TIM";
    case 0x6B:
        return "hash size mismatch";
    case 0x71:
        return "CRC failed";
    case 0x91:
        return "download error";
    case 0x94:
        return "image too big";
    case 0x95:
        return "USB preamble error";
    case 0x96:
        return "USB preamble timeout";
    case 0x98:
        return "unknown image";
    case 0x9B:
        return "unknown protocol command";
    default:
        return "?";
    }
}
