/* Model "stream": the loopback fixture behind the transport tests (loopback-usb,
 * loopback-tty). Wire protocol, all integers little endian:
 *
 *   command (host -> device, 24 bytes): "FRLB", op u32, seed u32, reserved u32 (= 0), length u64
 *   op 1 SINK:   the host sends `length` bytes; the device hashes them (SHA-256) and compares
 *                them with G(seed); then replies "FRLR", status u32 (0 equal, 1 mismatch),
 *                SHA-256 of what it received (40 bytes).
 *   op 2 SOURCE: the device sends `length` bytes of G(seed), then nothing.
 *   anything else (bad magic, unknown op, reserved != 0): "FRLR", status 2, 32 zero bytes;
 *                then the device discards input until the next "FRLB".
 *
 *   G(seed): 32-bit xorshift, x = seed ? seed : 0x9E3779B9; per 4 output bytes
 *            x ^= x << 13; x ^= x >> 17; x ^= x << 5; emit x little endian (last word cut).
 *
 * The device handles one command at a time: while a reply or SOURCE data is waiting to be
 * read it accepts no input (on USB the next OUT transfer stays pending). Everything is
 * incremental, so a 64 MiB transfer never sits in memory.
 *
 * Options: max_tx=N caps the bytes per tx call (forces short transfers), max_rx=N caps the
 * bytes accepted per rx call (exercises the caller's flow control).
 */
#include "sim.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#define STREAM_CMD_LEN   24
#define STREAM_REPLY_LEN 40
#define STREAM_OP_SINK   1
#define STREAM_OP_SOURCE 2

static const uint8_t cmd_magic[4] = {'F', 'R', 'L', 'B'};
static const uint8_t reply_magic[4] = {'F', 'R', 'L', 'R'};

enum stream_state {
    STREAM_IDLE,   /* collecting a command header */
    STREAM_RESYNC, /* after a bad command: looking for "FRLB" */
    STREAM_SINK,
    STREAM_SOURCE,
};

struct stream_gen {
    uint32_t x;
    uint8_t word[4];
    unsigned pos; /* next byte of word to hand out; 4 = need a new word */
};

