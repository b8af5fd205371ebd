/* protocols/asr/asr_wire.c and the sparse/require helpers of asr_plan.c against vectors worked
 * out by hand from ../shared/protocols/asr.md (§2.1 framing, §2.2 handshake frames, §2.3
 * replies and require rules, §2.6 sparse layout). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "asr/asr_plan.h"
#include "asr/asr_wire.h"

static void expect_bytes(const uint8_t *got, size_t got_len, const uint8_t *want, size_t want_len)
{
    assert_int_equal(got_len, want_len);
    assert_memory_equal(got, want, want_len);
}

static void test_encode_handshake_frames(void **state)
{
    (void)state;
    uint8_t out[64];
    /* §2.2 step 3: HELLO offering 1024 = 7E 7D 21 04 00 7E. */
    static const uint8_t hello[] = {0x7E, 0x7D, 0x21, 0x04, 0x00, 0x7E};
    expect_bytes(out, asr_smux_encode_hello(out, sizeof(out), 1024), hello, sizeof(hello));
    /* §2.2 step 2: STDIO has no type pair: 7E "UABT" 7E. */
    static const uint8_t uabt[] = {0x7E, 'U', 'A', 'B', 'T', 0x7E};
    expect_bytes(out, asr_smux_encode(out, sizeof(out), ASR_SMUX_STDIO, (const uint8_t *)"UABT", 4),
                 uabt, sizeof(uabt));
    static const uint8_t probe[] = {0x7E, 0x55, 0x55, 0x55, 0x55, 0x7E};
    assert_memory_equal(asr_smux_probe, probe, sizeof(probe));
    /* HELLO of MTU 0x7E7D: both bytes escaped. */
    static const uint8_t hello_esc[] = {0x7E, 0x7D, 0x21, 0x7D, 0x5E, 0x7D, 0x5D, 0x7E};
    expect_bytes(out, asr_smux_encode_hello(out, sizeof(out), 0x7E7D), hello_esc,
                 sizeof(hello_esc));
}

static void test_encode_command_and_data(void **state)
{
    (void)state;
    uint8_t out[64];
    static const uint8_t cmd[] = {0x7E, 0x7D, 0x23, 'g', 'e', 't', 'v', 'a', 'r',
                                  ':',  'p',  'r',  'o', 'd', 'u', 'c', 't', 0x7E};
    expect_bytes(out,
                 asr_smux_encode(out, sizeof(out), ASR_SMUX_ABOOT_CMD,
                                 (const uint8_t *)"getvar:product", 14),
                 cmd, sizeof(cmd));
    /* Only 0x7E and 0x7D are escaped; 0x5E, 0x5D and 0x00 go as they are. */
    static const uint8_t payload[] = {0x7E, 0x7D, 0x00, 0x5E, 0x5D};
    static const uint8_t data[] = {0x7E, 0x7D, 0x24, 0x7D, 0x5E, 0x7D,
                                   0x5D, 0x00, 0x5E, 0x5D, 0x7E};
    expect_bytes(out, asr_smux_encode(out, sizeof(out), ASR_SMUX_ABOOT_DATA, payload, 5), data,
                 sizeof(data));
    /* Too small a buffer: 0, never a partial frame. */
    assert_int_equal(asr_smux_encode(out, 10, ASR_SMUX_ABOOT_DATA, payload, 5), 0);
    assert_int_equal(asr_smux_encode(out, sizeof(out), (enum asr_smux_type)6, payload, 1), 0);
    assert_int_equal(asr_smux_encoded_max(5), 14);
}

/* Feeds everything, collecting frames (type, payload) and errors in order. */
struct seen {
    int n;
    uint8_t type[8];
    uint8_t payload[8][64];
    size_t len[8];
    int errors;
    char error[96];
};

static void feed_all(struct asr_smux_dec *d, const uint8_t *p, size_t n, size_t piece,
                     struct seen *s)
{
    size_t at = 0;
    while (at < n) {
        size_t chunk = piece && n - at > piece ? piece : n - at;
        size_t off = 0;
        while (off < chunk) {
            size_t used = 0;
            struct asr_smux_frame f;
            enum asr_dec_result r = asr_smux_dec_feed(d, p + at + off, chunk - off, &used, &f);
            assert_true(used > 0 && used <= chunk - off);
            off += used;
            if (r == ASR_DEC_FRAME && s->n < 8) {
                s->type[s->n] = f.type;
                assert_true(f.len <= sizeof(s->payload[0]));
                memcpy(s->payload[s->n], f.payload, f.len);
                s->len[s->n++] = f.len;
            } else if (r == ASR_DEC_ERROR) {
                s->errors++;
                strcpy(s->error, d->error);
            }
        }
        at += chunk;
    }
}

