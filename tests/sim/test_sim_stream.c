/* Unit tests for the sim registry, options, the "silent" model and the "stream" loopback
 * model. Expected generator bytes and digests were computed independently (Python) from the
 * protocol text, not from stream.c. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "sim.h"

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void make_cmd(uint8_t cmd[24], uint32_t op, uint32_t seed, uint32_t reserved,
                     uint64_t length)
{
    memcpy(cmd, "FRLB", 4);
    put32(cmd + 4, op);
    put32(cmd + 8, seed);
    put32(cmd + 12, reserved);
    put32(cmd + 16, (uint32_t)length);
    put32(cmd + 20, (uint32_t)(length >> 32));
}

/* Reference generator written from the protocol text. */
static void ref_gen(uint32_t seed, uint8_t *out, size_t n)
{
    uint32_t x = seed ? seed : 0x9E3779B9u;
    for (size_t i = 0; i < n; i += 4) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        for (size_t k = 0; k < 4 && i + k < n; k++)
            out[i + k] = (uint8_t)(x >> (8 * k));
    }
}

static void sha256(const uint8_t *data, size_t len, uint8_t out[32])
{
    unsigned int n = 0;
    assert_int_equal(EVP_Digest(data, len, out, &n, EVP_sha256(), NULL), 1);
    assert_int_equal(n, 32);
}

static struct sim_model *make(const char *name, const char *opts)
{
    struct sim_model *m = NULL;
    char err[SIM_ERR_MAX] = "";
    int r = sim_model_create(name, opts, &m, err, sizeof(err));
    if (r != 0)
        fail_msg("create %s: %s", name, err);
    return m;
}

/* Reads everything the model has now (calls tx until it returns 0). */
static size_t drain(struct sim_model *m, uint8_t *buf, size_t cap)
{
    size_t total = 0, n;
    while (total < cap && (n = sim_model_tx(m, 0, buf + total, cap - total, 0)) > 0)
        total += n;
    return total;
}

/* Value of key in the model's stats, or "" when absent. */
static const char *stat(struct sim_model *m, const char *key)
{
    static char buf[SIM_STATS_MAX];
    static char value[128];
    assert_true(sim_model_stats(m, buf, sizeof(buf)) > 0);
    size_t klen = strlen(key);
    for (char *line = buf; *line;) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        if (strncmp(line, key, klen) == 0 && line[klen] == '=') {
            snprintf(value, sizeof(value), "%.*s", (int)(nl - line - (int)klen - 1),
                     line + klen + 1);
            return value;
        }
        line = nl + 1;
    }
    return "";
}

static void check_reply(const uint8_t *r, uint32_t status, const uint8_t *sha)
{
    static const uint8_t zero[32];
    assert_memory_equal(r, "FRLR", 4);
    assert_int_equal(r[4] | r[5] << 8 | r[6] << 16 | (uint32_t)r[7] << 24, status);
    assert_memory_equal(r + 8, sha ? sha : zero, 32);
}

static void test_generator_vectors(void **state)
{
    (void)state;
    static const uint8_t g0[12] = {0x19, 0x46, 0x0c, 0x51, 0x3e, 0x55,
                                   0x2e, 0xe0, 0x3a, 0x8f, 0xb9, 0x7b};
    static const uint8_t g1[10] = {0x21, 0x20, 0x04, 0x00, 0x01, 0x06, 0x08, 0x04, 0xc5, 0xa8};
    uint8_t buf[16], cmd[24];
    ref_gen(0, buf, 12);
    assert_memory_equal(buf, g0, 12); /* the reference itself matches the Python vectors */

    struct sim_model *m = make("stream", NULL);
    make_cmd(cmd, 2, 0, 0, 12);
    assert_int_equal(sim_model_rx(m, 0, cmd, 24, 0), 24);
    assert_int_equal(drain(m, buf, sizeof(buf)), 12);
    assert_memory_equal(buf, g0, 12);

    make_cmd(cmd, 2, 1, 0, 10); /* last word truncated */
    assert_int_equal(sim_model_rx(m, 0, cmd, 24, 0), 24);
    assert_int_equal(drain(m, buf, sizeof(buf)), 10);
    assert_memory_equal(buf, g1, 10);
    assert_string_equal(stat(m, "commands"), "2");
    assert_string_equal(stat(m, "tx_bytes"), "22");
    sim_model_destroy(m);
}

