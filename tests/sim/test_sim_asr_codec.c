/* Unit tests of the asr model's SMUX framing and of its flasher formats: the wire bytes of
 * notes §2.1/§2.2 copied from the notes, the receiver's rules (probe, empty frames, escapes,
 * MTU), CRC-32, and the FNIF/BTPA/sparse/FIP checks of §4 with hand-built blobs. */
#include "asr/asr.h"
#include "asr/asr_fixtures.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

/* ---- encoder: frames quoted in the notes ---- */

static void test_encode_notes(void **state)
{
    (void)state;
    uint8_t w[64];
    static const uint8_t uabt[] = {0x7E, 'U', 'A', 'B', 'T', 0x7E};
    assert_int_equal(sim_asr_encode(ASR_T_STDIO, (const uint8_t *)"UABT", 4, w, sizeof(w)), 6);
    assert_memory_equal(w, uabt, 6);
    static const uint8_t hello[] = {0x7E, 0x7D, 0x21, 0x04, 0x00, 0x7E};
    static const uint8_t mtu[] = {0x04, 0x00};
    assert_int_equal(sim_asr_encode(ASR_T_HELLO, mtu, 2, w, sizeof(w)), 6);
    assert_memory_equal(w, hello, 6);
    static const uint8_t reply[] = {0x7E, 0x7D, 0x22, 0x04, 0x00, 0x7E};
    assert_int_equal(sim_asr_encode(ASR_T_HELLO_REPLY, mtu, 2, w, sizeof(w)), 6);
    assert_memory_equal(w, reply, 6);
    /* ABOOT_CMD is '#', ABOOT_DATA '$', HEART_BEAT '%' after the escape (§2.1). */
    assert_int_equal(sim_asr_encode(ASR_T_CMD, (const uint8_t *)"OKAY", 4, w, sizeof(w)), 8);
    assert_memory_equal(w, "\x7E\x7D#OKAY\x7E", 8);
    assert_int_equal(sim_asr_encode(ASR_T_HEART_BEAT, (const uint8_t *)"H", 1, w, sizeof(w)), 5);
    assert_memory_equal(w, "\x7E\x7D%H\x7E", 5);
    static const uint8_t esc_in[] = {0x7E, 0x41, 0x7D};
    static const uint8_t esc_out[] = {0x7E, 0x7D, 0x24, 0x7D, 0x5E, 0x41, 0x7D, 0x5D, 0x7E};
    assert_int_equal(sim_asr_encode(ASR_T_DATA, esc_in, 3, w, sizeof(w)), sizeof(esc_out));
    assert_memory_equal(w, esc_out, sizeof(esc_out));
    /* Too small a buffer gives 0, never a cut frame. */
    assert_int_equal(sim_asr_encode(ASR_T_DATA, esc_in, 3, w, 8), 0);
    assert_int_equal(sim_asr_encode(ASR_T_STDIO, NULL, 0, w, 3), 0);
}

/* ---- receiver ---- */

struct ev {
    enum sim_asr_dec_ev ev;
    unsigned type;
    uint8_t p[ASR_MTU_MAX];
    size_t n;
};

/* Feeds bytes; collects up to max events other than NONE. */
static size_t feed(struct sim_asr_dec *d, const uint8_t *b, size_t n, struct ev *out, size_t max)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        enum sim_asr_dec_ev e = sim_asr_dec_byte(d, b[i]);
        if (e == SIM_ASR_DEC_NONE)
            continue;
        assert_true(k < max);
        out[k].ev = e;
        out[k].type = d->ftype;
        out[k].n = e == SIM_ASR_DEC_FRAME ? d->flen : 0;
        memcpy(out[k].p, d->buf, out[k].n);
        k++;
    }
    return k;
}