static void test_decode_stream(void **state)
{
    (void)state;
    /* Junk before the first delimiter, a HELLO_REPLY, an empty frame, a heartbeat "~}%H",
     * an OKAY whose closing delimiter opens the next frame (a STDIO log). */
    static const uint8_t in[] = {'x',  'y',  0x7E, 0x7D, 0x22, 0x04, 0x00, 0x7E,
                                 0x7E, 0x7D, 0x25, 'H',  0x7E, 0x7D, 0x23, 'O',
                                 'K',  'A',  'Y',  0x7E, 'l',  'o',  'g',  0x7E};
    for (size_t piece = 0; piece <= 3; piece++) {
        struct asr_smux_dec d;
        struct seen s = {0};
        asr_smux_dec_init(&d);
        feed_all(&d, in, sizeof(in), piece, &s);
        assert_int_equal(s.errors, 0);
        assert_int_equal(s.n, 4);
        assert_int_equal(s.type[0], ASR_SMUX_HELLO_REPLY);
        assert_int_equal(s.len[0], 2);
        assert_int_equal(s.payload[0][0], 0x04);
        assert_int_equal(s.type[1], ASR_SMUX_HEART_BEAT);
        assert_int_equal(s.type[2], ASR_SMUX_ABOOT_CMD);
        assert_memory_equal(s.payload[2], "OKAY", 4);
        assert_int_equal(s.type[3], ASR_SMUX_STDIO);
        assert_memory_equal(s.payload[3], "log", 3);
        assert_int_equal(d.skipped, 2);
        assert_int_equal(asr_smux_dec_partial(&d), 0);
    }
}

static void test_decode_escapes(void **state)
{
    (void)state;
    /* ABOOT_DATA 7E 7D 00; STDIO with an explicit type pair 7D 20. */
    static const uint8_t in[] = {0x7E, 0x7D, 0x24, 0x7D, 0x5E, 0x7D, 0x5D, 0x00,
                                 0x7E, 0x7D, 0x20, 'U',  'A',  'B',  'T',  0x7E};
    struct asr_smux_dec d;
    struct seen s = {0};
    asr_smux_dec_init(&d);
    feed_all(&d, in, sizeof(in), 1, &s);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.type[0], ASR_SMUX_ABOOT_DATA);
    static const uint8_t want[] = {0x7E, 0x7D, 0x00};
    expect_bytes(s.payload[0], s.len[0], want, 3);
    assert_int_equal(s.type[1], ASR_SMUX_STDIO);
    expect_bytes(s.payload[1], s.len[1], (const uint8_t *)"UABT", 4);
}

