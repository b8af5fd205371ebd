/* Unit tests of the unisoc model's framing and memories: the golden frames of notes §2.5,
 * the check values, the receiver's error cases and the sparse flash / NV model. */
#include "unisoc/unisoc.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

struct golden {
    const char *what;
    bool crc;
    uint16_t type;
    uint8_t payload[16];
    size_t len;
    uint8_t wire[32];
    size_t wire_len;
};

/* Copied from the notes' table (§2.5), not computed here. */
static const struct golden goldens[] = {
    {"CONNECT crc", true, 0x00, {0}, 0, {0x7E, 0, 0, 0, 0, 0, 0, 0x7E}, 8},
    {"CONNECT sum", false, 0x00, {0}, 0, {0x7E, 0, 0, 0, 0, 0xFF, 0xFF, 0x7E}, 8},
    {"ACK crc", true, 0x80, {0}, 0, {0x7E, 0, 0x80, 0, 0, 0x3B, 0x5A, 0x7E}, 8},
    {"ACK sum", false, 0x80, {0}, 0, {0x7E, 0, 0x80, 0, 0, 0xFF, 0x7F, 0x7E}, 8},
    {"EXEC crc", true, 0x04, {0}, 0, {0x7E, 0, 0x04, 0, 0, 0xDC, 0xC0, 0x7E}, 8},
    {"EXEC sum", false, 0x04, {0}, 0, {0x7E, 0, 0x04, 0, 0, 0xFF, 0xFB, 0x7E}, 8},
    {"END_DATA sum", false, 0x03, {0}, 0, {0x7E, 0, 0x03, 0, 0, 0xFF, 0xFC, 0x7E}, 8},
    {"NORMAL_RESET sum", false, 0x05, {0}, 0, {0x7E, 0, 0x05, 0, 0, 0xFF, 0xFA, 0x7E}, 8},
    {"VER SPRD3 crc",
     true,
     0x81,
     {'S', 'P', 'R', 'D', '3', 0},
     6,
     {0x7E, 0, 0x81, 0, 0x06, 0x53, 0x50, 0x52, 0x44, 0x33, 0x00, 0x57, 0x0A, 0x7E},
     14},
    {"START 0x838000 crc",
     true,
     0x01,
     {0x00, 0x83, 0x80, 0x00, 0x00, 0x00, 0x33, 0xA0},
     8,
     {0x7E, 0, 0x01, 0, 0x08, 0x00, 0x83, 0x80, 0x00, 0x00, 0x00, 0x33, 0xA0, 0xB3, 0xC1, 0x7E},
     16},
    {"START 0x810000 sum",
     false,
     0x01,
     {0x00, 0x81, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00},
     8,
     {0x7E, 0, 0x01, 0, 0x08, 0x00, 0x81, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0xFF, 0x72, 0x7E},
     16},
    {"CHANGE_BAUD sum",
     false,
     0x09,
     {0x00, 0x01, 0xC2, 0x00},
     4,
     {0x7E, 0, 0x09, 0, 0x04, 0x00, 0x01, 0xC2, 0x00, 0x3D, 0xF1, 0x7E},
     12},
    {"MIDST escaped sum",
     false,
     0x02,
     {0x7E, 0x7D, 0x00, 0x01},
     4,
     {0x7E, 0, 0x02, 0, 0x04, 0x7D, 0x5E, 0x7D, 0x5D, 0x00, 0x01, 0x81, 0x7B, 0x7E},
     14},
};

static void test_check_values(void **state)
{
    (void)state;
    const uint8_t s[] = "123456789";
    assert_int_equal(sim_unisoc_crc16_xmodem(s, 9), 0x31C3);
    assert_int_equal(sim_unisoc_crc16_arc(s, 9), 0xBB3D);
    /* Receiver shortcuts from §2.3: CRC over packet+check is 0, sum over it gives 0. */
    const uint8_t ver[] = {0, 0x81, 0, 6, 'S', 'P', 'R', 'D', '3', 0, 0x57, 0x0A};
    assert_int_equal(sim_unisoc_crc16_xmodem(ver, sizeof(ver)), 0);
    const uint8_t baud[] = {0, 0x09, 0, 4, 0, 1, 0xC2, 0, 0x3D, 0xF1};
    assert_int_equal(sim_unisoc_sum16(baud, sizeof(baud)), 0);
}

static void test_golden_encode(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(goldens) / sizeof(goldens[0]); i++) {
        const struct golden *g = &goldens[i];
        uint8_t out[64];
        size_t n =
            sim_unisoc_bsl_encode(g->type, g->payload, g->len, g->crc, true, out, sizeof(out));
        if (n != g->wire_len || memcmp(out, g->wire, n) != 0)
            fail_msg("golden '%s' encodes differently", g->what);
    }
}

