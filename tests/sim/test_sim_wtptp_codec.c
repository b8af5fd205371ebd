/* The packet and header helpers of the "asr1803" model (tests/sim/asr1803/asr1803_codec.c):
 * status encoding, image-id names, and the TIM (notes §3.6) and FBF_h (notes §3.5, layout in
 * asr1803/README.md) checks, against headers built here from the notes. */
#include "asr1803/asr1803.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define FBF_A 0x46424641u /* "FBFA" */

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* TIM (§3.6): 14 header words (NumImages at +44), then records {id, next, flash, load, size,
 * ...} of 15 (v3.1), 16 (v3.2), 24 (v3.3/v3.4) or 27 (v3.5) words. */
static uint8_t *make_tim(uint32_t version, const uint32_t *ids, uint32_t n, size_t *len)
{
    size_t rec = version == 0x030500   ? 108
                 : version == 0x030200 ? 64
                 : version == 0x030101 ? 60
                                       : 96;
    *len = 56 + n * rec + 16;
    uint8_t *p = calloc(1, *len);
    put32(p, version);
    put32(p + 4, 0x54494D48);
    put32(p + 44, n);
    for (uint32_t i = 0; i < n; i++) {
        put32(p + 56 + i * rec, ids[i]);
        put32(p + 56 + i * rec + 16, 1000 + i);
    }
    return p;
}

/* FBF_h as received: MasterBlockHeader (nOfDevices +52, deviceHeaderOffset[0] +60), the
 * DeviceHeader at 76 (OptValue +104, ChipID +108, nOfImages +120), 52-byte records. */
static uint8_t *make_fbf(uint32_t chip, uint32_t opt, uint32_t nimg, size_t len)
{
    uint8_t *p = calloc(1, len);
    put32(p + 52, 1);
    put32(p + 60, 76);
    put32(p + 76 + 104, opt);
    put32(p + 76 + 108, chip);
    put32(p + 76 + 120, nimg);
    return p;
}

static void test_codec(void **state)
{
    (void)state;
    uint8_t out[16];
    uint8_t d[2] = {0xAB, 0xCD};
    assert_int_equal(sim_wtptp_status_encode(0x26, 1, 2, 0, 3, d, 2, out, sizeof(out)), 8);
    static const uint8_t want[8] = {0x26, 1, 2, 0, 3, 2, 0xAB, 0xCD};
    assert_memory_equal(out, want, 8);
    assert_int_equal(sim_wtptp_status_encode(0x26, 1, 2, 0, 3, d, 2, out, 7), 0);
    char name[16];
    sim_wtptp_id_name(0x54494D48, name, sizeof(name));
    assert_string_equal(name, "TIMH");
    sim_wtptp_id_name(0x808, name, sizeof(name));
    assert_string_equal(name, "0x00000808");
    uint32_t id;
    assert_int_equal(sim_wtptp_id_parse("DKBI", &id), 0);
    assert_int_equal(id, 0x444B4249);
    assert_int_equal(sim_wtptp_id_parse("0x808", &id), 0);
    assert_int_equal(id, 0x808);
    assert_int_equal(sim_wtptp_id_parse("DK-I", &id), -EINVAL);
}

static void test_tim(void **state)
{
    (void)state;
    static const uint32_t ids[] = {0x54494D48, 0x444B4249, FBF_A};
    static const uint32_t versions[] = {0x030101, 0x030200, 0x030300, 0x030400, 0x030500};
    char err[160];
    struct sim_wtptp_tim tim;
    for (size_t v = 0; v < 5; v++) {
        size_t len;
        uint8_t *t = make_tim(versions[v], ids, 3, &len);
        assert_int_equal(sim_wtptp_tim_parse(t, len, &tim, err, sizeof(err)), 0);
        assert_int_equal(tim.num_images, 3);
        assert_int_equal(tim.ids[2], FBF_A);
        assert_int_equal(tim.sizes[1], 1001);
        /* truncated: the last record does not fit */
        assert_int_equal(sim_wtptp_tim_parse(t, len - 17, &tim, err, sizeof(err)), -EBADMSG);
        free(t);
    }
    size_t len;
    uint8_t *t = make_tim(0x030400, ids, 3, &len);
    put32(t, 0x030600);
    assert_int_equal(sim_wtptp_tim_parse(t, len, &tim, err, sizeof(err)), -EBADMSG);
    assert_non_null(strstr(err, "version"));
    put32(t, 0x030400);
    t[4] ^= 1;
    assert_int_equal(sim_wtptp_tim_parse(t, len, &tim, err, sizeof(err)), -EBADMSG);
    assert_non_null(strstr(err, "identifier"));
    t[4] ^= 1;
    put32(t + 44, 1);
    assert_int_equal(sim_wtptp_tim_parse(t, len, &tim, err, sizeof(err)), -EBADMSG);
    put32(t + 44, 33);
    assert_int_equal(sim_wtptp_tim_parse(t, len, &tim, err, sizeof(err)), -EBADMSG);
    assert_int_equal(sim_wtptp_tim_parse(t, 40, &tim, err, sizeof(err)), -EBADMSG);
    free(t);
}

static void test_fbf(void **state)
{
    (void)state;
    char err[160];
    struct sim_wtptp_fbf fbf;
    uint8_t *f = make_fbf(14, 0, 3, 2000);
    assert_int_equal(sim_wtptp_fbf_parse(f, 2000, 2000, &fbf, err, sizeof(err)), 0);
    assert_int_equal(fbf.chip_id, 14);
    assert_int_equal(fbf.opt_value, 0);
    assert_int_equal(fbf.n_images, 3);
    assert_int_equal(sim_wtptp_fbf_parse(f, 70, 2000, &fbf, err, sizeof(err)), -EBADMSG);
    assert_int_equal(sim_wtptp_fbf_parse(f, 300, 300, &fbf, err, sizeof(err)), -EBADMSG);
    put32(f + 76 + 120, 31);
    assert_int_equal(sim_wtptp_fbf_parse(f, 2000, 2000, &fbf, err, sizeof(err)), -EBADMSG);
    put32(f + 76 + 120, 3);
    put32(f + 60, 1990);
    assert_int_equal(sim_wtptp_fbf_parse(f, 2000, 2000, &fbf, err, sizeof(err)), -EBADMSG);
    put32(f + 60, 76);
    put32(f + 52, 0);
    assert_int_equal(sim_wtptp_fbf_parse(f, 2000, 2000, &fbf, err, sizeof(err)), -EBADMSG);
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec),
        cmocka_unit_test(test_tim),
        cmocka_unit_test(test_fbf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