static void test_decode_probe(void **state)
{
    (void)state;
    struct sim_asr_dec d;
    struct ev ev[4];
    sim_asr_dec_init(&d, 1024);
    /* Junk, then QDloader's raw preamble twice: the first is a raw probe, the second a STDIO
     * frame "UUUU" (the first 0x7E opened it). */
    static const uint8_t in[] = {0x00, 'x', 'U', 'U', 'U', 'U', 0x7E, 'U', 'U', 'U', 'U', 0x7E};
    assert_int_equal(feed(&d, in, sizeof(in), ev, 4), 2);
    assert_int_equal(ev[0].ev, SIM_ASR_DEC_PROBE);
    assert_int_equal(ev[1].ev, SIM_ASR_DEC_FRAME);
    assert_int_equal(ev[1].type, ASR_T_STDIO);
    assert_int_equal(ev[1].n, 4);
    assert_memory_equal(ev[1].p, "UUUU", 4);
    /* Three 'U' are no probe. */
    sim_asr_dec_init(&d, 1024);
    static const uint8_t three[] = {'U', 'U', 'U', 0x7E};
    assert_int_equal(feed(&d, three, sizeof(three), ev, 4), 0);
}

static void test_decode_frames(void **state)
{
    (void)state;
    struct sim_asr_dec d;
    struct ev ev[8];
    sim_asr_dec_init(&d, 1024);
    static const uint8_t in[] = {
        0x7E, 0x7E, 0x7E,                                          /* empty frames: ignored */
        0x7D, 0x21, 0x04, 0x00, 0x7E,                              /* HELLO 0400 */
        0x7D, 0x23, 'g',  'e',  't',  0x7E,                        /* ABOOT_CMD */
        0x7D, 0x24, 0x7D, 0x5E, 0x7D, 0x5D, 0x7D, 0x99, 'z', 0x7E, /* DATA, bad escape dropped */
        'a',  0x7D, 0x25, 'b',  0x7E,                              /* a type pair mid-frame */
        0x7D, 0x21, 0x7E,                                          /* HELLO without payload */
    };
    size_t k = feed(&d, in, sizeof(in), ev, 8);
    assert_int_equal(k, 5);
    assert_int_equal(ev[0].type, ASR_T_HELLO);
    assert_int_equal(ev[0].n, 2);
    assert_memory_equal(ev[0].p, "\x04\x00", 2);
    assert_int_equal(ev[1].type, ASR_T_CMD);
    assert_memory_equal(ev[1].p, "get", 3);
    assert_int_equal(ev[2].type, ASR_T_DATA);
    assert_int_equal(ev[2].n, 3);
    assert_memory_equal(ev[2].p, "\x7E\x7Dz", 3);
    assert_int_equal(ev[3].type, ASR_T_HEART_BEAT);
    assert_memory_equal(ev[3].p, "ab", 2);
    assert_int_equal(ev[4].type, ASR_T_HELLO);
    assert_int_equal(ev[4].n, 0);
}

static void test_decode_mtu(void **state)
{
    (void)state;
    struct sim_asr_dec d;
    struct ev *ev = calloc(4, sizeof(*ev));
    uint8_t payload[80], wire[200];
    memset(payload, 'A', sizeof(payload));
    payload[10] = 0x7E; /* escaped on the wire: still one decoded byte */
    sim_asr_dec_init(&d, 64);
    size_t n = sim_asr_encode(ASR_T_DATA, payload, 64, wire, sizeof(wire));
    assert_int_equal(feed(&d, wire, n, ev, 4), 1);
    assert_int_equal(ev[0].ev, SIM_ASR_DEC_FRAME);
    assert_int_equal(ev[0].n, 64);
    n = sim_asr_encode(ASR_T_DATA, payload, 65, wire, sizeof(wire));
    assert_int_equal(feed(&d, wire, n, ev, 4), 1);
    assert_int_equal(ev[0].ev, SIM_ASR_DEC_LOST);
    /* The receiver recovers at the next frame. */
    n = sim_asr_encode(ASR_T_CMD, (const uint8_t *)"nop", 3, wire, sizeof(wire));
    assert_int_equal(feed(&d, wire, n, ev, 4), 1);
    assert_int_equal(ev[0].ev, SIM_ASR_DEC_FRAME);
    assert_memory_equal(ev[0].p, "nop", 3);
    free(ev);
}

