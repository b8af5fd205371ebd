/* Host side of the stream protocol. Written from the protocol text in tests/rack/README.md,
 * not from the device model, so a misreading cannot pass both sides. */
#include "stream_proto.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum phase { P_SINK_CMD, P_SINK_DATA, P_SINK_REPLY, P_REENUM, P_SOURCE_CMD, P_SOURCE_DATA };

struct gen {
    uint32_t x;
    uint8_t word[4]; /* current word, little-endian */
    unsigned pos;    /* next byte of word to hand out; 4 = used up */
};

struct stream_session {
    struct proto_ctx *ctx;
    uint64_t sink_len, source_len, off;
    uint32_t seed;
    size_t chunk;
    int reenumerate; /* between SINK and SOURCE, wait for the device to come back */
    enum phase phase;
    struct gen gen, check;
    EVP_MD_CTX *sha_tx, *sha_rx;
    uint8_t cmd[24];
    uint8_t reply[40];
    size_t reply_len;
    uint8_t *buf;
    struct stream_report report;
};

static void gen_init(struct gen *g, uint32_t seed)
{
    g->x = seed ? seed : 0x9E3779B9u;
    g->pos = 4;
}

static void gen_next_word(struct gen *g)
{
    g->x ^= g->x << 13;
    g->x ^= g->x >> 17;
    g->x ^= g->x << 5;
    g->word[0] = (uint8_t)g->x;
    g->word[1] = (uint8_t)(g->x >> 8);
    g->word[2] = (uint8_t)(g->x >> 16);
    g->word[3] = (uint8_t)(g->x >> 24);
    g->pos = 0;
}

/* Next len bytes of the stream. A request may end mid-word; the rest comes next time. */
static void gen_fill(struct gen *g, uint8_t *out, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (g->pos == 4)
            gen_next_word(g);
        if (g->pos == 0 && len - i >= 4) {
            memcpy(out + i, g->word, 4);
            i += 4;
            g->pos = 4;
            continue;
        }
        out[i++] = g->word[g->pos++];
    }
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void make_cmd(struct stream_session *s, uint32_t op, uint64_t len)
{
    memcpy(s->cmd, "FRLB", 4);
    put_u32(s->cmd + 4, op);
    put_u32(s->cmd + 8, s->seed);
    put_u32(s->cmd + 12, 0);
    put_u32(s->cmd + 16, (uint32_t)len);
    put_u32(s->cmd + 20, (uint32_t)(len >> 32));
}