static void test_sink_ok_known_digest(void **state)
{
    (void)state;
    static const char *want = "22a6667c0c1380d6bd34293e89392712903c7bf49f46397e7c7fa400496149d1";
    uint8_t data[1000], cmd[24], reply[64], sha[32];
    ref_gen(7, data, sizeof(data));
    sha256(data, sizeof(data), sha);

    struct sim_model *m = make("stream", NULL);
    make_cmd(cmd, 1, 7, 0, sizeof(data));
    assert_int_equal(sim_model_rx(m, 0, cmd, 24, 0), 24);
    assert_int_equal(drain(m, reply, sizeof(reply)), 0); /* nothing before all data arrived */
    assert_int_equal(sim_model_rx(m, 0, data, sizeof(data), 0), sizeof(data));
    assert_int_equal(drain(m, reply, sizeof(reply)), 40);
    check_reply(reply, 0, sha);
    assert_string_equal(stat(m, "sink_ok"), "1");
    assert_string_equal(stat(m, "sink_bad"), "0");
    assert_string_equal(stat(m, "last_sink_sha256"), want);
    assert_string_equal(stat(m, "rx_bytes"), "1024");
    sim_model_destroy(m);
}

static void test_byte_at_a_time(void **state)
{
    (void)state;
    enum { LEN = 777 };
    uint8_t data[LEN], cmd[24], reply[40], sha[32], src[LEN];
    ref_gen(12345, data, LEN);
    sha256(data, LEN, sha);
    struct sim_model *m = make("stream", NULL);

    make_cmd(cmd, 1, 12345, 0, LEN);
    for (size_t i = 0; i < 24; i++)
        assert_int_equal(sim_model_rx(m, 0, cmd + i, 1, 0), 1);
    for (size_t i = 0; i < LEN; i++) {
        assert_int_equal(sim_model_tx(m, 0, reply, sizeof(reply), 0), 0);
        assert_int_equal(sim_model_rx(m, 0, data + i, 1, 0), 1);
    }
    /* Read the reply one byte at a time too. */
    for (size_t i = 0; i < 40; i++)
        assert_int_equal(sim_model_tx(m, 0, reply + i, 1, 0), 1);
    assert_int_equal(sim_model_tx(m, 0, reply, 1, 0), 0);
    check_reply(reply, 0, sha);

    make_cmd(cmd, 2, 12345, 0, LEN);
    for (size_t i = 0; i < 24; i++)
        assert_int_equal(sim_model_rx(m, 0, cmd + i, 1, 0), 1);
    for (size_t i = 0; i < LEN; i++)
        assert_int_equal(sim_model_tx(m, 0, src + i, 1, 0), 1);
    assert_int_equal(sim_model_tx(m, 0, src, 1, 0), 0);
    assert_memory_equal(src, data, LEN);
    sim_model_destroy(m);
}

static void test_sink_mismatch(void **state)
{
    (void)state;
    uint8_t data[4096], cmd[24], reply[40], sha[32];
    ref_gen(99, data, sizeof(data));
    data[2049] ^= 0x10;
    sha256(data, sizeof(data), sha);
    struct sim_model *m = make("stream", NULL);
    make_cmd(cmd, 1, 99, 0, sizeof(data));
    assert_int_equal(sim_model_rx(m, 0, cmd, 24, 0), 24);
    assert_int_equal(sim_model_rx(m, 0, data, sizeof(data), 0), sizeof(data));
    assert_int_equal(drain(m, reply, sizeof(reply)), 40);
    check_reply(reply, 1, sha); /* digest of what was received, not of G(seed) */
    assert_string_equal(stat(m, "sink_bad"), "1");
    assert_string_equal(stat(m, "sink_ok"), "0");

    /* The next command works again, so a mismatch does not poison the device. */
    ref_gen(99, data, sizeof(data));
    sha256(data, sizeof(data), sha);
    assert_int_equal(sim_model_rx(m, 0, cmd, 24, 0), 24);
    assert_int_equal(sim_model_rx(m, 0, data, sizeof(data), 0), sizeof(data));
    assert_int_equal(drain(m, reply, sizeof(reply)), 40);
    check_reply(reply, 0, sha);
    sim_model_destroy(m);
}