static void test_roundtrip(void **state)
{
    (void)state;
    struct sim_asr_dec d;
    struct ev *ev = calloc(2, sizeof(*ev));
    static uint8_t payload[1024], wire[2 * 1024 + 8];
    sim_asr_dec_init(&d, 1024);
    for (uint32_t seed = 1; seed < 60; seed++) {
        size_t len = (seed * 97) % 1024 + 1;
        fx_fill(payload, len, seed);
        unsigned type = seed % 6;
        size_t n = sim_asr_encode(type, payload, len, wire, sizeof(wire));
        assert_true(n >= len + 2);
        assert_int_equal(feed(&d, wire, n, ev, 2), 1);
        assert_int_equal(ev[0].type, type);
        assert_int_equal(ev[0].n, len);
        assert_memory_equal(ev[0].p, payload, len);
    }
    free(ev);
}

static void test_crc32(void **state)
{
    (void)state;
    assert_int_equal(sim_asr_crc32(0, (const uint8_t *)"123456789", 9), 0xCBF43926u);
    assert_int_equal(sim_asr_crc32(0, NULL, 0), 0);
    uint8_t b[3000];
    fx_fill(b, sizeof(b), 7);
    assert_int_equal(sim_asr_crc32(sim_asr_crc32(0, b, 1000), b + 1000, 2000),
                     fx_crc32(0, b, sizeof(b)));
}

/* ---- flasher formats ---- */

static uint8_t big[0x120000];

static void test_flashinfo(void **state)
{
    (void)state;
    struct sim_asr_flash f;
    char err[SIM_ERR_MAX];
    uint8_t b[0x90 + 72 * 4];
    const uint32_t ids[3] = {0x601800C8u, 0x6018201Cu, 0x60182085u};
    assert_int_equal(sim_asr_flash_init(&f, 0x1000000, 0x60182085u), 0);
    size_t n = fx_fnif(b, ids, 3, 0x1000000);
    assert_int_equal(sim_asr_ptable_apply(&f, big, 0x88C, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "flashinfo"));
    /* Wrong size for M, M = 0, flash size, magic. */
    assert_int_equal(sim_asr_flashinfo_apply(&f, b, n - 1, err, sizeof(err)), -EINVAL);
    fx_fnif(b, ids, 3, 0x800000);
    assert_int_equal(sim_asr_flashinfo_apply(&f, b, n, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "flash size"));
    fx_fnif(b, ids, 3, 0x1000000);
    b[0] = 'X';
    assert_int_equal(sim_asr_flashinfo_apply(&f, b, n, err, sizeof(err)), -EINVAL);
    fx_le32(b + 0x8C, 0);
    memcpy(b, "FNIF", 4);
    assert_int_equal(sim_asr_flashinfo_apply(&f, b, 0x90, err, sizeof(err)), -EINVAL);
    assert_false(f.probed);
    /* A chip that is not listed. */
    fx_fnif(b, ids, 2, 0x1000000);
    assert_int_equal(sim_asr_flashinfo_apply(&f, b, 0x90 + 144, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "0x60182085"));
    n = fx_fnif(b, ids, 3, 0x1000000);
    assert_int_equal(sim_asr_flashinfo_apply(&f, b, n, err, sizeof(err)), 0);
    assert_true(f.probed);
    sim_asr_flash_free(&f);
}

static void probed_flash(struct sim_asr_flash *f)
{
    uint8_t b[0x90 + 72];
    const uint32_t id = 0x601800C8u;
    char err[SIM_ERR_MAX];
    assert_int_equal(sim_asr_flash_init(f, 0x1000000, id), 0);
    assert_int_equal(sim_asr_flashinfo_apply(f, b, fx_fnif(b, &id, 1, 0x1000000), err, sizeof(err)),
                     0);
}