static void hex(const uint8_t *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static uint64_t opt_u64(const char *opts, const char *key, uint64_t def)
{
    if (!opts)
        return def;
    size_t kl = strlen(key);
    for (const char *p = opts; p && *p;) {
        if (strncmp(p, key, kl) == 0 && p[kl] == '=')
            return strtoull(p + kl + 1, NULL, 0);
        p = strchr(p, ';');
        if (p)
            p++;
    }
    return def;
}

static int session_new(const struct proto_params *params, struct proto_ctx *ctx, void **ret)
{
    struct stream_session *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->ctx = ctx;
    s->sink_len = opt_u64(params->options, "sink", 1 << 20);
    s->source_len = opt_u64(params->options, "source", 1 << 20);
    s->seed = (uint32_t)opt_u64(params->options, "seed", 1);
    s->chunk = (size_t)opt_u64(params->options, "chunk", 256 * 1024);
    s->reenumerate = opt_u64(params->options, "reenumerate", 0) != 0;
    if (s->chunk < 1 || s->chunk > (16u << 20))
        s->chunk = 256 * 1024;
    s->buf = malloc(s->chunk);
    s->sha_tx = EVP_MD_CTX_new();
    s->sha_rx = EVP_MD_CTX_new();
    if (!s->buf || !s->sha_tx || !s->sha_rx) {
        free(s->buf);
        EVP_MD_CTX_free(s->sha_tx);
        EVP_MD_CTX_free(s->sha_rx);
        free(s);
        return -ENOMEM;
    }
    EVP_DigestInit_ex(s->sha_tx, EVP_sha256(), NULL);
    EVP_DigestInit_ex(s->sha_rx, EVP_sha256(), NULL);
    ctx->progress.total = s->sink_len + s->source_len;
    *ret = s;
    return 0;
}

static void session_free(void *v)
{
    struct stream_session *s = v;
    EVP_MD_CTX_free(s->sha_tx);
    EVP_MD_CTX_free(s->sha_rx);
    free(s->buf);
    free(s);
}

static void start_source(struct stream_session *s, struct proto_request *out)
{
    s->phase = P_SOURCE_CMD;
    s->ctx->progress.phase = "source";
    s->seed += 1; /* a different stream back, so an echo cannot pass */
    gen_init(&s->check, s->seed);
    make_cmd(s, 2, s->source_len);
    proto_req_write(out, s->cmd, sizeof(s->cmd), 5000);
}

static void send_sink_chunk(struct stream_session *s, struct proto_request *out)
{
    size_t n = s->sink_len - s->off < s->chunk ? (size_t)(s->sink_len - s->off) : s->chunk;
    gen_fill(&s->gen, s->buf, n);
    EVP_DigestUpdate(s->sha_tx, s->buf, n);
    s->off += n;
    proto_req_write(out, s->buf, n, 10000);
}

static void step(void *v, const struct proto_event *in, struct proto_request *out)
{
    struct stream_session *s = v;
    struct proto_ctx *ctx = s->ctx;
    if (in->type == PROTO_EV_TIMEOUT) {
        proto_req_fail(out, FAIL_TIMEOUT, "device silent during %s", ctx->progress.phase);
        return;
    }
    switch (s->phase) {
    case P_SINK_CMD:
        if (in->type == PROTO_EV_START) {
            ctx->progress.phase = "sink";
            gen_init(&s->gen, s->seed);
            make_cmd(s, 1, s->sink_len);
            proto_req_write(out, s->cmd, sizeof(s->cmd), 5000);
            return;
        }
        s->phase = P_SINK_DATA;
        s->off = 0;
        /* fall through */
    case P_SINK_DATA:
        if (in->type != PROTO_EV_TX_DONE && in->type != PROTO_EV_START)
            break;
        ctx->progress.done = s->off;
        if (s->off < s->sink_len) {
            send_sink_chunk(s, out);
            return;
        }
        s->phase = P_SINK_REPLY;
        s->reply_len = 0;
        proto_req_read(out, sizeof(s->reply), 10000);
        return;
    case P_SINK_REPLY: {
        if (in->type != PROTO_EV_RX)
            break;
        size_t n =
            in->len < sizeof(s->reply) - s->reply_len ? in->len : sizeof(s->reply) - s->reply_len;
        memcpy(s->reply + s->reply_len, in->data, n);
        s->reply_len += n;
        if (s->reply_len < sizeof(s->reply)) {
            proto_req_read(out, sizeof(s->reply) - s->reply_len, 10000);
            return;
        }
        uint8_t md[32];
        EVP_DigestFinal_ex(s->sha_tx, md, NULL);
        hex(md, 32, s->report.sink_sha256);
        hex(s->reply + 8, 32, s->report.device_sha256);
        s->report.sink_bytes = s->sink_len;
        s->report.device_status = s->reply[4] | s->reply[5] << 8;
        if (memcmp(s->reply, "FRLR", 4) != 0) {
            proto_req_fail(out, FAIL_PROTOCOL, "sink reply has no FRLR magic");
            return;
        }
        if (s->report.device_status != 0 || memcmp(md, s->reply + 8, 32) != 0) {
            proto_req_fail(out, FAIL_VERIFY, "device saw other bytes (status %d, sha %s)",
                           s->report.device_status, s->report.device_sha256);
            return;
        }
        if (!s->source_len) {
            proto_req_done(out);
            return;
        }
        if (s->reenumerate) {
            s->phase = P_REENUM;
            ctx->progress.phase = "reenumerate";
            proto_req_reenumerate(out, 30000);
            return;
        }
        start_source(s, out);
        return;
    }
    case P_REENUM:
        if (in->type != PROTO_EV_ATTACHED)
            break;
        s->report.reenumerated_vid = ctx->link.vid;
        s->report.reenumerated_pid = ctx->link.pid;
        start_source(s, out);
        return;
    case P_SOURCE_CMD:
        if (in->type != PROTO_EV_TX_DONE)
            break;
        s->phase = P_SOURCE_DATA;
        s->off = 0;
        proto_req_read(out, s->chunk, 10000);
        return;
    case P_SOURCE_DATA: {
        if (in->type != PROTO_EV_RX)
            break;
        if (in->len > s->source_len - s->off) {
            proto_req_fail(out, FAIL_PROTOCOL, "device sent %zu bytes past the end",
                           (size_t)(in->len - (s->source_len - s->off)));
            return;
        }
        /* Verify against our own generator in place (chunk-sized buffer). */
        for (size_t done = 0; done < in->len;) {
            size_t n = in->len - done < s->chunk ? in->len - done : s->chunk;
            gen_fill(&s->check, s->buf, n);
            if (memcmp(s->buf, in->data + done, n) != 0) {
                proto_req_fail(out, FAIL_VERIFY, "source byte mismatch near offset %llu",
                               (unsigned long long)(s->off + done));
                return;
            }
            done += n;
        }
        EVP_DigestUpdate(s->sha_rx, in->data, in->len);
        s->off += in->len;
        ctx->progress.done = s->sink_len + s->off;
        if (s->off < s->source_len) {
            uint64_t left = s->source_len - s->off;
            proto_req_read(out, left < s->chunk ? (size_t)left : s->chunk, 10000);
            return;
        }
        s->report.source_bytes = s->off;
        s->report.source_ok = 1;
        proto_req_done(out);
        return;
    }
    }
    proto_req_fail(out, FAIL_PROTOCOL, "unexpected %s in phase %d",
                   proto_event_type_to_string(in->type), (int)s->phase);
}

void stream_session_report(const void *session, struct stream_report *ret)
{
    *ret = ((const struct stream_session *)session)->report;
}

static const struct proto_usb_id stream_ids[] = {
    {0x1209, 0x0001, 0, PROTO_TRANSPORT_USB_BULK, "loopback-usb test fixture"},
    {0x1209, 0x0002, 0, PROTO_TRANSPORT_SERIAL, "loopback-tty test fixture"},
};

const struct proto stream_proto = {
    .name = "stream",
    .description = "loopback throughput test fixture",
    .transports = PROTO_TRANSPORT_USB_BULK | PROTO_TRANSPORT_SERIAL,
    .usb_ids = stream_ids,
    .usb_id_count = 2,
    .session_new = session_new,
    .step = step,
    .session_free = session_free,
};
