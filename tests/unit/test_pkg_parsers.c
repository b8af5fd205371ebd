/* Each platform package parser against valid inputs from flashrack-mkpkg and targeted
 * mutations of them: every refusal names the problem. */
#include "asr/asr1803_pkg.h"
#include "asr/asr_pkg.h"
#include "beken/beken_pkg.h"
#include "common/bytes.h"
#include "eigencomm/eigencomm_pkg.h"
#include "eswin/eswin_pkg.h"
#include "package/pkg_walk.h"
#include "qualcomm/qualcomm_pkg.h"
#include "unisoc/unisoc_pkg.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static char outdir[256];
static char err[512];

static int setup(void **state)
{
    (void)state;
    const char *build = getenv("FLASHRACK_BUILD_DIR");
    if (!build)
        return -1;
    snprintf(outdir, sizeof(outdir), "/tmp/flashrack-test-parsers-XXXXXX");
    if (!mkdtemp(outdir))
        return -1;
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "'%s/tests/mkpkg/flashrack-mkpkg' '%s' >/dev/null", build, outdir);
    return system(cmd) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", outdir);
    return system(cmd) == 0 ? 0 : -1;
}

static uint8_t *slurp(const char *rel, size_t *len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", outdir, rel);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

#define REFUSED(call, text)                                                                        \
    do {                                                                                           \
        err[0] = '\0';                                                                             \
        assert_true((call) < 0);                                                                   \
        if (!strstr(err, text))                                                                    \
            fail_msg("'%s' does not say '%s'", err, text);                                         \
    } while (0)

/* Rewrites both PAC CRCs so a mutation reaches the check behind them. */
static void pac_fix_crcs(uint8_t *p, size_t len)
{
    uint16_t c1 = unisoc_crc16_arc(0, p, 0x848);
    bytes_put_le16(p + 0x848, c1);
    bytes_put_le16(p + 0x84A, unisoc_crc16_arc(0, p + 0x84C, len - 0x84C));
}

static void test_pac(void **state)
{
    (void)state;
    size_t len;
    uint8_t *p = slurp("direct/QPY_OCPU_V0001_EC200U_CNAA_FW.pac", &len);
    struct unisoc_pac *pac;
    assert_int_equal(unisoc_pac_parse(p, len, &pac, err, sizeof(err)), 0);
    assert_int_equal(pac->nfiles, 8);
    assert_int_equal(pac->nxml, 7);
    assert_string_equal(pac->alias, "8915DM_cat1_open");
    assert_string_equal(pac->xml[0].type, "HOST_FDL");
    unisoc_pac_free(pac);

    p[0x10] ^= 1;
    REFUSED(unisoc_pac_parse(p, len, &pac, err, sizeof(err)), "unknown version string");
    p[0x10] ^= 1;
    p[0x300] ^= 1;
    REFUSED(unisoc_pac_parse(p, len, &pac, err, sizeof(err)), "header CRC mismatch");
    p[0x300] ^= 1;
    bytes_put_le32(p + 0x434, 0);
    pac_fix_crcs(p, len);
    REFUSED(unisoc_pac_parse(p, len, &pac, err, sizeof(err)), "file count 0");
    bytes_put_le32(p + 0x434, 8);
    bytes_put_le32(p + 0x84C + 0xA14 + 0x604, 0x7fffffff); /* FDL2 size */
    pac_fix_crcs(p, len);
    REFUSED(unisoc_pac_parse(p, len, &pac, err, sizeof(err)), "lies outside the PAC");
    bytes_put_le32(p + 0x84C + 0xA14 + 0x604, 5000);
    bytes_put_le32(p + 0x84C, 0xA10);
    pac_fix_crcs(p, len);
    REFUSED(unisoc_pac_parse(p, len, &pac, err, sizeof(err)), "size field 2576");
    bytes_put_le32(p + 0x84C, 0xA14);
    /* The XML is the last entry; break its first '<'. */
    uint32_t xoff;
    bytes_le32_at(p, len, 0x84C + 7 * 0xA14 + 0x610, &xoff);
    p[xoff] = '!';
    pac_fix_crcs(p, len);
    REFUSED(unisoc_pac_parse(p, len, &pac, err, sizeof(err)), "embedded XML");
    p[xoff] = '<';
    /* Without its magic an old PAC is read without CRC checks, with a warning. */
    bytes_put_le32(p + 0x844, 0);
    p[0x84C + 8 * 0xA14 + 100] ^= 1; /* inside HOST_FDL's data */
    assert_int_equal(unisoc_pac_parse(p, len, &pac, err, sizeof(err)), 0);
    assert_false(pac->crc_checked);
    assert_int_equal(pac->warnings.count, 1);
    unisoc_pac_free(pac);
    REFUSED(unisoc_pac_parse(p, 100, &pac, err, sizeof(err)), "shorter than");
    free(p);
}

static void test_asr(void **state)
{
    (void)state;
    size_t len;
    uint8_t *z = slurp("asr-temporary/EC800KCNCCR07A01M02_OCPY_QPY_BETA1202.zip", &len);
    struct asr_pkg *pkg;
    assert_int_equal(asr_pkg_parse(z, len, &pkg, err, sizeof(err)), 0);
    assert_int_equal(pkg->ptable.count, 12);
    assert_int_equal(pkg->flashinfo.ncompat, 3);
    assert_string_equal(asr_ptable_find(&pkg->ptable, "user_fs")->type, "raw");
    /* Copy partition.bin and flashinfo.bin out for mutation. */
    struct pkg_walk *w = pkg->own;
    int pi = pkg_walk_find(w, "partition.bin"), fi = pkg_walk_find(w, "flashinfo.bin");
    uint8_t pt[ASR_PTABLE_SIZE];
    memcpy(pt, w->nodes[pi].data, sizeof(pt));
    size_t flen = w->nodes[fi].size;
    uint8_t *fl = malloc(flen);
    memcpy(fl, w->nodes[fi].data, flen);
    asr_pkg_free(pkg);
    free(z);

    struct asr_ptable t;
    pt[0x10] ^= 1;
    REFUSED(asr_partition_parse(pt, sizeof(pt), &t, err, sizeof(err)), "CRC-32 mismatch");
    REFUSED(asr_partition_parse(pt, 100, &t, err, sizeof(err)), "is 100 bytes");
    pt[0] = 'X';
    REFUSED(asr_partition_parse(pt, sizeof(pt), &t, err, sizeof(err)), "BTPA");
    struct asr_flashinfo info;
    REFUSED(asr_flashinfo_parse(fl, flen - 1, &info, err, sizeof(err)), "lists 3 flash parts");
    free(fl);

    struct asr_download dl;
    const char *j1 = "[{\"command\": \"format\", \"group\": \"0\"}]";
    REFUSED(asr_download_json_parse((const uint8_t *)j1, strlen(j1), &dl, err, sizeof(err)),
            "'format' is unknown");
    const char *j2 = "[{\"command\": \"flash\", \"image\": \"cp.bin\"}]";
    REFUSED(asr_download_json_parse((const uint8_t *)j2, strlen(j2), &dl, err, sizeof(err)),
            "names no partition");
    const char *j3 = "{\"command\": \"flash\"}";
    REFUSED(asr_download_json_parse((const uint8_t *)j3, strlen(j3), &dl, err, sizeof(err)),
            "must be an array");
    const char *j4 = "[{\"command\": \"call\"},";
    REFUSED(asr_download_json_parse((const uint8_t *)j4, strlen(j4), &dl, err, sizeof(err)),
            "not valid JSON");
}

static const uint8_t img64[64];
static const uint8_t *get_any(const void *ctx, const char *path, size_t *len)
{
    (void)ctx;
    if (strstr(path, "missing"))
        return NULL;
    *len = sizeof(img64);
    return img64;
}
static const char *list_none(const void *ctx, const char *dir, size_t i)
{
    (void)ctx, (void)dir, (void)i;
    return NULL;
}

static void test_blf_fbf(void **state)
{
    (void)state;
    struct asr1803_blf *blf;
    const char *alt = "[BLF_Version]\n[Image_List]\nImage_1_ID_Name = DKBI\n"
                      "Image_1_Path = C:\\build\\dkb.bin\nImage_1_Flash_Entry_Address = 0x20000\n"
                      "Image_2_ID_Name = TIMH\nImage_2_Path = tim.bin\nNumber_of_Images = 3\n";
    assert_int_equal(asr1803_blf_parse((const uint8_t *)alt, strlen(alt), &blf, err, sizeof(err)),
                     0);
    assert_int_equal(blf->count, 2);
    assert_int_equal(blf->img[0].flash_addr, 0x20000);
    assert_int_equal(blf->img[1].id_value, 0x54494D48);
    assert_int_equal(blf->warnings.count, 1); /* says 3, lists 2 */
    struct pkg_files files = {.get = get_any, .list = list_none, .ctx = NULL};
    assert_int_equal(asr1803_blf_resolve(blf, &files, "fw", err, sizeof(err)), 0);
    assert_int_equal(blf->images.count, 2);
    asr1803_blf_free(blf);
    const char *missing = "[BLF_Version]\n1_Image_Image_ID = OBMI\n1_Image_Path = missing.bin\n";
    assert_int_equal(
        asr1803_blf_parse((const uint8_t *)missing, strlen(missing), &blf, err, sizeof(err)), 0);
    REFUSED(asr1803_blf_resolve(blf, &files, "", err, sizeof(err)), "is not in the package");
    asr1803_blf_free(blf);
    const char *dots = "[BLF_Version]\n1_Image_Image_ID = OBMI\n1_Image_Path = ..\\..\\x.bin\n";
    REFUSED(asr1803_blf_parse((const uint8_t *)dots, strlen(dots), &blf, err, sizeof(err)),
            "leaves the package");
    const char *nopath = "[BLF_Version]\n1_Image_Image_ID = OBMI\n";
    REFUSED(asr1803_blf_parse((const uint8_t *)nopath, strlen(nopath), &blf, err, sizeof(err)),
            "has no Path");
    REFUSED(asr1803_blf_parse((const uint8_t *)"a = b\n", 6, &blf, err, sizeof(err)),
            "no [section]");

    size_t len;
    uint8_t *f = slurp("ec200a-fbf/QPY_OCPU_V0001_EC200A_EUAA_FW_BinFile.bin", &len);
    struct asr1803_fbf *fbf;
    assert_true(asr1803_fbf_sniff(f, len));
    assert_int_equal(asr1803_fbf_parse(f, len, &fbf, err, sizeof(err)), 0);
    assert_int_equal(fbf->count, 5);
    assert_string_equal(fbf->members[0].name, "DKB_timheader.bin");
    assert_int_equal(fbf->members[1].size, 1500);
    asr1803_fbf_free(fbf);
    uint32_t dir;
    bytes_le32_at(f, len, len - 4, &dir);
    bytes_put_le32(f + dir, 3);
    REFUSED(asr1803_fbf_parse(f, len, &fbf, err, sizeof(err)), "lists 3 files");
    bytes_put_le32(f + dir, 5);
    bytes_put_le32(f + len - 4, (uint32_t)len);
    REFUSED(asr1803_fbf_parse(f, len, &fbf, err, sizeof(err)), "outside the file");
    free(f);
}

static void test_binpkg(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = slurp("bad/at_command_badhash.binpkg", &len);
    b[len - 10] ^= 1; /* undo the corruption mkpkg made */
    struct eigencomm_binpkg *pkg;
    assert_true(eigencomm_binpkg_sniff(b, len));
    assert_int_equal(eigencomm_binpkg_parse(b, len, &pkg, err, sizeof(err)), 0);
    assert_string_equal(pkg->product, "EC618_4M");
    assert_string_equal(eigencomm_family(pkg->product), "ec618");
    assert_int_equal(pkg->pkgmode, 1);
    assert_int_equal(pkg->count, 3);
    assert_true(pkg->entries[1].hash_ok);
    assert_int_equal(pkg->entries[0].data_offset, 0x1D8 + 364);
    eigencomm_binpkg_free(pkg);
    REFUSED(eigencomm_binpkg_parse(b, len - 1, &pkg, err, sizeof(err)),
            "'cp-demo-flash' is truncated");
    bytes_put_le32(b + 16, 0);
    REFUSED(eigencomm_binpkg_parse(b, len, &pkg, err, sizeof(err)), "image count 0");
    bytes_put_le32(b + 16, 3);
    bytes_put_le32(b + 0x1D8 + 68, 100); /* region smaller than the image */
    REFUSED(eigencomm_binpkg_parse(b, len, &pkg, err, sizeof(err)), "exceeds its region");
    REFUSED(eigencomm_binpkg_parse(b, 20, &pkg, err, sizeof(err)), "shorter than");
    free(b);
}

static void test_qualcomm_xml(void **state)
{
    (void)state;
    struct qualcomm_xml *x = malloc(sizeof(*x));
    const char *raw = "<data><program SECTOR_SIZE_IN_BYTES=\"4096\" filename=\"a.mbn\" "
                      "label=\"sbl\" num_partition_sectors=\"10\" start_sector=\"0x20\"/>"
                      "<erase label=\"efs\" start_sector=\"5\"/></data>";
    assert_int_equal(qualcomm_xml_parse((const uint8_t *)raw, strlen(raw), x, err, sizeof(err)), 0);
    assert_int_equal(x->count, 2);
    assert_int_equal(x->entries[0].start_sector, 0x20);
    assert_true(x->entries[1].erase);
    assert_false(x->is_patch);
    REFUSED(qualcomm_xml_parse((const uint8_t *)"<data><program", 14, x, err, sizeof(err)),
            "malformed");
    free(x);
    assert_true(qualcomm_mbn_sniff((const uint8_t *)"\x7f"
                                                    "ELF....",
                                   8));
}

static void test_wifi_images(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = slurp("fc41d/QPY_OCPU_V0001_FC41D_FW.bin", &len);
    struct beken_image *img;
    assert_true(beken_image_sniff(b, len));
    assert_int_equal(beken_image_parse(b, len, "x.bin", &img, err, sizeof(err)), 0);
    assert_true(img->crc_format);
    assert_true(img->all_in_one);
    assert_int_equal(img->blank_blocks, 2048 - 300);
    beken_image_free(img);
    /* The application part alone, named as one, goes to 0x11000. */
    assert_int_equal(
        beken_image_parse(b + 0x11000, len - 0x11000, "FC41D_UA_app.bin", &img, err, sizeof(err)),
        0);
    assert_int_equal(img->start, 0x11000);
    beken_image_free(img);
    b[40] ^= 1; /* inside block 1 */
    REFUSED(beken_image_parse(b, len, NULL, &img, err, sizeof(err)), "block 1");
    memset(b, 0xFF, len);
    REFUSED(beken_image_parse(b, len, NULL, &img, err, sizeof(err)), "blank");
    free(b);

    uint8_t *e = slurp("fcm360w/QPY_OCPU_V0001_FCM360W_FW.bin", &len);
    struct eswin_image *es;
    assert_int_equal(eswin_image_parse(e, len, &es, err, sizeof(err)), 0);
    assert_true(es->has_loader);
    assert_int_equal(es->count, 3);
    eswin_image_free(es);
    REFUSED(eswin_image_parse(e, len - 1, &es, err, sizeof(err)), "record 2 is truncated");
    size_t rec2 = 5 + 9 + 4096 + 9 + 8192;
    bytes_put_le32(e + rec2 + 1, 0x1000); /* into record 1's range */
    REFUSED(eswin_image_parse(e, len, &es, err, sizeof(err)), "overlap");
    e[rec2] = 7;
    REFUSED(eswin_image_parse(e, len, &es, err, sizeof(err)), "unknown type 7");
    e[0] = 'x';
    REFUSED(eswin_image_parse(e, len, &es, err, sizeof(err)), "oneb");
    free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pac),          cmocka_unit_test(test_asr),
        cmocka_unit_test(test_blf_fbf),      cmocka_unit_test(test_binpkg),
        cmocka_unit_test(test_qualcomm_xml), cmocka_unit_test(test_wifi_images),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