static void test_bad_magic_resync(void **state)
{
    (void)state;
    uint8_t in[128], reply[64], src[8], want[8];
    size_t n = 0;
    memcpy(in + n, "garbageFRLXFR", 13); /* partial magics must not fool the resync */
    n += 13;
    make_cmd(in + n, 2, 5, 0, 8);
    n += 24;
    struct sim_model *m = make("stream", NULL);

    size_t used = sim_model_rx(m, 0, in, n, 0);
    assert_int_equal(used, 0); /* 'g' is the bad byte; the device now has a reply pending */
    assert_int_equal(drain(m, reply, sizeof(reply)), 40);
    check_reply(reply, 2, NULL);
    assert_int_equal(sim_model_rx(m, 0, in, n, 0), n);
    assert_int_equal(drain(m, src, sizeof(src)), 8);
    ref_gen(5, want, 8);
    assert_memory_equal(src, want, 8);
    assert_string_equal(stat(m, "bad_commands"), "1");
    assert_string_equal(stat(m, "commands"), "1");
    sim_model_destroy(m);
}

static void test_unknown_op_and_reserved(void **state)
{
    (void)state;
    uint8_t cmd[24], reply[40], buf[4];
    struct sim_model *m = make("stream", NULL);
    make_cmd(cmd, 3, 1, 0, 4);
    assert_int_equal(sim_model_rx(m, 0, cmd, 24, 0), 24);
    assert_int_equal(drain(m, reply, sizeof(reply)), 40);
    check_reply(reply, 2, NULL);
    /* In resync now: bytes without "FRLB" are discarded silently. */
    assert_int_equal(sim_model_rx(m, 0, (const uint8_t *)"xxxx", 4, 0), 4);
    assert_int_equal(drain(m, reply, sizeof(reply)), 0);

    make_cmd(cmd, 2, 1, 1, 4); /* reserved must be 0 */
    assert_int_equal(sim_model_rx(m, 0, cmd, 24, 0), 24);
    assert_int_equal(drain(m, reply, sizeof(reply)), 40);
    check_reply(reply, 2, NULL);
    assert_string_equal(stat(m, "state"), "resync");

    make_cmd(cmd, 2, 1, 0, 4);
    assert_int_equal(sim_model_rx(m, 0, cmd, 24, 0), 24);
    assert_int_equal(drain(m, buf, sizeof(buf)), 4);
    assert_string_equal(stat(m, "bad_commands"), "2");
    sim_model_destroy(m);
}

static void test_busy_during_source_and_zero_lengths(void **state)
{
    (void)state;
    uint8_t cmd[24], buf[64], sha[32];
    struct sim_model *m = make("stream", "max_tx=3");
    make_cmd(cmd, 2, 2, 0, 10);
    assert_int_equal(sim_model_rx(m, 0, cmd, 24, 0), 24);
    assert_int_equal(sim_model_rx(m, 0, cmd, 24, 0), 0); /* busy: source not read yet */
    assert_int_equal(sim_model_tx(m, 0, buf, sizeof(buf), 0), 3);
    assert_int_equal(drain(m, buf, sizeof(buf)), 7);
    /* SINK of 0 bytes answers at once with the digest of nothing. */
    make_cmd(cmd, 1, 2, 0, 0);
    assert_int_equal(sim_model_rx(m, 0, cmd, 24, 0), 24);
    sha256(NULL, 0, sha);
    assert_int_equal(drain(m, buf, sizeof(buf)), 40);
    check_reply(buf, 0, sha);
    /* SOURCE of 0 bytes sends nothing. */
    make_cmd(cmd, 2, 2, 0, 0);
    assert_int_equal(sim_model_rx(m, 0, cmd, 24, 0), 24);
    assert_int_equal(drain(m, buf, sizeof(buf)), 0);
    assert_string_equal(stat(m, "state"), "idle");
    sim_model_destroy(m);
}

