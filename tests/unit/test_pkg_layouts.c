/* Every package layout of the seed documents, generated at test time by flashrack-mkpkg:
 * pkg_load + pkg_open must pick the file the seed says, with the right platform, series,
 * sub-model, version and layout, and images from the real parse. Hostile inputs must fail
 * with a message naming the problem. */
#include "pkg_load.h"

#include "asr/asr_pkg.h"
#include "eswin/eswin_pkg.h"
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

static int setup(void **state)
{
    (void)state;
    const char *build = getenv("FLASHRACK_BUILD_DIR");
    if (!build) {
        fprintf(stderr, "FLASHRACK_BUILD_DIR is not set (run under ctest)\n");
        return -1;
    }
    snprintf(outdir, sizeof(outdir), "/tmp/flashrack-test-pkg-XXXXXX");
    if (!mkdtemp(outdir))
        return -1;
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "'%s/tests/mkpkg/flashrack-mkpkg' '%s'", build, outdir);
    return system(cmd) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", outdir);
    return system(cmd) == 0 ? 0 : -1;
}

static struct pkg *open_path(const char *rel, struct pkg_source **ret_src, char *err, size_t errlen)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", outdir, rel);
    struct pkg_source *src = NULL;
    struct pkg *p = NULL;
    int r = pkg_load_path(path, NULL, &src, err, errlen);
    if (r == 0)
        r = pkg_load_open(src, NULL, &p, err, errlen);
    if (r < 0) {
        pkg_source_free(src);
        return NULL;
    }
    *ret_src = src;
    return p;
}

static void test_manifest(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof(path), "%s/MANIFEST", outdir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char rel[256], flash[256], platform[32], series[32], sub[16], version[32], layout[48];
    int count = 0;
    while (fscanf(f, "%255s %255s %31s %31s %15s %31s %47s", rel, flash, platform, series, sub,
                  version, layout) == 7) {
        char err[512] = "";
        struct pkg_source *src;
        struct pkg *p = open_path(rel, &src, err, sizeof(err));
        if (!p)
            fail_msg("%s: %s", rel, err);
        assert_string_equal(p->flash_file, flash);
        assert_string_equal(pkg_platform_to_string(p->platform), platform);
        assert_string_equal(p->ident.series, series);
        assert_string_equal(p->ident.submodel, strcmp(sub, "-") ? sub : "");
        assert_string_equal(p->ident.version, version);
        assert_string_equal(p->layout, layout);
        assert_true(p->images.count > 0);
        for (size_t i = 0; i < p->images.count; i++)
            assert_true(p->images.items[i].name[0] != '\0');
        /* flash_sha256 is the hash of the flash file's bytes. */
        if (p->flash_data) {
            char want[65];
            pkg_sha256_hex(p->flash_data, p->flash_len, want);
            assert_string_equal(p->flash_sha256, want);
        }
        assert_int_equal(strlen(src->sha256), 64);
        pkg_free(p);
        pkg_source_free(src);
        count++;
    }
    fclose(f);
    assert_true(count >= 19);
}

static const struct pkg_image *image(const struct pkg *p, const char *name)
{
    for (size_t i = 0; i < p->images.count; i++)
        if (strcmp(p->images.items[i].name, name) == 0)
            return &p->images.items[i];
    fail_msg("no image '%s'", name);
    return NULL;
}