static void test_ptable(void **state)
{
    (void)state;
    struct sim_asr_flash f;
    char err[SIM_ERR_MAX];
    uint8_t b[0x88C];
    size_t np;
    const struct fx_part *layout = fx_layout(&np);
    struct fx_part parts[16];
    memcpy(parts, layout, np * sizeof(parts[0]));
    probed_flash(&f);
    fx_btpa(b, parts, np);
    b[0x100] ^= 1; /* CRC no longer matches */
    assert_int_equal(sim_asr_ptable_apply(&f, b, 0x88C, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "CRC"));
    fx_btpa(b, parts, np);
    assert_int_equal(sim_asr_ptable_apply(&f, b, 0x88B, err, sizeof(err)), -EINVAL);
    /* cp sticks out of its "system" container. */
    parts[6].size = 0x600000;
    fx_btpa(b, parts, np);
    assert_int_equal(sim_asr_ptable_apply(&f, b, 0x88C, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "parent system"));
    /* nvm past the 16 MiB flash. */
    memcpy(parts, layout, np * sizeof(parts[0]));
    parts[10].size = 0x100000;
    fx_btpa(b, parts, np);
    assert_int_equal(sim_asr_ptable_apply(&f, b, 0x88C, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "flash end"));
    /* Duplicate name, bad level, an unterminated name. */
    memcpy(parts, layout, np * sizeof(parts[0]));
    parts[5].name = "ptable";
    fx_btpa(b, parts, np);
    assert_int_equal(sim_asr_ptable_apply(&f, b, 0x88C, err, sizeof(err)), -EINVAL);
    memcpy(parts, layout, np * sizeof(parts[0]));
    parts[9].level = 4;
    fx_btpa(b, parts, np);
    assert_int_equal(sim_asr_ptable_apply(&f, b, 0x88C, err, sizeof(err)), -EINVAL);
    memcpy(parts, layout, np * sizeof(parts[0]));
    fx_btpa(b, parts, np);
    memset(b + 8 + 68 * 3, 'x', 32);
    fx_le32(b + 0x888, fx_crc32(0, b, 0x888));
    assert_int_equal(sim_asr_ptable_apply(&f, b, 0x88C, err, sizeof(err)), -EINVAL);
    assert_false(f.have_table);
    /* The good table, count 0 and 33 refused. */
    fx_btpa(b, parts, 0);
    assert_int_equal(sim_asr_ptable_apply(&f, b, 0x88C, err, sizeof(err)), -EINVAL);
    fx_btpa(b, parts, np);
    assert_int_equal(sim_asr_ptable_apply(&f, b, 0x88C, err, sizeof(err)), 0);
    assert_int_equal(f.n_parts, np);
    assert_int_equal(sim_asr_part_find(&f, "cp"), 6);
    assert_int_equal(sim_asr_part_find(&f, "nope"), -1);
    assert_int_equal(f.parts[6].off, 0x40000);
    assert_string_equal(f.parts[6].type, "flash");
    sim_asr_flash_free(&f);
}

static void sha(const uint8_t *p, size_t n, uint8_t out[32])
{
    unsigned len = 0;
    EVP_Digest(p, n, out, &len, EVP_sha256(), NULL);
}