static void test_large_chunked(void **state)
{
    (void)state;
    enum { CHUNK = 65536, TOTAL = 8 << 20 };
    uint8_t *chunk = malloc(CHUNK), *got = malloc(CHUNK), cmd[24], reply[40];
    assert_non_null(chunk);
    assert_non_null(got);
    struct sim_model *m = make("stream", "max_rx=1000");
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestInit_ex(md, EVP_sha256(), NULL), 1);
    uint8_t *all = malloc(TOTAL);
    assert_non_null(all);
    ref_gen(0xABCDEF01u, all, TOTAL);
    make_cmd(cmd, 1, 0xABCDEF01u, 0, TOTAL);
    assert_int_equal(sim_model_rx(m, 0, cmd, 24, 0), 24);
    for (size_t off = 0; off < TOTAL;) {
        size_t n = sim_model_rx(m, 0, all + off, CHUNK, 0);
        assert_true(n > 0 && n <= 1000); /* max_rx caps what one call takes */
        assert_int_equal(EVP_DigestUpdate(md, all + off, n), 1);
        off += n;
    }
    uint8_t sha[32];
    unsigned int len = 0;
    assert_int_equal(EVP_DigestFinal_ex(md, sha, &len), 1);
    assert_int_equal(drain(m, reply, sizeof(reply)), 40);
    check_reply(reply, 0, sha);

    make_cmd(cmd, 2, 0xABCDEF01u, 0, TOTAL);
    assert_int_equal(sim_model_rx(m, 0, cmd, 24, 0), 24);
    for (size_t off = 0; off < TOTAL; off += CHUNK) {
        assert_int_equal(sim_model_tx(m, 0, got, CHUNK, 0), CHUNK);
        assert_memory_equal(got, all + off, CHUNK);
    }
    assert_int_equal(sim_model_tx(m, 0, got, CHUNK, 0), 0);
    EVP_MD_CTX_free(md);
    free(all);
    free(chunk);
    free(got);
    sim_model_destroy(m);
}

/* link_rate=B (the generic wrapper, any model): host bytes are taken in 10 ms slices no
 * faster than B bytes/s, and next_event_ms says when the link is free again. */
static void test_link_rate(void **state)
{
    (void)state;
    static uint8_t data[64 * 1024];
    uint8_t cmd[24], reply[64];
    ref_gen(9, data, sizeof(data));
    struct sim_model *m = make("stream", "link_rate=100000");
    make_cmd(cmd, 1, 9, 0, sizeof(data));
    uint64_t now = 0;
    assert_int_equal(sim_model_rx(m, 0, cmd, 24, now), 24);
    size_t off = 0;
    unsigned calls = 0;
    while (off < sizeof(data)) {
        size_t n = sim_model_rx(m, 0, data + off, sizeof(data) - off, now);
        assert_true(n <= 1000); /* 10 ms at 100 kB/s */
        off += n;
        uint64_t due = sim_model_next_event_ms(m, now);
        assert_true(off == sizeof(data) || (due > now && due != SIM_NEVER));
        if (off < sizeof(data))
            now = due;
        assert_true(++calls < 1000);
    }
    /* 65,560 bytes at 100,000 bytes/s: 655 ms, give or take one slice */
    assert_true(now >= 640 && now <= 670);
    assert_int_equal(drain(m, reply, sizeof(reply)), 40);
    assert_string_equal(stat(m, "sink_ok"), "1");
    sim_model_destroy(m);

    /* A host that abandons the transfer after one slice: the link is free again at 11 ms,
     * and after that the model waits for the host, not for time (sim.h): no past time. */
    m = make("stream", "link_rate=100000");
    assert_int_equal(sim_model_rx(m, 0, cmd, 24, 0), 24);
    assert_int_equal(sim_model_rx(m, 0, data, sizeof(data), 1), 1000);
    assert_int_equal(sim_model_next_event_ms(m, 1), 11);
    assert_int_equal(sim_model_next_event_ms(m, 11), SIM_NEVER);
    assert_int_equal(sim_model_next_event_ms(m, 5000), SIM_NEVER);
    sim_model_destroy(m);
    char err[SIM_ERR_MAX];
    assert_int_equal(sim_model_create("stream", "link_rate=fast", &m, err, sizeof(err)), -EINVAL);
}