/* The images come from the real parse: addresses from partition tables, XML and descriptors. */
static void test_images(void **state)
{
    (void)state;
    char err[512];
    struct pkg_source *src;
    struct pkg *p = open_path("unisoc-temporary/EC600UCNLBR03A01M08_BT_OCPU_QPY_BETA1107.zip", &src,
                              err, sizeof(err));
    assert_non_null(p);
    assert_int_equal(p->parsed_kind, PKG_PARSED_PAC);
    const struct unisoc_pac *pac = p->parsed;
    assert_true(pac->crc_checked);
    assert_string_equal(pac->product, "UIX8910_MODEM");
    assert_int_equal(image(p, "HOST_FDL")->address, 0x8000c0);
    assert_int_equal(image(p, "FDL2")->address, 0x810000);
    assert_int_equal(image(p, "PY_FS_U")->size, 8000);
    assert_string_equal(image(p, "PY_FS_U")->partition, "py_fs");
    assert_int_equal(image(p, "NV")->address, PKG_ADDR_NONE);
    /* Offsets point into the PAC: the bytes there are the image. */
    const struct pkg_image *ap = image(p, "AP");
    assert_memory_equal(p->payload_data + ap->offset, ap->data, (size_t)ap->size);
    pkg_free(p);
    pkg_source_free(src);

    p = open_path("asr-official/QPY_OCPU_BETA0002_EC800K_CNLC_FW.zip", &src, err, sizeof(err));
    assert_non_null(p);
    assert_int_equal(image(p, "cp")->address, 0x40000);
    assert_int_equal(image(p, "cp")->size, 24000);
    assert_int_equal(image(p, "user_app")->address, 0x630000);
    assert_string_equal(image(p, "nvm")->type, "erase");
    const struct asr_pkg *asr = p->parsed;
    assert_string_equal(asr->flashinfo.part, "GD25LQ128D");
    pkg_free(p);
    pkg_source_free(src);

    p = open_path("eigencomm-new/QPY_OCPU_V0003_EC800E_CNLC_FW.zip", &src, err, sizeof(err));
    assert_non_null(p);
    assert_string_equal(p->payload_file,
                        "QPY_OCPU_V0003_EC800E_CNLC_FW/QPY_OCPU_V0003_EC800E_CNLC_FW.bin/"
                        "QPY_OCPU_V0003_EC800E_CNLC_FW/at_command.binpkg");
    assert_string_equal(p->choice.platform_config, "EIGEN");
    assert_int_equal(image(p, "ap_bootloader")->address, 0x804000);
    assert_int_equal(image(p, "cp-demo-flash")->address, 0x8800000);
    pkg_free(p);
    pkg_source_free(src);

    p = open_path("bg95/QPY_OCPU_V0001_BG95M3_FW.zip", &src, err, sizeof(err));
    assert_non_null(p);
    assert_string_equal(image(p, "programmer")->file,
                        "QPY_OCPU_V0001_BG95M3_FW/update/firehose/prog_nand_firehose_9x05.mbn");
    assert_int_equal(image(p, "tz")->address, 320 * 4096);
    assert_int_equal(p->images.count, 6);
    pkg_free(p);
    pkg_source_free(src);

    p = open_path("ec200a/QPY_OCPU_V0001_EC200A_EUAA_FW.zip", &src, err, sizeof(err));
    assert_non_null(p);
    assert_int_equal(p->images.count, 5);
    assert_int_equal(image(p, "OSLO")->address, 0x100000);
    assert_int_equal(image(p, "ARBI")->size, 16000);
    pkg_free(p);
    pkg_source_free(src);

    p = open_path("fc41d/QPY_OCPU_V0001_FC41D_FW.bin", &src, err, sizeof(err));
    assert_non_null(p);
    assert_int_equal(image(p, "bootloader")->address, 0);
    assert_int_equal(image(p, "app")->address, 0x11000);
    pkg_free(p);
    pkg_source_free(src);

    p = open_path("fcm360w/QPY_OCPU_V0001_FCM360W_FW.bin", &src, err, sizeof(err));
    assert_non_null(p);
    assert_int_equal(p->images.count, 3);
    assert_string_equal(p->images.items[0].type, "ram");
    assert_int_equal(p->images.items[2].address, 0x7000);
    pkg_free(p);
    pkg_source_free(src);
}

/* The rules leave their trace: what was ignored and why. */
static void test_warnings(void **state)
{
    (void)state;
    char err[512];
    struct pkg_source *src;
    struct pkg *p = open_path("asr-compile-result/EC800KCNCCR07A01M02_OCPY_QPY_BETA1202.zip", &src,
                              err, sizeof(err));
    assert_non_null(p);
    int seen = 0;
    for (unsigned i = 0; i < p->warnings.count; i++)
        seen |= strstr(p->warnings.text[i], "_release_pack.zip") != NULL;
    assert_true(seen);
    pkg_free(p);
    pkg_source_free(src);
}

static void test_hostile(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof(path), "%s/bad/EXPECT", outdir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[512];
    int count = 0;
    while (fgets(line, sizeof(line), f)) {
        char *tab = strchr(line, '\t');
        assert_non_null(tab);
        *tab = '\0';
        char *want = tab + 1;
        want[strcspn(want, "\n")] = '\0';
        char rel[600], err[512] = "";
        snprintf(rel, sizeof(rel), "bad/%s", line);
        struct pkg_source *src = NULL;
        struct pkg *p = open_path(rel, &src, err, sizeof(err));
        if (p)
            fail_msg("%s was accepted", rel);
        if (!strstr(err, want))
            fail_msg("%s: '%s' does not say '%s'", rel, err, want);
        count++;
    }
    fclose(f);
    assert_true(count >= 15);
}

/* The driver hooks (struct proto parse): bytes in, this platform's package out. */
static void test_proto_hooks(void **state)
{
    (void)state;
    char err[512];
    struct pkg_source *src;
    struct pkg *p = open_path("unisoc-official-new/QPY_OCPU_BETA0001_EC600U_CNLC_FW.zip", &src, err,
                              sizeof(err));
    assert_non_null(p);
    void *pkg = NULL;
    /* The whole download zip and the flashable .bin both work for the Unisoc driver. */
    assert_int_equal(
        unisoc_pkg_hook_parse(src->files[0].data, src->files[0].len, &pkg, err, sizeof(err)), 0);
    assert_int_equal(((struct pkg *)pkg)->parsed_kind, PKG_PARSED_PAC);
    unisoc_pkg_hook_free(pkg);
    assert_int_equal(unisoc_pkg_hook_parse(p->flash_data, p->flash_len, &pkg, err, sizeof(err)), 0);
    unisoc_pkg_hook_free(pkg);
    assert_true(eswin_pkg_hook_parse(p->flash_data, p->flash_len, &pkg, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "holds unisoc firmware, not eswin"));
    pkg_free(p);
    pkg_source_free(src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manifest),    cmocka_unit_test(test_images),
        cmocka_unit_test(test_warnings),    cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_proto_hooks),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
