/* Unisoc wire formats: golden frames of protocols/unisoc.md §2.5 and §4.1, the incremental
 * decoders fed in every possible piece size, and their bounds. */
#include "unisoc/unisoc_wire.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

struct golden {
    uint16_t type;
    const char *payload; /* raw bytes */
    size_t plen;
    enum unisoc_check check;
    const uint8_t wire[24];
    size_t wlen;
};

#define G(...) {__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__})

static const struct golden goldens[] = {
    {0x00, "", 0, UNISOC_CHECK_CRC16, G(0x7E, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x7E)},
    {0x00, "", 0, UNISOC_CHECK_SUM, G(0x7E, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0x7E)},
    {0x80, "", 0, UNISOC_CHECK_CRC16, G(0x7E, 0x00, 0x80, 0x00, 0x00, 0x3B, 0x5A, 0x7E)},
    {0x80, "", 0, UNISOC_CHECK_SUM, G(0x7E, 0x00, 0x80, 0x00, 0x00, 0xFF, 0x7F, 0x7E)},
    {0x04, "", 0, UNISOC_CHECK_CRC16, G(0x7E, 0x00, 0x04, 0x00, 0x00, 0xDC, 0xC0, 0x7E)},
    {0x04, "", 0, UNISOC_CHECK_SUM, G(0x7E, 0x00, 0x04, 0x00, 0x00, 0xFF, 0xFB, 0x7E)},
    {0x03, "", 0, UNISOC_CHECK_SUM, G(0x7E, 0x00, 0x03, 0x00, 0x00, 0xFF, 0xFC, 0x7E)},
    {0x05, "", 0, UNISOC_CHECK_SUM, G(0x7E, 0x00, 0x05, 0x00, 0x00, 0xFF, 0xFA, 0x7E)},
    {0x81, "SPRD3\0", 6, UNISOC_CHECK_CRC16,
     G(0x7E, 0x00, 0x81, 0x00, 0x06, 0x53, 0x50, 0x52, 0x44, 0x33, 0x00, 0x57, 0x0A, 0x7E)},
    {0x01, "\x00\x83\x80\x00\x00\x00\x33\xA0", 8, UNISOC_CHECK_CRC16,
     G(0x7E, 0x00, 0x01, 0x00, 0x08, 0x00, 0x83, 0x80, 0x00, 0x00, 0x00, 0x33, 0xA0, 0xB3, 0xC1,
       0x7E)},
    {0x01, "\x00\x81\x00\x00\x00\x03\x00\x00", 8, UNISOC_CHECK_SUM,
     G(0x7E, 0x00, 0x01, 0x00, 0x08, 0x00, 0x81, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0xFF, 0x72,
       0x7E)},
    {0x09, "\x00\x01\xC2\x00", 4, UNISOC_CHECK_SUM,
     G(0x7E, 0x00, 0x09, 0x00, 0x04, 0x00, 0x01, 0xC2, 0x00, 0x3D, 0xF1, 0x7E)},
    {0x02, "\x7E\x7D\x00\x01", 4, UNISOC_CHECK_SUM,
     G(0x7E, 0x00, 0x02, 0x00, 0x04, 0x7D, 0x5E, 0x7D, 0x5D, 0x00, 0x01, 0x81, 0x7B, 0x7E)},
};
#define NGOLD (sizeof(goldens) / sizeof(goldens[0]))