static void test_registry_options_silent(void **state)
{
    (void)state;
    char err[SIM_ERR_MAX];
    struct sim_model *m = NULL;
    assert_non_null(sim_model_find("stream"));
    assert_non_null(sim_model_find("silent"));
    assert_null(sim_model_find("nope"));
    assert_int_equal(sim_model_create("nope", NULL, &m, err, sizeof(err)), -ENOENT);
    assert_int_equal(sim_model_create("stream", "bogus=1", &m, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "bogus"));
    assert_int_equal(sim_model_create("stream", "max_tx=abc", &m, err, sizeof(err)), -EINVAL);
    assert_int_equal(sim_model_create("stream", "novalue", &m, err, sizeof(err)), -EINVAL);
    assert_null(m);

    struct sim_opts opts;
    assert_int_equal(sim_opts_parse("a=1,b=x=y,a=2", &opts, err, sizeof(err)), 0);
    assert_int_equal(opts.count, 3);
    assert_string_equal(sim_opts_get(&opts, "a"), "2"); /* the last one wins */
    assert_string_equal(sim_opts_first_unused(&opts), "b");
    assert_string_equal(sim_opts_get(&opts, "b"), "x=y");
    assert_null(sim_opts_first_unused(&opts));
    sim_opts_free(&opts);

    m = make("silent", NULL);
    uint8_t buf[16] = "hello";
    assert_int_equal(sim_model_rx(m, 2, buf, 5, 0), 5);
    assert_int_equal(sim_model_tx(m, 2, buf, sizeof(buf), 0), 0);
    struct sim_line line = {.dtr = true, .rts = false, .baud = 115200};
    sim_model_line(m, 2, &line, 0);
    assert_string_equal(stat(m, "rx_bytes"), "5");
    assert_string_equal(stat(m, "rx_bytes_chan2"), "5");
    assert_string_equal(stat(m, "dtr"), "1");
    assert_string_equal(stat(m, "baud"), "115200");
    assert_int_equal(sim_model_next_event_ms(m, 5), SIM_NEVER);
    sim_model_destroy(m);

    /* Channels a model does not serve swallow bytes and produce nothing. */
    m = make("stream", NULL);
    assert_int_equal(sim_model_rx(m, 3, buf, 5, 0), 5);
    assert_string_equal(stat(m, "rx_bytes"), "0");
    sim_model_destroy(m);
}

static void test_silent_leaves_and_replugs(void **state)
{
    (void)state;
    char act[SIM_ACTION_MAX], err[SIM_ERR_MAX];
    struct sim_model *m = make("silent", "leave_after_ms=250,replug=asr-dl");
    sim_model_start(m, 1000);
    assert_int_equal(sim_model_next_event_ms(m, 1000), 1250);
    assert_int_equal(sim_model_take_action(m, act, sizeof(act), 1249), 0);
    assert_int_equal(sim_model_take_action(m, act, sizeof(act), 1250), 1);
    assert_string_equal(act, "replug asr-dl");
    assert_int_equal(sim_model_take_action(m, act, sizeof(act), 5000), 0); /* only once */
    assert_int_equal(sim_model_next_event_ms(m, 5000), SIM_NEVER);
    sim_model_destroy(m);

    m = make("silent", "leave_after_ms=0");
    sim_model_start(m, 7);
    assert_int_equal(sim_model_take_action(m, act, sizeof(act), 7), 1);
    assert_string_equal(act, "unplug");
    sim_model_destroy(m);

    m = make("silent", NULL); /* stays forever */
    sim_model_start(m, 7);
    assert_int_equal(sim_model_next_event_ms(m, 7), SIM_NEVER);
    assert_int_equal(sim_model_take_action(m, act, sizeof(act), 1u << 30), 0);
    sim_model_destroy(m);

    struct sim_model *bad = NULL;
    assert_int_equal(sim_model_create("silent", "replug=asr-dl", &bad, err, sizeof(err)), -EINVAL);
    assert_int_equal(
        sim_model_create("silent", "leave_after_ms=1,replug=a b", &bad, err, sizeof(err)), -EINVAL);
    assert_null(bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generator_vectors),
        cmocka_unit_test(test_link_rate),
        cmocka_unit_test(test_sink_ok_known_digest),
        cmocka_unit_test(test_byte_at_a_time),
        cmocka_unit_test(test_sink_mismatch),
        cmocka_unit_test(test_bad_magic_resync),
        cmocka_unit_test(test_unknown_op_and_reserved),
        cmocka_unit_test(test_busy_during_source_and_zero_lengths),
        cmocka_unit_test(test_large_chunked),
        cmocka_unit_test(test_registry_options_silent),
        cmocka_unit_test(test_silent_leaves_and_replugs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