static void test_decode_malformed_then_recover(void **state)
{
    (void)state;
    static const uint8_t unknown_esc[] = {0x7E, 0x7D, 0x23, 'A', 0x7D, 0x30, 'B', 0x7E,
                                          0x7E, 0x7D, 0x23, 'O', 'K',  'A',  'Y', 0x7E};
    static const uint8_t type_inside[] = {0x7E, 0x7D, 0x23, 'A', 0x7D, 0x23, 'B', 0x7E,
                                          0x7D, 0x23, 'O',  'K', 'A',  'Y',  0x7E};
    static const uint8_t esc_flag[] = {0x7E, 0x7D, 0x23, 'A', 0x7D, 0x7E, 0x7D,
                                       0x23, 'O',  'K',  'A', 'Y',  0x7E};
    const struct {
        const uint8_t *p;
        size_t n;
        const char *err;
    } cases[] = {
        {unknown_esc, sizeof(unknown_esc), "unknown escape 7D 30"},
        {type_inside, sizeof(type_inside), "frame type pair inside a frame: 7D 23"},
        {esc_flag, sizeof(esc_flag), "escape byte 0x7D followed by the delimiter"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct asr_smux_dec d;
        struct seen s = {0};
        asr_smux_dec_init(&d);
        feed_all(&d, cases[i].p, cases[i].n, 0, &s);
        assert_int_equal(s.errors, 1);
        assert_string_equal(s.error, cases[i].err);
        assert_int_equal(s.n, 1); /* the next frame still comes through */
        assert_int_equal(s.type[0], ASR_SMUX_ABOOT_CMD);
        expect_bytes(s.payload[0], s.len[0], (const uint8_t *)"OKAY", 4);
    }
}

static void test_decode_oversize(void **state)
{
    (void)state;
    size_t n = ASR_SMUX_RX_MAX + 10;
    uint8_t *in = malloc(n + 8);
    assert_non_null(in);
    in[0] = 0x7E;
    memset(in + 1, 'a', n - 1);
    static const uint8_t tail[] = {0x7E, 0x7D, 0x25, 'H', 0x7E};
    memcpy(in + n, tail, 5);
    struct asr_smux_dec d;
    struct seen s = {0};
    asr_smux_dec_init(&d);
    feed_all(&d, in, n + 5, 700, &s);
    assert_int_equal(s.errors, 1);
    assert_string_equal(s.error, "frame longer than 2048 bytes");
    assert_int_equal(s.n, 1);
    assert_int_equal(s.type[0], ASR_SMUX_HEART_BEAT);
    free(in);
}

static void reply(const char *text, struct asr_reply *r)
{
    asr_reply_parse((const uint8_t *)text, strlen(text), r);
}

static void test_replies(void **state)
{
    (void)state;
    struct asr_reply r;
    reply("OKAYarom-tiny", &r);
    assert_int_equal(r.kind, ASR_REPLY_OKAY);
    assert_string_equal(r.text, "arom-tiny");
    reply("OKAY", &r);
    assert_int_equal(r.kind, ASR_REPLY_OKAY);
    assert_string_equal(r.text, "");
    reply("DATA0000f000", &r);
    assert_int_equal(r.kind, ASR_REPLY_DATA);
    assert_int_equal(r.size, 0xf000);
    reply("DATA000FF0A0", &r);
    assert_int_equal(r.kind, ASR_REPLY_DATA);
    assert_int_equal(r.size, 0xFF0A0);
    reply("FAILunknown command", &r);
    assert_int_equal(r.kind, ASR_REPLY_FAIL);
    assert_string_equal(r.text, "unknown command");
    reply("INFOsim: psram ok", &r);
    assert_int_equal(r.kind, ASR_REPLY_INFO);
    assert_string_equal(r.text, "sim: psram ok");
    const char *bad[] = {"oKAY",          "OK", "DATA00f0", "DATA0000f00g", "DATA0000f0000",
                         "protocol error"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        reply(bad[i], &r);
        assert_int_equal(r.kind, ASR_REPLY_BAD);
        assert_true(strlen(r.text) > 5);
    }
    uint8_t long_reply[129];
    memset(long_reply, 'O', sizeof(long_reply));
    asr_reply_parse(long_reply, sizeof(long_reply), &r);
    assert_int_equal(r.kind, ASR_REPLY_BAD);
    const uint8_t ctl[] = {'F', 'A', 'I', 'L', 'a', 0x01, '\n', 'b'};
    asr_reply_parse(ctl, sizeof(ctl), &r);
    assert_int_equal(r.kind, ASR_REPLY_FAIL);
    assert_string_equal(r.text, "a??b");
}

static void test_require_rules(void **state)
{
    (void)state;
    assert_true(asr_require_match("product", "arom|arom-tiny", "arom-tiny"));
    assert_true(asr_require_match("product", "arom|arom-tiny", "arom"));
    assert_false(asr_require_match("product", "arom|arom-tiny", "arom-t"));
    assert_false(asr_require_match("product", "arom|arom-tiny", ""));
    assert_true(asr_require_match("version", "0.5|0.6", "0.6"));
    assert_false(asr_require_match("version", "0.5", "0.50"));
    assert_true(asr_require_match("version-bootrom", "2020.07.30", "2020.07.30"));
    assert_false(asr_require_match("version-bootrom", "2020.07.30", "2019.01.15"));
    assert_true(asr_require_match("max-download-size", "0x10000", "0x100000"));
    assert_true(asr_require_match("max-download-size", "100000", "0x100000"));
    assert_false(asr_require_match("max-download-size", "0x200000", "0x100000"));
    assert_false(asr_require_match("max-download-size", "0x10000", "big"));
    uint32_t v = 0;
    assert_int_equal(asr_parse_hex32("0xf000", &v), 0);
    assert_int_equal(v, 0xf000);
    assert_int_equal(asr_parse_hex32("100000", &v), 0);
    assert_int_equal(v, 0x100000);
    assert_int_equal(asr_parse_hex32("0x", &v), -22);
    assert_int_equal(asr_parse_hex32("123456789", &v), -22);
    assert_int_equal(asr_parse_hex32("12 ", &v), -22);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint8_t *whole(const struct asr_src *s, size_t *len)
{
    *len = asr_src_len(s);
    uint8_t *b = malloc(*len);
    assert_non_null(b);
    /* In uneven pieces, so every part boundary is crossed inside one copy. */
    for (size_t off = 0; off < *len;) {
        size_t n = *len - off < 777 ? *len - off : 777;
        asr_src_copy(s, off, b + off, n);
        off += n;
    }
    return b;
}

/* §2.6: 5000 bytes, limit 1 MiB: one segment = header + RAW(2 blocks) + CRC32, no DONT_CARE. */
static void test_sparse_single_segment(void **state)
{
    (void)state;
    uint8_t img[5000];
    for (size_t i = 0; i < sizeof(img); i++)
        img[i] = (uint8_t)(i * 31 + 7);
    uint32_t per = asr_sparse_blocks_per_segment(0x100000);
    assert_int_equal(per, 255); /* the 1,044,480-byte segments of §2.6 */
    assert_int_equal(asr_sparse_blocks_per_segment(100 + 4095), 0);
    assert_int_equal(asr_sparse_segment_count(sizeof(img), per), 1);
    struct asr_src s;
    size_t raw = 0;
    assert_int_equal(asr_sparse_segment(img, sizeof(img), per, 0, &s, &raw), 0);
    assert_int_equal(raw, 5000);
    size_t len;
    uint8_t *b = whole(&s, &len);
    assert_int_equal(len, 32 + 16 + 8192 + 16 + 4);
    static const uint8_t hdr[32] = {0x3A, 0xFF, 0x26, 0xED, 1, 0, 0, 0, 32, 0, 16,
                                    0,    0,    0x10, 0,    0, 2, 0, 0, 0,  2, 0,
                                    0,    0,    0,    0,    0, 0, 0, 0, 0,  0};
    assert_memory_equal(b, hdr, 32);
    static const uint8_t raw_hdr[16] = {0xC1, 0xCA, 0, 0, 2, 0, 0, 0, 0x10, 0x20, 0, 0, 0, 0, 0, 0};
    assert_memory_equal(b + 32, raw_hdr, 16);
    assert_memory_equal(b + 48, img, 5000);
    for (size_t i = 48 + 5000; i < 48 + 8192; i++)
        assert_int_equal(b[i], 0xFF);
    static const uint8_t crc_hdr[16] = {0xC4, 0xCA, 0, 0, 0, 0, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0};
    assert_memory_equal(b + 48 + 8192, crc_hdr, 16);
    uint32_t crc = (uint32_t)crc32(0L, b + 48, 8192);
    assert_int_equal(le32(b + 48 + 8192 + 16), crc);
    free(b);
    assert_int_equal(asr_sparse_segment(img, sizeof(img), per, 1, &s, &raw), -22);
    assert_int_equal(asr_sparse_segment(img, 0, per, 0, &s, &raw), -22);
}

/* 4 blocks (3 whole + 100 bytes), 2 blocks per segment: RAW(2)+DC(2)+CRC, DC(2)+RAW(2)+CRC. */
static void test_sparse_segments(void **state)
{
    (void)state;
    size_t n = 3 * 4096 + 100;
    uint8_t *img = malloc(n);
    assert_non_null(img);
    for (size_t i = 0; i < n; i++)
        img[i] = (uint8_t)(i ^ (i >> 8));
    uint32_t per = asr_sparse_blocks_per_segment(100 + 2 * 4096 + 50);
    assert_int_equal(per, 2);
    assert_int_equal(asr_sparse_segment_count(n, per), 2);
    struct asr_src s;
    size_t raw, len;
    assert_int_equal(asr_sparse_segment(img, n, per, 0, &s, &raw), 0);
    assert_int_equal(raw, 8192);
    uint8_t *b = whole(&s, &len);
    assert_int_equal(len, 32 + 16 + 8192 + 16 + 16 + 4);
    assert_int_equal(le32(b + 16), 4); /* total blocks: the whole image */
    assert_int_equal(le32(b + 20), 3); /* chunks */
    assert_memory_equal(b + 48, img, 8192);
    static const uint8_t dc2[16] = {0xC3, 0xCA, 0, 0, 2, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0};
    assert_memory_equal(b + 48 + 8192, dc2, 16);
    assert_int_equal(le32(b + 48 + 8192 + 32), (uint32_t)crc32(0L, img, 8192));
    free(b);
    assert_int_equal(asr_sparse_segment(img, n, per, 1, &s, &raw), 0);
    assert_int_equal(raw, 4096 + 100);
    b = whole(&s, &len);
    assert_int_equal(len, 32 + 16 + 16 + 8192 + 16 + 4);
    assert_int_equal(le32(b + 20), 3);
    assert_memory_equal(b + 32, dc2, 16);
    assert_int_equal(b[48], 0xC1);
    assert_int_equal(le32(b + 52), 2);
    assert_memory_equal(b + 64, img + 8192, 4196);
    uLong crc = crc32(0L, img + 8192, 4196);
    for (size_t i = 64 + 4196; i < 64 + 8192; i++) {
        assert_int_equal(b[i], 0xFF);
        crc = crc32(crc, b + i, 1);
    }
    assert_int_equal(le32(b + 64 + 8192 + 16), (uint32_t)crc);
    free(b);
    free(img);
}

static void test_sparse_is_and_raw_src(void **state)
{
    (void)state;
    uint8_t h[32] = {0x3A, 0xFF, 0x26, 0xED, 1, 0, 0, 0, 32, 0, 16, 0};
    assert_true(asr_sparse_is(h, sizeof(h)));
    h[8] = 28; /* Android's 28/12 header is not the ASR variant */
    assert_false(asr_sparse_is(h, sizeof(h)));
    assert_false(asr_sparse_is(h, 8));
    struct asr_src s;
    asr_src_raw(&s, (const uint8_t *)"abcdef", 6);
    uint8_t out[6];
    asr_src_copy(&s, 2, out, 3);
    assert_memory_equal(out, "cde", 3);
    assert_int_equal(asr_src_len(&s), 6);
}

static void test_options(void **state)
{
    (void)state;
    struct asr_opts o;
    char err[200] = "";
    assert_int_equal(asr_opts_parse(NULL, &o, err, sizeof(err)), 0);
    assert_int_equal(o.probe_ms, 5000);
    assert_int_equal(o.link_ms, 3000);
    assert_int_equal(o.mtu, 1024);
    assert_int_equal(o.reboot, 1);
    assert_int_equal(
        asr_opts_parse("reboot=0;mtu=512;max_download=0x10000;link_ms=0", &o, err, sizeof(err)), 0);
    assert_int_equal(o.reboot, 0);
    assert_int_equal(o.mtu, 512);
    assert_int_equal(o.max_download, 0x10000);
    assert_int_equal(o.link_ms, 0);
    assert_int_equal(asr_opts_parse("mtu=2048", &o, err, sizeof(err)), -22);
    assert_non_null(strstr(err, "mtu=2048"));
    assert_int_equal(asr_opts_parse("speed=1", &o, err, sizeof(err)), -22);
    assert_non_null(strstr(err, "speed"));
    assert_int_equal(asr_opts_parse("reboot=yes", &o, err, sizeof(err)), -22);
    assert_int_equal(asr_opts_parse("reboot", &o, err, sizeof(err)), -22);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_handshake_frames),
        cmocka_unit_test(test_encode_command_and_data),
        cmocka_unit_test(test_decode_stream),
        cmocka_unit_test(test_decode_escapes),
        cmocka_unit_test(test_decode_malformed_then_recover),
        cmocka_unit_test(test_decode_oversize),
        cmocka_unit_test(test_replies),
        cmocka_unit_test(test_require_rules),
        cmocka_unit_test(test_sparse_single_segment),
        cmocka_unit_test(test_sparse_segments),
        cmocka_unit_test(test_sparse_is_and_raw_src),
        cmocka_unit_test(test_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