static void test_checks(void **state)
{
    (void)state;
    assert_int_equal(unisoc_crc16_xmodem((const uint8_t *)"123456789", 9), 0x31C3);
    /* RFC 1071 example words 0001 f203 f4f5 f6f7: sum 0xddf2, complement 0x220d. */
    static const uint8_t w[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    assert_int_equal(unisoc_fdl_sum(w, sizeof(w), 0), 0x220d);
    /* Odd trailing byte: low byte (Unisoc) vs high byte (spd_dump). */
    static const uint8_t o[] = {0x12, 0x34, 0x56};
    assert_int_equal(unisoc_fdl_sum(o, 3, 0), (uint16_t) ~(0x1234 + 0x56));
    assert_int_equal(unisoc_fdl_sum(o, 3, 1), (uint16_t) ~(0x1234 + 0x5600));
}

static void test_encode_golden(void **state)
{
    (void)state;
    for (size_t i = 0; i < NGOLD; i++) {
        const struct golden *g = &goldens[i];
        uint8_t out[64];
        size_t n = unisoc_bsl_encode(out, sizeof(out), g->type, (const uint8_t *)g->payload,
                                     g->plen, g->check, 1);
        assert_int_equal(n, g->wlen);
        assert_memory_equal(out, g->wire, n);
        /* Too small a buffer: nothing, never a partial frame. */
        assert_int_equal(unisoc_bsl_encode(out, g->wlen - 1, g->type, (const uint8_t *)g->payload,
                                           g->plen, g->check, 1),
                         0);
    }
}

static void expect_golden_frame(const struct golden *g, const struct unisoc_bsl_frame *f)
{
    assert_int_equal(f->type, g->type);
    assert_int_equal(f->len, g->plen);
    if (g->plen)
        assert_memory_equal(f->payload, g->payload, g->plen);
    if (g->check == UNISOC_CHECK_CRC16)
        assert_true(f->crc_ok);
    else
        assert_true(f->sum_ok);
}

static void test_decode_byte_at_a_time(void **state)
{
    (void)state;
    struct unisoc_bsl_dec *d = malloc(sizeof(*d));
    assert_non_null(d);
    for (size_t i = 0; i < NGOLD; i++) {
        const struct golden *g = &goldens[i];
        unisoc_bsl_dec_init(d, 1);
        int frames = 0;
        for (size_t k = 0; k < g->wlen; k++) {
            size_t used = 0;
            struct unisoc_bsl_frame f;
            enum unisoc_dec_result r = unisoc_bsl_dec_feed(d, &g->wire[k], 1, &used, &f);
            assert_int_equal(used, 1);
            assert_int_not_equal(r, UNISOC_DEC_ERROR);
            if (r == UNISOC_DEC_FRAME) {
                assert_int_equal(k, g->wlen - 1);
                expect_golden_frame(g, &f);
                frames++;
            }
        }
        assert_int_equal(frames, 1);
    }
    free(d);
}

/* All goldens back to back with noise, empty frames and shared flags, cut at every offset
 * into two pieces: the same frames come out every time. */
static void test_decode_any_split(void **state)
{
    (void)state;
    uint8_t stream[512];
    size_t n = 0;
    stream[n++] = 0x55; /* UART "U" noise before the first flag */
    stream[n++] = 0x7E; /* empty frame */
    for (size_t i = 0; i < NGOLD; i++) {
        memcpy(stream + n, goldens[i].wire, goldens[i].wlen);
        n += goldens[i].wlen;
        if (i == 3)
            n--; /* share the closing flag of frame 3 with the opener of frame 4 */
    }
    struct unisoc_bsl_dec *d = malloc(sizeof(*d));
    assert_non_null(d);
    for (size_t cut = 0; cut <= n; cut++) {
        unisoc_bsl_dec_init(d, 1);
        size_t got = 0;
        const uint8_t *piece[2] = {stream, stream + cut};
        size_t plen[2] = {cut, n - cut};
        for (int p = 0; p < 2; p++) {
            size_t off = 0;
            while (off < plen[p]) {
                size_t used = 0;
                struct unisoc_bsl_frame f;
                enum unisoc_dec_result r =
                    unisoc_bsl_dec_feed(d, piece[p] + off, plen[p] - off, &used, &f);
                assert_int_not_equal(r, UNISOC_DEC_ERROR);
                assert_true(used > 0);
                off += used;
                if (r == UNISOC_DEC_FRAME) {
                    assert_true(got < NGOLD);
                    expect_golden_frame(&goldens[got], &f);
                    got++;
                }
            }
        }
        assert_int_equal(got, NGOLD);
    }
    free(d);
}

static enum unisoc_dec_result feed_all(struct unisoc_bsl_dec *d, const uint8_t *p, size_t n,
                                       struct unisoc_bsl_frame *f, size_t *consumed)
{
    size_t used = 0;
    enum unisoc_dec_result r = unisoc_bsl_dec_feed(d, p, n, &used, f);
    if (consumed)
        *consumed = used;
    return r;
}

static void test_decode_errors(void **state)
{
    (void)state;
    struct unisoc_bsl_dec *d = malloc(sizeof(*d));
    assert_non_null(d);
    struct unisoc_bsl_frame f;
    /* Length field says 2 payload bytes, frame carries none: truncated. */
    static const uint8_t trunc[] = {0x7E, 0x00, 0x80, 0x00, 0x02, 0xFF, 0x7D, 0x5D, 0x7E};
    unisoc_bsl_dec_init(d, 1);
    assert_int_equal(feed_all(d, trunc, sizeof(trunc), &f, NULL), UNISOC_DEC_ERROR);
    assert_non_null(strstr(d->error, "truncated"));
    /* Shorter than the 6-byte minimum. */
    static const uint8_t shortf[] = {0x7E, 0x00, 0x80, 0x00, 0x7E};
    unisoc_bsl_dec_init(d, 1);
    assert_int_equal(feed_all(d, shortf, sizeof(shortf), &f, NULL), UNISOC_DEC_ERROR);
    /* Escape followed by something other than 5E/5D. */
    static const uint8_t badesc[] = {0x7E, 0x00, 0x7D, 0x11, 0x00, 0x00, 0x3B, 0x5A, 0x7E};
    unisoc_bsl_dec_init(d, 1);
    assert_int_equal(feed_all(d, badesc, sizeof(badesc), &f, NULL), UNISOC_DEC_ERROR);
    assert_non_null(strstr(d->error, "escape"));
    /* A corrupted check value still decodes, flagged as not matching either check. */
    static const uint8_t badck[] = {0x7E, 0x00, 0x80, 0x00, 0x00, 0x12, 0x34, 0x7E};
    unisoc_bsl_dec_init(d, 1);
    assert_int_equal(feed_all(d, badck, sizeof(badck), &f, NULL), UNISOC_DEC_FRAME);
    assert_false(f.crc_ok);
    assert_false(f.sum_ok);
    free(d);
}

/* A device that never closes its frame: the decoder stops at its bound, reports it, and
 * finds the next good frame. */
static void test_decode_bounded(void **state)
{
    (void)state;
    struct unisoc_bsl_dec *d = malloc(sizeof(*d));
    assert_non_null(d);
    unisoc_bsl_dec_init(d, 1);
    size_t big = UNISOC_BSL_MAX_PAYLOAD + 100;
    uint8_t *junk = malloc(big);
    assert_non_null(junk);
    memset(junk, 0x11, big);
    junk[0] = 0x7E;
    struct unisoc_bsl_frame f;
    size_t used = 0;
    assert_int_equal(feed_all(d, junk, big, &f, &used), UNISOC_DEC_ERROR);
    assert_true(used <= sizeof(d->buf) + 2);
    assert_non_null(strstr(d->error, "longer"));
    size_t rest = big - used;
    assert_int_equal(feed_all(d, junk + used, rest, &f, &used), UNISOC_DEC_MORE);
    assert_int_equal(used, rest);
    assert_int_equal(unisoc_bsl_dec_partial(d), 0);
    assert_int_equal(feed_all(d, goldens[3].wire, goldens[3].wlen, &f, NULL), UNISOC_DEC_FRAME);
    expect_golden_frame(&goldens[3], &f);
    free(junk);
    free(d);
}

static void test_transcode_off(void **state)
{
    (void)state;
    struct unisoc_bsl_dec *d = malloc(sizeof(*d));
    assert_non_null(d);
    static const uint8_t payload[] = {0x7E, 0x7D, 0x00, 0x01};
    uint8_t out[32];
    size_t n = unisoc_bsl_encode(out, sizeof(out), 0x02, payload, 4, UNISOC_CHECK_SUM, 0);
    static const uint8_t want[] = {0x7E, 0x00, 0x02, 0x00, 0x04, 0x7E,
                                   0x7D, 0x00, 0x01, 0x81, 0x7B, 0x7E};
    assert_int_equal(n, sizeof(want));
    assert_memory_equal(out, want, n);
    unisoc_bsl_dec_init(d, 0);
    struct unisoc_bsl_frame f;
    int frames = 0;
    for (size_t k = 0; k < n; k++) {
        size_t used;
        enum unisoc_dec_result r = unisoc_bsl_dec_feed(d, &out[k], 1, &used, &f);
        assert_int_not_equal(r, UNISOC_DEC_ERROR);
        if (r == UNISOC_DEC_FRAME) {
            frames++;
            assert_int_equal(f.len, 4);
            assert_memory_equal(f.payload, payload, 4);
            assert_true(f.sum_ok);
        }
    }
    assert_int_equal(frames, 1);
    /* Missing closing flag where the length says the frame ends. */
    out[n - 1] = 0x00;
    unisoc_bsl_dec_init(d, 0);
    assert_int_equal(feed_all(d, out, n, &f, NULL), UNISOC_DEC_ERROR);
    free(d);
}

static void test_roundtrip_random(void **state)
{
    (void)state;
    struct unisoc_bsl_dec *d = malloc(sizeof(*d));
    uint8_t *payload = malloc(3000), *wire = malloc(unisoc_bsl_encoded_max(3000));
    assert_non_null(d);
    assert_non_null(payload);
    assert_non_null(wire);
    uint32_t x = 12345;
    for (int iter = 0; iter < 200; iter++) {
        size_t n = (size_t)(iter * 13) % 3000;
        for (size_t i = 0; i < n; i++) {
            x = x * 1103515245u + 12345u;
            payload[i] = (uint8_t)(x >> 16) % 4 == 0 ? 0x7E : (uint8_t)(x >> 8);
        }
        enum unisoc_check ck = iter & 1 ? UNISOC_CHECK_SUM : UNISOC_CHECK_CRC16;
        int esc = (iter & 2) == 0;
        size_t w = unisoc_bsl_encode(wire, unisoc_bsl_encoded_max(3000), 0x02, payload, n, ck, esc);
        assert_true(w >= n + 8);
        unisoc_bsl_dec_init(d, esc);
        struct unisoc_bsl_frame f;
        assert_int_equal(feed_all(d, wire, w, &f, NULL), UNISOC_DEC_FRAME);
        assert_int_equal(f.len, n);
        if (n)
            assert_memory_equal(f.payload, payload, n);
        assert_true(ck == UNISOC_CHECK_SUM ? f.sum_ok : f.crc_ok);
    }
    /* Payload larger than the length field can carry. */
    assert_int_equal(unisoc_bsl_encode(wire, 10, 0x02, payload, 0x10000, UNISOC_CHECK_SUM, 1), 0);
    free(d);
    free(payload);
    free(wire);
}

static void test_pdl(void **state)
{
    (void)state;
    uint8_t out[64];
    size_t n = unisoc_pdl_encode(out, sizeof(out), UNISOC_PDL_CONNECT, 0, 0, NULL, 0);
    static const uint8_t connect[] = {0xAE, 0x0C, 0x00, 0x00, 0x00, 0xFF, 0x00, 0x00, 0, 0,
                                      0,    0,    0,    0,    0,    0,    0,    0,    0, 0};
    assert_int_equal(n, sizeof(connect));
    assert_memory_equal(out, connect, n);
    n = unisoc_pdl_encode(out, sizeof(out), UNISOC_PDL_START_DATA, 0x838000, 0x33A0,
                          (const uint8_t *)"PDL1", 5);
    assert_int_equal(n, 25);
    assert_int_equal(out[1], 17);
    assert_int_equal(out[8], 4);
    assert_memory_equal(out + 12, "\x00\x80\x83\x00\xA0\x33\x00\x00PDL1\0", 13);
    assert_int_equal(
        unisoc_pdl_encode(out, 24, UNISOC_PDL_START_DATA, 0, 0, (const uint8_t *)"PDL1", 5), 0);

    /* Replies: junk, then ACK, then status 6, one byte at a time. */
    static const uint8_t rx[] = {0x00, 0xAE, 0x04, 0, 0, 0,    0x00, 0, 0, 0, 0, 0, 0,
                                 0xAE, 0x04, 0,    0, 0, 0xFF, 0,    0, 6, 0, 0, 0};
    struct unisoc_pdl_dec d;
    unisoc_pdl_dec_init(&d);
    uint32_t got[2];
    int frames = 0;
    for (size_t k = 0; k < sizeof(rx); k++) {
        size_t used;
        uint32_t st = 99;
        enum unisoc_dec_result r = unisoc_pdl_dec_feed(&d, &rx[k], 1, &used, &st);
        assert_int_not_equal(r, UNISOC_DEC_ERROR);
        if (r == UNISOC_DEC_FRAME)
            got[frames++] = st;
    }
    assert_int_equal(frames, 2);
    assert_int_equal(got[0], 0);
    assert_int_equal(got[1], 6);
    assert_string_equal(unisoc_pdl_status_name(6), "SIZE_ERROR");
    assert_false(d.saw_bsl_flag);
    /* Absurd data size: error, bounded. */
    static const uint8_t bad[] = {0xAE, 0xFF, 0xFF, 0, 0, 0, 0, 0};
    unisoc_pdl_dec_init(&d);
    size_t used;
    uint32_t st;
    assert_int_equal(unisoc_pdl_dec_feed(&d, bad, sizeof(bad), &used, &st), UNISOC_DEC_ERROR);
    /* A BSL answer is noticed. */
    unisoc_pdl_dec_init(&d);
    assert_int_equal(unisoc_pdl_dec_feed(&d, goldens[2].wire, goldens[2].wlen, &used, &st),
                     UNISOC_DEC_MORE);
    assert_true(d.saw_bsl_flag);
}

static void test_reply_names(void **state)
{
    (void)state;
    assert_string_equal(unisoc_rep_name(0x8B), "VERIFY_ERROR");
    assert_true(unisoc_rep_is_nak(0x8A));
    assert_false(unisoc_rep_is_nak(0x80));
    assert_false(unisoc_rep_is_nak(0x96));
    assert_false(unisoc_rep_is_nak(0x93));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checks),
        cmocka_unit_test(test_encode_golden),
        cmocka_unit_test(test_decode_byte_at_a_time),
        cmocka_unit_test(test_decode_any_split),
        cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_decode_bounded),
        cmocka_unit_test(test_transcode_off),
        cmocka_unit_test(test_roundtrip_random),
        cmocka_unit_test(test_pdl),
        cmocka_unit_test(test_reply_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
