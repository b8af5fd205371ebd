/* mkpkg: hostile and broken packages under OUTDIR/bad/, with OUTDIR/bad/EXPECT listing
 * "<file>\t<text the error message must contain>". */
#include "mkpkg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static FILE *expect_file;

static void bad(const char *out, const char *name, const struct buf *b, const char *message)
{
    char rel[256];
    snprintf(rel, sizeof(rel), "bad/%s", name);
    write_file(out, rel, b->p, b->len);
    fprintf(expect_file, "%s\t%s\n", name, message);
}

static void bad_zip(const char *out, const char *name, struct zip *z, const char *message)
{
    struct buf b = zip_build(z, 0);
    bad(out, name, &b, message);
    buf_free(&b);
    zip_free(z);
}

int mkpkg_bad(const char *out);

int mkpkg_bad(const char *out)
{
    char path[4096];
    write_file(out, "bad/EXPECT", (const uint8_t *)"", 0);
    snprintf(path, sizeof(path), "%s/bad/EXPECT", out);
    expect_file = fopen(path, "w");
    if (!expect_file) {
        perror(path);
        return 1;
    }
    struct zip z = {0};
    zip_add_buf(&z, "QPY_OCPU_V0001_EC600U_CNLB_FW/../../evil.pac", random_image(100, 1));
    bad_zip(out, "traversal.zip", &z, "leaves the package");

    zip_add_buf(&z, "/tmp/evil.pac", random_image(100, 2));
    bad_zip(out, "absolute.zip", &z, "absolute path");

    zip_add_text(&z, "changelog.md", "x\n");
    zip_add_symlink(&z, "QPY_OCPU_V0001_EC600U_CNLB_FW.pac", "/etc/passwd");
    bad_zip(out, "symlink.zip", &z, "symbolic link");

    struct buf zeros = {0};
    buf_zero(&zeros, 64u << 20);
    zip_add_buf(&z, "QPY_OCPU_V0001_EC800M_CNGA_FW/QPY_OCPU_V0001_EC800M_CNGA_FW.bin", zeros);
    bad_zip(out, "bomb.zip", &z, "zip bomb");

    /* Six zips inside each other: deeper than the nesting limit (4). */
    struct buf inner = make_asr_flashable_zip(10);
    for (int level = 0; level < 6; level++) {
        zip_add_buf(&z, "inner.zip", inner);
        inner = zip_build(&z, 0);
        zip_free(&z);
    }
    bad(out, "deep.zip", &inner, "nests archives deeper");
    buf_free(&inner);

    /* The official ASR package cut short, and a stored one with a flipped data byte. */
    const char *nm = "QPY_OCPU_BETA0002_EC800K_CNLC_FW/QPY_OCPU_BETA0002_EC800K_CNLC_FW.bin";
    zip_add_text(&z, "QPY_OCPU_BETA0002_EC800K_CNLC_FW/changelog.md", "# Changelog\n");
    zip_add_buf(&z, nm, make_asr_flashable_zip(20));
    struct buf full = zip_build(&z, 1);
    zip_free(&z);
    struct buf cut = full;
    cut.len = full.len * 6 / 10;
    bad(out, "truncated.zip", &cut, "truncated");
    full.p[full.len / 2] ^= 0x55;
    bad(out, "corrupt.zip", &full, "corrupt");
    buf_free(&full);

    struct buf pac = make_pac("UIX8910_MODEM", "8915DM_cat1_open", 1, 30);
    pac.p[pac.len - 100] ^= 1;
    bad(out, "QPY_OCPU_V0001_EC200U_CNAA_FW_badcrc.pac", &pac, "CRC mismatch");
    pac.p[pac.len - 100] ^= 1;
    pac.len -= 5000;
    bad(out, "QPY_OCPU_V0001_EC200U_CNAA_FW_cut.pac", &pac, "truncated");
    buf_free(&pac);

    zip_add_text(&z, "platform_config.json", "{\"platform\": \"EIGEN\"}\n");
    zip_add_buf(&z, "QPY_OCPU_V0001_EC600U_CNLB_FW.pac",
                make_pac("UIX8910_MODEM", "8915DM_cat1_open", 1, 40));
    bad_zip(out, "platform-mismatch.bin", &z, "holds no eigencomm firmware");

    zip_add_buf(&z, "a/QPY_OCPU_V0001_EC600U_CNLB_FW.pac",
                make_pac("UIX8910_MODEM", "8915DM_cat1_open", 1, 50));
    zip_add_buf(&z, "b/at_command.binpkg", make_binpkg("EC618_4M", 51));
    bad_zip(out, "two-platforms.zip", &z, "two platforms");

    zip_add_buf(&z, "x/a_merge.pac", make_pac("UIX8910_MODEM", "8915DM_cat1_open", 1, 60));
    zip_add_buf(&z, "x/b_merge.pac", make_pac("UIX8910_MODEM", "8915DM_cat1_open", 1, 61));
    bad_zip(out, "ambiguous.zip", &z, "cannot tell which");

    zip_add_text(&z, "QPY_OCPU_V0001_EC800M_CNGA_FW/changelog.md", "# Changelog\n");
    bad_zip(out, "empty.zip", &z, "no flashable firmware");

    add_asr_flashable(&z, "", 70);
    for (size_t i = 0; i < z.n; i++)
        if (strcmp(z.m[i].path, "cp.bin") == 0)
            ((char *)z.m[i].path)[0] = 'X'; /* rename the member download.json needs */
    bad_zip(out, "QPY_OCPU_V0001_EC800M_CNGA_FW_missing.bin", &z, "not in the package");

    add_asr_flashable(&z, "", 80);
    for (size_t i = 0; i < z.n; i++)
        if (strcmp(z.m[i].path, "partition.bin") == 0)
            ((uint8_t *)z.m[i].data)[100] ^= 1;
    bad_zip(out, "QPY_OCPU_V0001_EC800M_CNGA_FW_ptable.bin", &z, "partition.bin CRC-32");

    struct buf bp = make_binpkg("EC618_4M", 90);
    bp.p[bp.len - 10] ^= 1;
    bad(out, "at_command_badhash.binpkg", &bp, "SHA-256 mismatch");
    buf_free(&bp);

    struct buf rnd = random_image(1000, 95);
    bad(out, "QPY_OCPU_V0001_EC800M_CNGA_FW_random.bin", &rnd, "no flashable firmware");
    buf_free(&rnd);

    fclose(expect_file);
    return 0;
}