static void test_sparse(void **state)
{
    (void)state;
    struct sim_asr_flash f;
    char err[SIM_ERR_MAX];
    uint8_t b[0x88C], *img = malloc(20000), *seg = malloc(0x10000), *expect = malloc(0x8000);
    size_t np;
    const struct fx_part *layout = fx_layout(&np);
    probed_flash(&f);
    fx_btpa(b, layout, np);
    assert_int_equal(sim_asr_ptable_apply(&f, b, 0x88C, err, sizeof(err)), 0);
    int rd = sim_asr_part_find(&f, "rd");
    fx_fill(img, 20000, 3);
    uint64_t prog = 0;
    /* Broken CRC, then header faults: nothing is written. */
    size_t n = fx_sparse(seg, img, 12000, 0, 3, 0, 1);
    assert_int_equal(sim_asr_sparse_flash(&f, rd, seg, n, &prog, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "CRC-32"));
    n = fx_sparse(seg, img, 12000, 0, 3, 0, 0);
    seg[8] = 28; /* Android header size */
    assert_int_equal(sim_asr_sparse_flash(&f, rd, seg, n, &prog, err, sizeof(err)), -EINVAL);
    n = fx_sparse(seg, img, 12000, 0, 3, 0, 0);
    fx_le32(seg + 16, 4); /* chunks cover 3 of 4 blocks */
    assert_int_equal(sim_asr_sparse_flash(&f, rd, seg, n, &prog, err, sizeof(err)), -EINVAL);
    n = fx_sparse(seg, img, 12000, 0, 3, 0, 0);
    assert_int_equal(sim_asr_sparse_flash(&f, rd, seg, n - 20, &prog, err, sizeof(err)), -EINVAL);
    fx_le32(seg + 20, 1); /* no CRC chunk: bytes left after the last chunk */
    assert_int_equal(sim_asr_sparse_flash(&f, rd, seg, n, &prog, err, sizeof(err)), -EINVAL);
    fx_le32(seg + 20, 1);
    assert_int_equal(sim_asr_sparse_flash(&f, rd, seg, n - 20, &prog, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "no CRC32"));
    /* Larger than rd (0x10000 = 16 blocks). */
    n = fx_sparse(seg, img, 4096, 0, 17, 0, 0);
    assert_int_equal(sim_asr_sparse_flash(&f, rd, seg, n, &prog, err, sizeof(err)), -EINVAL);
    assert_int_equal(f.n_rec, 0);
    /* Two segments of one image: blocks 0-2 then 3-4 (the second skips with DONT_CARE). */
    n = fx_sparse(seg, img, 12288, 0, 5, 0, 0);
    assert_int_equal(sim_asr_sparse_flash(&f, rd, seg, n, &prog, err, sizeof(err)), 0);
    assert_int_equal(prog, 12288);
    n = fx_sparse(seg, img + 12288, 20000 - 12288, 3, 5, 0, 0);
    assert_int_equal(sim_asr_sparse_flash(&f, rd, seg, n, &prog, err, sizeof(err)), 0);
    assert_int_equal(f.n_rec, 1);
    assert_int_equal(f.rec[0].extent, 5 * 4096);
    assert_int_equal(f.rec[0].segments, 2);
    memcpy(expect, img, 20000);
    memset(expect + 20000, 0, 5 * 4096 - 20000);
    uint8_t want[32], got[32];
    sha(expect, 5 * 4096, want);
    assert_int_equal(sim_asr_record_sha(&f, 0, got), 0);
    assert_memory_equal(got, want, 32);
    /* Erase: the flash reads 0xFF over the extent. */
    assert_int_equal(sim_asr_part_erase(&f, rd), 0);
    memset(expect, 0xFF, 5 * 4096);
    sha(expect, 5 * 4096, want);
    assert_int_equal(sim_asr_record_sha(&f, 0, got), 0);
    assert_memory_equal(got, want, 32);
    assert_true(f.rec[0].erased);
    free(img);
    free(seg);
    free(expect);
    sim_asr_flash_free(&f);
}

static void test_fip(void **state)
{
    (void)state;
    char err[SIM_ERR_MAX];
    static uint8_t b[8192];
    size_t n = fx_fip(b, 5, false, false);
    assert_int_equal(sim_asr_fip_check(b, n, err, sizeof(err)), 0);
    assert_int_equal(sim_asr_fip_check(b, n - 1, err, sizeof(err)), -EINVAL);
    b[0] ^= 1;
    assert_int_equal(sim_asr_fip_check(b, n, err, sizeof(err)), -EINVAL);
    n = fx_fip(b, 5, true, false);
    assert_int_equal(sim_asr_fip_check(b, n, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "BL2"));
    n = fx_fip(b, 5, false, true);
    assert_int_equal(sim_asr_fip_check(b, n, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "certificate"));
    n = fx_fip(b, 5, false, false);
    fx_le64(b + 16 + 24, 0x100000); /* BL2 size past the end */
    assert_int_equal(sim_asr_fip_check(b, n, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "out of bounds"));
    n = fx_fip(b, 5, false, false);
    b[fx_fip(b, 5, false, false) - 700] = 0x31; /* certificate not DER */
    assert_int_equal(sim_asr_fip_check(b, n, err, sizeof(err)), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_notes),  cmocka_unit_test(test_decode_probe),
        cmocka_unit_test(test_decode_frames), cmocka_unit_test(test_decode_mtu),
        cmocka_unit_test(test_roundtrip),     cmocka_unit_test(test_crc32),
        cmocka_unit_test(test_flashinfo),     cmocka_unit_test(test_ptable),
        cmocka_unit_test(test_sparse),        cmocka_unit_test(test_fip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