static void dec_init(struct sim_unisoc_dec *d, uint8_t *buf, size_t cap, bool crc, bool escape)
{
    memset(d, 0, sizeof(*d));
    d->buf = buf;
    d->cap = cap;
    d->crc = crc;
    d->escape = escape;
}

/* Feeds bytes one at a time; returns the last non-NONE event (or NONE). */
static enum sim_unisoc_dec_ev feed(struct sim_unisoc_dec *d, const uint8_t *p, size_t n)
{
    enum sim_unisoc_dec_ev last = SIM_UNISOC_DEC_NONE;
    for (size_t i = 0; i < n; i++) {
        enum sim_unisoc_dec_ev ev = sim_unisoc_dec_byte(d, p[i]);
        if (ev != SIM_UNISOC_DEC_NONE)
            last = ev;
    }
    return last;
}

static void test_golden_decode(void **state)
{
    (void)state;
    static uint8_t buf[UNISOC_BSL_BUF];
    for (size_t i = 0; i < sizeof(goldens) / sizeof(goldens[0]); i++) {
        const struct golden *g = &goldens[i];
        struct sim_unisoc_dec d;
        dec_init(&d, buf, 0x210 + 6, g->crc, true);
        assert_int_equal(feed(&d, g->wire, g->wire_len), SIM_UNISOC_DEC_FRAME);
        assert_int_equal(d.type, g->type);
        assert_int_equal(d.len, g->len);
        if (g->len)
            assert_memory_equal(d.payload, g->payload, g->len);
        /* The other check flavour must reject the same bytes (they differ for all goldens). */
        dec_init(&d, buf, 0x210 + 6, !g->crc, true);
        assert_int_equal(feed(&d, g->wire, g->wire_len), SIM_UNISOC_DEC_BAD);
    }
}

static void test_decode_errors(void **state)
{
    (void)state;
    static uint8_t buf[UNISOC_BSL_BUF];
    struct sim_unisoc_dec d;
    /* bad escape */
    const uint8_t esc[] = {0x7E, 0, 0x02, 0, 2, 0x7D, 0x11, 0, 0, 0, 0x7E};
    dec_init(&d, buf, 64, false, true);
    assert_int_equal(feed(&d, esc, sizeof(esc)), SIM_UNISOC_DEC_BAD);
    assert_string_equal(d.bad_why, "bad escape sequence");
    /* too short */
    const uint8_t shrt[] = {0x7E, 0, 0, 0x7E};
    dec_init(&d, buf, 64, false, true);
    assert_int_equal(feed(&d, shrt, sizeof(shrt)), SIM_UNISOC_DEC_BAD);
    /* length field disagrees */
    const uint8_t lenbad[] = {0x7E, 0, 0, 0, 2, 0xFF, 0xFF, 0x7E};
    dec_init(&d, buf, 64, false, true);
    assert_int_equal(feed(&d, lenbad, sizeof(lenbad)), SIM_UNISOC_DEC_BAD);
    /* wrong CRC */
    const uint8_t crcbad[] = {0x7E, 0, 0x80, 0, 0, 0x3B, 0x5B, 0x7E};
    dec_init(&d, buf, 64, true, true);
    assert_int_equal(feed(&d, crcbad, sizeof(crcbad)), SIM_UNISOC_DEC_BAD);
    /* odd payload in sum mode, even with a self-consistent check */
    uint8_t odd[32];
    const uint8_t three[3] = {1, 2, 3};
    size_t n = sim_unisoc_bsl_encode(0x02, three, 3, false, true, odd, sizeof(odd));
    dec_init(&d, buf, 64, false, true);
    assert_int_equal(feed(&d, odd, n), SIM_UNISOC_DEC_BAD);
    assert_string_equal(d.bad_why, "odd-length payload in sum mode");
    /* longer than the buffer, then a good frame is still understood */
    uint8_t big[600], wire[1400];
    memset(big, 0x11, sizeof(big));
    n = sim_unisoc_bsl_encode(0x02, big, sizeof(big), false, true, wire, sizeof(wire));
    dec_init(&d, buf, 0x210 + 6, false, true);
    assert_int_equal(feed(&d, wire, n), SIM_UNISOC_DEC_BAD);
    assert_int_equal(feed(&d, goldens[1].wire, 8), SIM_UNISOC_DEC_FRAME);
    /* empty frames are ignored; a run of flags is reported as a burst */
    const uint8_t flags[] = {0x7E, 0x7E, 0x7E};
    dec_init(&d, buf, 64, false, true);
    assert_int_equal(feed(&d, flags, 1), SIM_UNISOC_DEC_NONE);
    assert_int_equal(feed(&d, flags, 2), SIM_UNISOC_DEC_FLAG_RUN);
    assert_int_equal(feed(&d, goldens[1].wire, 8), SIM_UNISOC_DEC_FRAME);
}