struct stream {
    struct sim_model base;
    enum stream_state state;
    uint8_t hdr[STREAM_CMD_LEN];
    size_t hdr_len; /* in RESYNC: how much of "FRLB" matched so far */
    uint64_t remaining;
    struct stream_gen gen;
    EVP_MD_CTX *md;
    int sink_mismatch;
    uint8_t out[STREAM_REPLY_LEN];
    size_t out_len, out_pos;
    uint64_t max_tx, max_rx;
    /* stats */
    uint64_t rx_bytes, tx_bytes, sink_ok, sink_bad, commands, bad_commands;
    uint8_t last_sha[32];
    int have_last_sha;
    struct sim_line line;
};

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const uint8_t *p)
{
    return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void gen_init(struct stream_gen *g, uint32_t seed)
{
    g->x = seed ? seed : 0x9E3779B9u;
    g->pos = 4;
}

static void gen_fill(struct stream_gen *g, uint8_t *out, size_t n)
{
    while (n > 0) {
        if (g->pos == 4) {
            uint32_t x = g->x;
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            g->x = x;
            if (n >= 4) { /* whole words straight to the output */
                put_le32(out, x);
                out += 4;
                n -= 4;
                continue;
            }
            put_le32(g->word, x);
            g->pos = 0;
        }
        size_t take = 4 - g->pos;
        if (take > n)
            take = n;
        memcpy(out, g->word + g->pos, take);
        g->pos += (unsigned)take;
        out += take;
        n -= take;
    }
}

static void queue_reply(struct stream *s, uint32_t status, const uint8_t *sha)
{
    memcpy(s->out, reply_magic, 4);
    put_le32(s->out + 4, status);
    if (sha)
        memcpy(s->out + 8, sha, 32);
    else
        memset(s->out + 8, 0, 32);
    s->out_len = STREAM_REPLY_LEN;
    s->out_pos = 0;
}

static void bad_command(struct stream *s)
{
    s->bad_commands++;
    queue_reply(s, 2, NULL);
    s->state = STREAM_RESYNC;
    s->hdr_len = 0;
}

static void finish_sink(struct stream *s)
{
    uint8_t sha[32];
    unsigned int sha_len = 0;
    if (EVP_DigestFinal_ex(s->md, sha, &sha_len) != 1 || sha_len != 32) {
        /* Cannot happen with a working libcrypto; report it as a mismatch, never as success. */
        memset(sha, 0, sizeof(sha));
        s->sink_mismatch = 1;
    }
    if (s->sink_mismatch)
        s->sink_bad++;
    else
        s->sink_ok++;
    memcpy(s->last_sha, sha, 32);
    s->have_last_sha = 1;
    queue_reply(s, s->sink_mismatch ? 1 : 0, sha);
    s->state = STREAM_IDLE;
    s->hdr_len = 0;
}

static void start_command(struct stream *s)
{
    uint32_t op = get_le32(s->hdr + 4);
    uint32_t seed = get_le32(s->hdr + 8);
    uint32_t reserved = get_le32(s->hdr + 12);
    uint64_t length = get_le64(s->hdr + 16);
    s->hdr_len = 0;
    if (reserved != 0 || (op != STREAM_OP_SINK && op != STREAM_OP_SOURCE)) {
        bad_command(s);
        return;
    }
    s->commands++;
    gen_init(&s->gen, seed);
    s->remaining = length;
    if (op == STREAM_OP_SOURCE) {
        s->state = length ? STREAM_SOURCE : STREAM_IDLE;
        return;
    }
    s->sink_mismatch = 0;
    if (EVP_DigestInit_ex(s->md, EVP_sha256(), NULL) != 1)
        s->sink_mismatch = 1;
    s->state = STREAM_SINK;
    if (length == 0)
        finish_sink(s);
}

static void sink_bytes(struct stream *s, const uint8_t *data, size_t n)
{
    uint8_t expect[4096];
    if (EVP_DigestUpdate(s->md, data, n) != 1)
        s->sink_mismatch = 1;
    while (n > 0) {
        size_t chunk = n < sizeof(expect) ? n : sizeof(expect);
        gen_fill(&s->gen, expect, chunk);
        if (memcmp(expect, data, chunk) != 0)
            s->sink_mismatch = 1;
        data += chunk;
        n -= chunk;
    }
}

static size_t stream_rx(struct sim_model *m, unsigned chan, const uint8_t *data, size_t len,
                        uint64_t now_ms)
{
    (void)chan;
    (void)now_ms;
    struct stream *s = (struct stream *)m;
    if (s->max_rx && len > s->max_rx)
        len = s->max_rx;
    size_t used = 0;
    while (used < len) {
        if (s->out_pos < s->out_len || s->state == STREAM_SOURCE)
            break; /* busy until the host reads what we have */
        switch (s->state) {
        case STREAM_IDLE:
            if (s->hdr_len < 4) {
                if (data[used] != cmd_magic[s->hdr_len]) {
                    /* Not consumed: the byte may start the next "FRLB". */
                    bad_command(s);
                    break;
                }
                s->hdr[s->hdr_len++] = data[used++];
            } else {
                size_t take = STREAM_CMD_LEN - s->hdr_len;
                if (take > len - used)
                    take = len - used;
                memcpy(s->hdr + s->hdr_len, data + used, take);
                s->hdr_len += take;
                used += take;
                if (s->hdr_len == STREAM_CMD_LEN)
                    start_command(s);
            }
            break;
        case STREAM_RESYNC: {
            uint8_t b = data[used++];
            if (b == cmd_magic[s->hdr_len])
                s->hdr_len++;
            else
                s->hdr_len = b == cmd_magic[0] ? 1 : 0;
            if (s->hdr_len == 4) {
                memcpy(s->hdr, cmd_magic, 4);
                s->state = STREAM_IDLE;
            }
            break;
        }
        case STREAM_SINK: {
            size_t take = len - used;
            if (take > s->remaining)
                take = (size_t)s->remaining;
            sink_bytes(s, data + used, take);
            used += take;
            s->remaining -= take;
            if (s->remaining == 0)
                finish_sink(s);
            break;
        }
        case STREAM_SOURCE:
            break;
        }
    }
    s->rx_bytes += used;
    return used;
}

static size_t stream_tx(struct sim_model *m, unsigned chan, uint8_t *buf, size_t cap,
                        uint64_t now_ms)
{
    (void)chan;
    (void)now_ms;
    struct stream *s = (struct stream *)m;
    if (s->max_tx && cap > s->max_tx)
        cap = s->max_tx;
    size_t n = 0;
    if (s->out_pos < s->out_len) {
        /* A reply is one message: it never shares a transfer with other data. */
        n = s->out_len - s->out_pos;
        if (n > cap)
            n = cap;
        memcpy(buf, s->out + s->out_pos, n);
        s->out_pos += n;
        if (s->out_pos == s->out_len)
            s->out_pos = s->out_len = 0;
    } else if (s->state == STREAM_SOURCE) {
        n = cap;
        if (n > s->remaining)
            n = (size_t)s->remaining;
        gen_fill(&s->gen, buf, n);
        s->remaining -= n;
        if (s->remaining == 0)
            s->state = STREAM_IDLE;
    }
    s->tx_bytes += n;
    return n;
}

static void stream_line(struct sim_model *m, unsigned chan, const struct sim_line *line,
                        uint64_t now_ms)
{
    (void)chan;
    (void)now_ms;
    ((struct stream *)m)->line = *line;
}

static const char *state_name(enum stream_state st)
{
    switch (st) {
    case STREAM_IDLE:
        return "idle";
    case STREAM_RESYNC:
        return "resync";
    case STREAM_SINK:
        return "sink";
    case STREAM_SOURCE:
        return "source";
    }
    return "?";
}

static int stream_stats(const struct sim_model *m, char *buf, size_t cap)
{
    const struct stream *s = (const struct stream *)m;
    char hex[65] = "none";
    if (s->have_last_sha)
        for (int i = 0; i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02x", s->last_sha[i]);
    size_t pos = 0;
    int r = 0;
    r = r ? r : sim_stats_add(buf, cap, &pos, "rx_bytes", "%" PRIu64, s->rx_bytes);
    r = r ? r : sim_stats_add(buf, cap, &pos, "tx_bytes", "%" PRIu64, s->tx_bytes);
    r = r ? r : sim_stats_add(buf, cap, &pos, "sink_ok", "%" PRIu64, s->sink_ok);
    r = r ? r : sim_stats_add(buf, cap, &pos, "sink_bad", "%" PRIu64, s->sink_bad);
    r = r ? r : sim_stats_add(buf, cap, &pos, "last_sink_sha256", "%s", hex);
    r = r ? r : sim_stats_add(buf, cap, &pos, "commands", "%" PRIu64, s->commands);
    r = r ? r : sim_stats_add(buf, cap, &pos, "bad_commands", "%" PRIu64, s->bad_commands);
    r = r ? r : sim_stats_add(buf, cap, &pos, "state", "%s", state_name(s->state));
    r = r ? r : sim_stats_add(buf, cap, &pos, "dtr", "%d", s->line.dtr);
    r = r ? r : sim_stats_add(buf, cap, &pos, "rts", "%d", s->line.rts);
    r = r ? r : sim_stats_add(buf, cap, &pos, "baud", "%" PRIu32, s->line.baud);
    return r < 0 ? r : (int)pos;
}

static int stream_create(struct sim_opts *opts, struct sim_model **ret_model, char *err,
                         size_t err_len)
{
    struct stream *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, err_len, "out of memory");
        return -ENOMEM;
    }
    int r = sim_opts_get_u64(opts, "max_tx", 0, &s->max_tx, err, err_len);
    if (r == 0)
        r = sim_opts_get_u64(opts, "max_rx", 0, &s->max_rx, err, err_len);
    if (r == 0) {
        s->md = EVP_MD_CTX_new();
        if (!s->md) {
            snprintf(err, err_len, "EVP_MD_CTX_new failed");
            r = -ENOMEM;
        }
    }
    if (r < 0) {
        free(s);
        return r;
    }
    s->state = STREAM_IDLE;
    *ret_model = &s->base;
    return 0;
}

static void stream_destroy(struct sim_model *m)
{
    struct stream *s = (struct stream *)m;
    EVP_MD_CTX_free(s->md);
    free(s);
}

const struct sim_model_ops sim_stream_ops = {
    .name = "stream",
    .summary = "loopback fixture: FRLB SINK/SOURCE commands with a xorshift generator",
    .max_chans = 1,
    .create = stream_create,
    .destroy = stream_destroy,
    .rx = stream_rx,
    .tx = stream_tx,
    .line = stream_line,
    .stats = stream_stats,
};