static void test_decode_no_transcode(void **state)
{
    (void)state;
    static uint8_t buf[UNISOC_BSL_BUF];
    struct sim_unisoc_dec d;
    /* Payload 7E 7D 00 01 sent raw: only the length field can find the end. */
    uint8_t wire[32];
    const uint8_t p[4] = {0x7E, 0x7D, 0x00, 0x01};
    size_t n = sim_unisoc_bsl_encode(0x02, p, 4, false, false, wire, sizeof(wire));
    assert_int_equal(n, 12);
    dec_init(&d, buf, 64, false, false);
    assert_int_equal(feed(&d, wire, n), SIM_UNISOC_DEC_FRAME);
    assert_memory_equal(d.payload, p, 4);
    /* missing closing flag */
    wire[11] = 0x00;
    dec_init(&d, buf, 64, false, false);
    assert_int_equal(feed(&d, wire, n), SIM_UNISOC_DEC_BAD);
    assert_string_equal(d.bad_why, "no closing flag after the announced length");
}

static void test_flash_sparse(void **state)
{
    (void)state;
    struct sim_unisoc_flash f;
    /* 256 MiB window with a 16 KiB memory limit: only written pages cost memory. */
    assert_int_equal(sim_unisoc_flash_init(&f, 0x60000000, 0x10000000, 16384, "869710030000011", 1),
                     0);
    uint8_t data[6000], back[6000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 7);
    assert_int_equal(sim_unisoc_flash_write(&f, 0x6FFFDF00, data, sizeof(data)), 0);
    assert_int_equal(f.mem_used, 3 * UNISOC_PAGE);
    sim_unisoc_flash_read(&f, 0x6FFFDF00, back, sizeof(back));
    assert_memory_equal(back, data, sizeof(data));
    assert_int_equal(sim_unisoc_flash_write(&f, 0x60000000, data, sizeof(data)), -ENOMEM);
    assert_int_equal(sim_unisoc_flash_write(&f, 0x5FFFFFFF, data, 2), -ERANGE);
    assert_int_equal(sim_unisoc_flash_write(&f, 0x6FFFFFFF, data, 2), -ERANGE);
    /* erase frees whole pages and blanks partial ones */
    sim_unisoc_flash_erase(&f, 0x6FFFDF80, 0x80 + 8192);
    assert_int_equal(f.mem_used,
                     2 * UNISOC_PAGE); /* D (partly erased) and the 0x60000000 page stay */
    sim_unisoc_flash_read(&f, 0x6FFFDF00, back, 0x100);
    assert_memory_equal(back, data, 0x80);
    for (int i = 0x80; i < 0x100; i++)
        assert_int_equal(back[i], 0xFF);
    sim_unisoc_flash_free(&f);
}

static void test_nv(void **state)
{
    (void)state;
    struct sim_unisoc_flash f;
    assert_int_equal(sim_unisoc_flash_init(&f, 0x60000000, 0x100000, 1 << 20, "869710030000011", 7),
                     0);
    assert_true(sim_unisoc_nv_intact(&f));
    /* The factory image carries a valid CRC-16/ARC over [2, end), big endian in 0..1. */
    assert_int_equal(sim_unisoc_crc16_arc(f.nv + 2, f.nv_len - 2), f.nv[0] << 8 | f.nv[1]);
    uint8_t img[256];
    size_t len = f.nv_len;
    memcpy(img, f.nv, len);
    img[20] ^= 1; /* inside the calibration item; CRC now stale */
    assert_int_equal(sim_unisoc_nv_replace(&f, img, len), -EBADMSG);
    assert_true(sim_unisoc_nv_intact(&f));
    uint16_t crc = sim_unisoc_crc16_arc(img + 2, len - 2);
    img[0] = (uint8_t)(crc >> 8);
    img[1] = (uint8_t)crc;
    assert_int_equal(sim_unisoc_nv_replace(&f, img, len), 0);
    assert_false(sim_unisoc_nv_intact(&f)); /* calibration changed */
    sim_unisoc_flash_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_values),
        cmocka_unit_test(test_golden_encode),
        cmocka_unit_test(test_golden_decode),
        cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_decode_no_transcode),
        cmocka_unit_test(test_flash_sparse),
        cmocka_unit_test(test_nv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
