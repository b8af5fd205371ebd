/* flashrack-mkpkg OUTDIR (and --firmware NAME OUTDIR, see one_firmware): writes one synthetic
 * package per layout of seed 003 (names and nesting exactly as drawn there), the seed-000 forms
 * (EC200A .blf, BG95 .mbn, FC41D and FCM360W .bin, EG912N zip), junk-laden variants, and hostile
 * inputs under OUTDIR/bad/. OUTDIR/MANIFEST lists "<path> <flash_file> <platform> <series>
 * <submodel> <version> <layout>": the answer `flashrack inspect` must give, from the seed document.
 */
#include "mkpkg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static FILE *manifest;

static void expect(const char *path, const char *flash, const char *platform, const char *series,
                   const char *submodel, const char *version, const char *layout)
{
    fprintf(manifest, "%s %s %s %s %s %s %s\n", path, flash, platform, series,
            *submodel ? submodel : "-", version, layout);
}

static void out_zip(const char *outdir, const char *rel, struct zip *z)
{
    struct buf b = zip_build(z, 0);
    write_file(outdir, rel, b.p, b.len);
    buf_free(&b);
    zip_free(z);
}

static void disclaimer(struct zip *z, const char *path)
{
    struct buf pdf = random_image(3000, 99);
    memcpy(pdf.p, "%PDF-1.4\n", 9);
    zip_add_buf(z, path, pdf);
}

static void asr_layouts(const char *out)
{
    const char *tmp = "EC800KCNCCR07A01M02_OCPY_QPY_BETA1202";
    struct zip z = {0};
    char a[256], b[256];
    /* ASR temporary: the directly flashable zip. */
    add_asr_flashable(&z, "", 100);
    snprintf(a, sizeof(a), "asr-temporary/%s.zip", tmp);
    out_zip(out, a, &z);
    snprintf(b, sizeof(b), "%s.zip", tmp);
    expect(a, b, "asr", "EC800K", "CNCC", "BETA1202", "asr-temporary-zip");

    /* The same zip extracted by the user: the folder is the flashable package. */
    add_asr_flashable(&z, "", 100);
    snprintf(a, sizeof(a), "asr-temporary-extracted/%s", tmp);
    write_tree(out, a, &z);
    zip_free(&z);
    expect(a, tmp, "asr", "EC800K", "CNCC", "BETA1202", "asr-temporary-zip");

    /* ASR compile result: same file name outside and inside. */
    snprintf(a, sizeof(a), "%s/", tmp);
    disclaimer(&z, "Quectel_Disclaimer_for_Software_BETA_Version.pdf");
    zip_add_dir(&z, a);
    static const char *const dbg[] = {"CRANE_DS_XIP_DM_GENERIC.axf",
                                      "CRANE_DS_XIP_DM_GENERIC.map",
                                      "CRANE_DS_XIP_DM_GENERIC_DIAG.mdb",
                                      "CRANE_DS_XIP_DM_GENERIC_MDB.txt",
                                      "CRANE_DS_XIP_DM_GENERIC_NVM.mdb",
                                      "customer_app.elf",
                                      "customer_app.hex",
                                      "customer_app.map"};
    snprintf(a, sizeof(a), "%s/DBG/", tmp);
    zip_add_dir(&z, a);
    for (size_t i = 0; i < sizeof(dbg) / sizeof(dbg[0]); i++) {
        snprintf(a, sizeof(a), "%s/DBG/%s", tmp, dbg[i]);
        zip_add_buf(&z, a, random_image(1500, 200 + (uint32_t)i));
    }
    snprintf(a, sizeof(a), "%s/%s.json", tmp, tmp);
    zip_add_text(&z, a, "{\"project\": \"EC800KCNCC\", \"version\": \"BETA1202\"}\n");
    snprintf(a, sizeof(a), "%s/%s.zip", tmp, tmp);
    zip_add_buf(&z, a, make_asr_flashable_zip(300));
    /* The release pack carries a download.json too: only the name tells it apart. */
    struct zip rp = {0};
    add_asr_flashable(&rp, "", 400);
    zip_add_text(&rp, "release_notes.txt", "release pack for FOTA tools\n");
    snprintf(a, sizeof(a), "%s/%s_release_pack.zip", tmp, tmp);
    zip_add_buf(&z, a, zip_build(&rp, 0));
    zip_free(&rp);
    snprintf(a, sizeof(a), "asr-compile-result/%s.zip", tmp);
    out_zip(out, a, &z);
    snprintf(b, sizeof(b), "%s/%s.zip", tmp, tmp);
    expect(a, b, "asr", "EC800K", "CNCC", "BETA1202", "asr-compile-result");

    /* ASR official (and EG912N, the same form): zip > folder > renamed .bin. */
    static const struct {
        const char *name, *series, *sub, *ver, *dir;
    } off[] = {{"QPY_OCPU_BETA0002_EC800K_CNLC_FW", "EC800K", "CNLC", "BETA0002", "asr-official"},
               {"QPY_OCPU_V0001_EG912N_ENAA_FW", "EG912N", "ENAA", "V0001", "eg912n"}};
    for (size_t i = 0; i < 2; i++) {
        snprintf(a, sizeof(a), "%s/", off[i].name);
        zip_add_dir(&z, a);
        snprintf(a, sizeof(a), "%s/changelog.md", off[i].name);
        zip_add_text(&z, a, "# Changelog\n\n- first release\n");
        snprintf(a, sizeof(a), "%s/%s.bin", off[i].name, off[i].name);
        zip_add_buf(&z, a, make_asr_flashable_zip(500 + (uint32_t)i));
        snprintf(a, sizeof(a), "%s/Quectel_Disclaimer_for_Software_BETA_Version.pdf", off[i].name);
        disclaimer(&z, a);
        snprintf(a, sizeof(a), "%s/%s.zip", off[i].dir, off[i].name);
        out_zip(out, a, &z);
        snprintf(b, sizeof(b), "%s/%s.bin", off[i].name, off[i].name);
        expect(a, b, "asr", off[i].series, off[i].sub, off[i].ver, "asr-official");
    }

    /* The same official package as a Mac re-zips it: __MACOSX, ._ files, upper-case .BIN,
     * and one more folder level from zipping the extracted folder. */
    const char *name = "QPY_OCPU_V0001_EC800M_CNGA_FW";
    snprintf(a, sizeof(a), "download/%s/%s.BIN", name, name);
    zip_add_buf(&z, a, make_asr_flashable_zip(600));
    snprintf(a, sizeof(a), "__MACOSX/download/%s/._%s.BIN", name, name);
    zip_add_buf(&z, a, random_image(200, 601));
    snprintf(a, sizeof(a), "download/%s/._changelog.md", name);
    zip_add_text(&z, a, "junk");
    snprintf(a, sizeof(a), "download/%s/CHANGELOG.MD", name);
    zip_add_text(&z, a, "# Changelog\n");
    zip_add_buf(&z, "download/.DS_Store", random_image(100, 602));
    snprintf(a, sizeof(a), "asr-official-rezipped/%s.zip", name);
    out_zip(out, a, &z);
    snprintf(b, sizeof(b), "download/%s/%s.BIN", name, name);
    expect(a, b, "asr", "EC800M", "CNGA", "V0001", "asr-official");
}

static void unisoc_layouts(const char *out)
{
    const char *tmp = "EC600UCNLBR03A01M08_BT_OCPU_QPY_BETA1107";
    struct zip z = {0};
    char a[256], b[256];
    disclaimer(&z, "Quectel_Disclaimer_for_Software_BETA_Version.pdf");
    snprintf(a, sizeof(a), "%s/app/", tmp);
    zip_add_dir(&z, a);
    snprintf(a, sizeof(a), "%s/app/customer_app.elf", tmp);
    zip_add_buf(&z, a, random_image(2000, 700));
    static const char *const ext[] = {".elf", ".img", ".map"};
    for (int i = 0; i < 3; i++) {
        snprintf(a, sizeof(a), "%s/app/%s%s", tmp, tmp, ext[i]);
        zip_add_buf(&z, a, random_image(1500, 701 + (uint32_t)i));
    }
    snprintf(a, sizeof(a), "%s/app/%s.pac", tmp, tmp);
    zip_add_buf(&z, a, make_pac("APPIMG", "APPIMG", 1, 710));
    snprintf(a, sizeof(a), "%s/app/%s_flash_delete.pac", tmp, tmp);
    zip_add_buf(&z, a, make_pac("APPIMG", "APPIMG", 0, 720));
    snprintf(a, sizeof(a), "%s/app/%s_pyfs_erase.pac", tmp, tmp);
    zip_add_buf(&z, a, make_pac("APPIMG", "APPIMG", 0, 730));
    snprintf(a, sizeof(a), "%s/8915DM_cat1_open.elf", tmp);
    zip_add_buf(&z, a, random_image(3000, 740));
    snprintf(a, sizeof(a), "%s/8915DM_cat1_open.map", tmp);
    zip_add_text(&z, a, "map\n");
    snprintf(a, sizeof(a), "%s/8915DM_cat1_open_%s.pac", tmp, tmp);
    zip_add_buf(&z, a, make_pac("UIX8910_MODEM", "8915DM_cat1_open", 0, 750));
    snprintf(a, sizeof(a), "%s/8915DM_cat1_open_%s_merge.pac", tmp, tmp);
    mkpkg_fw_revision = tmp; /* what a module reports after booting it */
    zip_add_buf(&z, a, make_pac("UIX8910_MODEM", "8915DM_cat1_open", 1, 760));
    snprintf(a, sizeof(a), "unisoc-temporary/%s.zip", tmp);
    out_zip(out, a, &z);
    snprintf(b, sizeof(b), "%s/8915DM_cat1_open_%s_merge.pac", tmp, tmp);
    expect(a, b, "unisoc", "EC600U", "CNLB", "BETA1107", "unisoc-temporary");

    const char *old = "QPY_OCPU_BETA0004_EC600U_CNLB_FW";
    snprintf(a, sizeof(a), "%s/changelog.md", old);
    zip_add_text(&z, a, "# Changelog\n");
    snprintf(a, sizeof(a), "%s/%s.pac", old, old);
    mkpkg_fw_revision = "EC600UCNLBR03A01M08_OCPU_QPY_BETA0004";
    zip_add_buf(&z, a, make_pac("UIX8910_MODEM", "8915DM_cat1_open", 1, 770));
    snprintf(a, sizeof(a), "%s/Quectel_Disclaimer_for_Software_BETA_Version.pdf", old);
    disclaimer(&z, a);
    snprintf(a, sizeof(a), "unisoc-official-old/%s.zip", old);
    out_zip(out, a, &z);
    snprintf(b, sizeof(b), "%s/%s.pac", old, old);
    expect(a, b, "unisoc", "EC600U", "CNLB", "BETA0004", "unisoc-official-old");

    const char *nw = "QPY_OCPU_BETA0001_EC600U_CNLC_FW";
    struct zip inner = {0};
    zip_add_text(&inner, "platform_config.json", "{\"platform\": \"unisoc8910\"}\n");
    snprintf(a, sizeof(a), "%s.pac", nw);
    mkpkg_fw_revision = "EC600UCNLCR03A01M08_OCPU_QPY_BETA0001";
    zip_add_buf(&inner, a, make_pac("UIX8910_MODEM", "8915DM_cat1_open", 1, 780));
    mkpkg_fw_revision = NULL;
    snprintf(a, sizeof(a), "%s/changelog.md", nw);
    zip_add_text(&z, a, "# Changelog\n");
    snprintf(a, sizeof(a), "%s/Quectel_Disclaimer_for_Software_BETA_Version.pdf", nw);
    disclaimer(&z, a);
    snprintf(a, sizeof(a), "%s/%s.bin", nw, nw);
    zip_add_buf(&z, a, zip_build(&inner, 0));
    zip_free(&inner);
    snprintf(a, sizeof(a), "unisoc-official-new/%s.zip", nw);
    out_zip(out, a, &z);
    snprintf(b, sizeof(b), "%s/%s.bin", nw, nw);
    expect(a, b, "unisoc", "EC600U", "CNLC", "BETA0001", "unisoc-official-new");
}

static void eigencomm_layouts(const char *out)
{
    struct zip z = {0};
    char a[256], b[256];
    const char *old = "QPY_BETA0003_EC800E_CNLC_FW";
    disclaimer(&z, "Quectel_Disclaimer_for_Software_BETA_Version.pdf");
    zip_add_text(&z, "changelog.md", "# Changelog\n");
    add_eigencomm_folder(&z, old, 0, 800);
    snprintf(a, sizeof(a), "eigencomm-old/%s.zip", old);
    snprintf(b, sizeof(b), "eigencomm-old-extracted/%s", old);
    write_tree(out, b, &z);
    out_zip(out, a, &z);
    snprintf(b, sizeof(b), "%s/at_command.binpkg", old);
    expect(a, b, "eigencomm", "EC800E", "CNLC", "BETA0003", "eigencomm-old");
    snprintf(a, sizeof(a), "eigencomm-old-extracted/%s", old);
    expect(a, b, "eigencomm", "EC800E", "CNLC", "BETA0003", "eigencomm-old");

    const char *nw = "QPY_OCPU_V0003_EC800E_CNLC_FW";
    struct zip inner = {0};
    zip_add_text(&inner, "platform_config.json", "{\"platform\": \"EIGEN\"}\n");
    add_eigencomm_folder(&inner, nw, 1, 900);
    snprintf(a, sizeof(a), "%s/changelog.md", nw);
    zip_add_text(&z, a, "# Changelog\n");
    snprintf(a, sizeof(a), "%s/%s.bin", nw, nw);
    zip_add_buf(&z, a, zip_build(&inner, 0));
    zip_free(&inner);
    snprintf(a, sizeof(a), "eigencomm-new/%s.zip", nw);
    out_zip(out, a, &z);
    snprintf(b, sizeof(b), "%s/%s.bin", nw, nw);
    expect(a, b, "eigencomm", "EC800E", "CNLC", "V0003", "eigencomm-new");
}

static void other_layouts(const char *out)
{
    struct zip z = {0};
    char a[256], b[256];
    /* EC200A: folder with the .blf and its images; also written extracted. */
    const char *ec = "QPY_OCPU_V0001_EC200A_EUAA_FW";
    snprintf(a, sizeof(a), "%s/%s.blf", ec, ec);
    char blfname[128];
    snprintf(blfname, sizeof(blfname), "%s.blf", ec);
    add_blf_folder(&z, ec, blfname, 1000);
    snprintf(b, sizeof(b), "%s/changelog.md", ec);
    zip_add_text(&z, b, "# Changelog\n");
    write_tree(out, "ec200a-extracted", &z);
    snprintf(b, sizeof(b), "ec200a/%s.zip", ec);
    out_zip(out, b, &z);
    expect(b, a, "asr1803", "EC200A", "EUAA", "V0001", "asr1803-blf");
    snprintf(b, sizeof(b), "ec200a-extracted/%s/%s.blf", ec, ec);
    snprintf(a, sizeof(a), "%s.blf", ec);
    expect(b, a, "asr1803", "EC200A", "EUAA", "V0001", "asr1803-blf");
    struct buf fbf = make_fbf(1100);
    write_file(out, "ec200a-fbf/QPY_OCPU_V0001_EC200A_EUAA_FW_BinFile.bin", fbf.p, fbf.len);
    buf_free(&fbf);
    expect("ec200a-fbf/QPY_OCPU_V0001_EC200A_EUAA_FW_BinFile.bin",
           "QPY_OCPU_V0001_EC200A_EUAA_FW_BinFile.bin", "asr1803", "EC200A", "EUAA", "V0001",
           "asr1803-fbf");

    /* BG95: platform_config.json + firmware folder with the update tree. */
    const char *bg = "QPY_OCPU_V0001_BG95M3_FW";
    zip_add_text(&z, "platform_config.json", "{\"platform\": \"MDM9X05\"}\n");
    add_bg95_tree(&z, bg, 1200);
    snprintf(a, sizeof(a), "%s/changelog.md", bg);
    zip_add_text(&z, a, "# Changelog\n");
    write_tree(out, "bg95-extracted", &z);
    snprintf(a, sizeof(a), "bg95/%s.zip", bg);
    out_zip(out, a, &z);
    snprintf(b, sizeof(b), "%s/update/firehose/partition.mbn", bg);
    expect(a, b, "qualcomm", "BG95M3", "", "V0001", "qualcomm-mbn");
    snprintf(a, sizeof(a), "bg95-extracted/%s/update/firehose/partition.mbn", bg);
    expect(a, "update/firehose/partition.mbn", "qualcomm", "BG95M3", "", "V0001", "qualcomm-mbn");

    /* Wi-Fi modules: the bare .bin, and the download zip around it. */
    const char *fc = "QPY_OCPU_V0001_FC41D_FW";
    struct buf bk = make_beken(4096, 1300);
    snprintf(a, sizeof(a), "fc41d/%s.bin", fc);
    write_file(out, a, bk.p, bk.len);
    snprintf(b, sizeof(b), "%s.bin", fc);
    expect(a, b, "beken", "FC41D", "", "V0001", "beken-bin");
    snprintf(a, sizeof(a), "%s/%s.bin", fc, fc);
    zip_add_buf(&z, a, bk);
    snprintf(a, sizeof(a), "%s/changelog.md", fc);
    zip_add_text(&z, a, "# Changelog\n");
    snprintf(b, sizeof(b), "fc41d/%s.zip", fc);
    out_zip(out, b, &z);
    snprintf(a, sizeof(a), "%s/%s.bin", fc, fc);
    expect(b, a, "beken", "FC41D", "", "V0001", "beken-bin");

    const char *fcm = "QPY_OCPU_V0001_FCM360W_FW";
    struct buf es = make_eswin(1400);
    snprintf(a, sizeof(a), "fcm360w/%s.bin", fcm);
    write_file(out, a, es.p, es.len);
    buf_free(&es);
    snprintf(b, sizeof(b), "%s.bin", fcm);
    expect(a, b, "eswin", "FCM360W", "", "V0001", "eswin-bin");

    /* Bare flashable files as users also pick them: the .bin out of each official zip. */
    {
        struct buf asr = make_asr_flashable_zip(1600);
        write_file(out, "direct/QPY_OCPU_BETA0002_EC800K_CNLC_FW.bin", asr.p, asr.len);
        buf_free(&asr);
        expect("direct/QPY_OCPU_BETA0002_EC800K_CNLC_FW.bin",
               "QPY_OCPU_BETA0002_EC800K_CNLC_FW.bin", "asr", "EC800K", "CNLC", "BETA0002",
               "asr-official");
        struct zip in = {0};
        zip_add_text(&in, "platform_config.json", "{\"platform\": \"unisoc\"}\n");
        mkpkg_fw_revision = "EC600UCNLCR03A01M08_OCPU_QPY_BETA0001";
        zip_add_buf(&in, "QPY_OCPU_BETA0001_EC600U_CNLC_FW.pac",
                    make_pac("UIX8910_MODEM", "8915DM_cat1_open", 1, 1610));
        mkpkg_fw_revision = NULL;
        struct buf b1 = zip_build(&in, 0);
        zip_free(&in);
        write_file(out, "direct/QPY_OCPU_BETA0001_EC600U_CNLC_FW.bin", b1.p, b1.len);
        buf_free(&b1);
        expect("direct/QPY_OCPU_BETA0001_EC600U_CNLC_FW.bin",
               "QPY_OCPU_BETA0001_EC600U_CNLC_FW.bin", "unisoc", "EC600U", "CNLC", "BETA0001",
               "unisoc-official-new");
        zip_add_text(&in, "platform_config.json", "{\"platform\": \"EIGEN\"}\n");
        add_eigencomm_folder(&in, "QPY_OCPU_V0003_EC800E_CNLC_FW", 1, 1620);
        struct buf b2 = zip_build(&in, 0);
        zip_free(&in);
        write_file(out, "direct/QPY_OCPU_V0003_EC800E_CNLC_FW.bin", b2.p, b2.len);
        buf_free(&b2);
        expect("direct/QPY_OCPU_V0003_EC800E_CNLC_FW.bin", "QPY_OCPU_V0003_EC800E_CNLC_FW.bin",
               "eigencomm", "EC800E", "CNLC", "V0003", "eigencomm-new");
        struct buf bp = make_binpkg("EC618_4M", 1630);
        write_file(out, "direct/QPY_BETA0003_EC800E_CNLC_FW/at_command.binpkg", bp.p, bp.len);
        buf_free(&bp);
        /* The bare binpkg names nothing: its folder does. */
        expect("direct/QPY_BETA0003_EC800E_CNLC_FW/at_command.binpkg", "at_command.binpkg",
               "eigencomm", "EC800E", "CNLC", "BETA0003", "eigencomm-old");
    }
    mkpkg_fw_revision = "EC200UCNAAR03A14M08_OCPU_QPY_V0001";
    struct buf pac = make_pac("UIX8910_MODEM", "8915DM_cat1_open", 1, 1500);
    mkpkg_fw_revision = NULL;
    write_file(out, "direct/QPY_OCPU_V0001_EC200U_CNAA_FW.pac", pac.p, pac.len);
    buf_free(&pac);
    expect("direct/QPY_OCPU_V0001_EC200U_CNAA_FW.pac", "QPY_OCPU_V0001_EC200U_CNAA_FW.pac",
           "unisoc", "EC200U", "CNAA", "V0001", "unisoc-official-old");
}

int mkpkg_bad(const char *out);

/* "QPY_OCPU_V0001_EC200U_CNAA_FW" -> version, series, sub-model; 0 or -1. */
static int split_firmware_name(const char *name, char *ver, char *series, char *sub)
{
    char tail[8];
    if (sscanf(name, "QPY_OCPU_%15[A-Z0-9]_%15[A-Z0-9]_%7[A-Z0-9]_%7[A-Z]", ver, series, sub,
               tail) != 4 ||
        strcmp(tail, "FW") != 0)
        return -1;
    return 0;
}

/* --firmware NAME OUTDIR: one package for a production-flow test, named after the firmware
 * the way Quectel names official releases, whose application image carries the revision a
 * module reports after booting it (SERIES SUB R01A01M08 _OCPU_QPY_ VERSION). Unisoc series
 * get a bare .pac, EC200A a bare FBF container (<NAME>_BinFile.bin, mkpkg_fbf.c), the others
 * (ASR Crane) a flashable zip. Prints the path.
 * With --image-mb N (mkpkg_main_image_bytes) the main image (PAC AP, FBF first image, Crane
 * cp.bin) is N MiB of incompressible data, for throughput runs; the device then needs a flash
 * of mkpkg_flash_size() bytes, printed to stderr (a Crane model's flash_size must equal it). */
static int one_firmware(const char *name, const char *out)
{
    char ver[16], series[16], sub[8], rev[96], rel[256];
    if (split_firmware_name(name, ver, series, sub) < 0) {
        fprintf(stderr, "flashrack-mkpkg: '%s' is not QPY_OCPU_<VER>_<SERIES>_<SUB>_FW\n", name);
        return 2;
    }
    snprintf(rev, sizeof(rev), "%s%sR01A01M08_OCPU_QPY_%s", series, sub, ver);
    mkpkg_fw_revision = rev;
    uint32_t seed = 0;
    for (const char *p = name; *p; p++)
        seed = seed * 31u + (uint8_t)*p;
    int unisoc8910 = !strncmp(series, "EC200U", 6) || !strncmp(series, "EC600U", 6) ||
                     !strncmp(series, "EG915U", 6) || !strncmp(series, "EG912U", 6);
    int unisoc8850 = !strncmp(series, "EC600G", 6) || !strncmp(series, "EC800G", 6);
    struct buf b;
    if (!strcmp(series, "EC200A")) {
        /* the bare FBF container: the form the EC200A driver flashes (asr1803-fbf) */
        b = make_fbf_firmware(seed);
        snprintf(rel, sizeof(rel), "%s_BinFile.bin", name);
    } else if (unisoc8910 || unisoc8850) {
        b = unisoc8910 ? make_pac("UIX8910_MODEM", "8915DM_cat1_open", 1, seed)
                       : make_pac_8850("UIS8850_MODEM", "8850DG_cat1_open", 1, seed);
        snprintf(rel, sizeof(rel), "%s.pac", name);
    } else {
        b = make_asr_flashable_zip(seed);
        snprintf(rel, sizeof(rel), "%s.zip", name);
    }
    write_file(out, rel, b.p, b.len);
    buf_free(&b);
    printf("%s/%s\n", out, rel);
    if (mkpkg_main_image_bytes)
        fprintf(stderr, "flashrack-mkpkg: %s: main image %zu bytes, device flash_size=0x%x\n", rel,
                mkpkg_main_image_bytes, mkpkg_flash_size());
    return 0;
}

/* --image-mb N: 1..MKPKG_IMAGE_MB_MAX whole mebibytes; -1 when s is anything else. */
#define MKPKG_IMAGE_MB_MAX 200 /* the flash it needs (mkpkg_flash_size) stays <= 256 MiB */
static long image_mb(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    return *s >= '0' && *s <= '9' && !*end && v >= 1 && v <= MKPKG_IMAGE_MB_MAX ? v : -1;
}

int main(int argc, char **argv)
{
    if ((argc == 4 || argc == 6) && strcmp(argv[1], "--firmware") == 0) {
        if (argc == 6) {
            long mb = strcmp(argv[4], "--image-mb") == 0 ? image_mb(argv[5]) : -1;
            if (mb < 0) {
                fprintf(stderr, "flashrack-mkpkg: expected --image-mb N (1..%d), got '%s %s'\n",
                        MKPKG_IMAGE_MB_MAX, argv[4], argv[5]);
                return 2;
            }
            mkpkg_main_image_bytes = (size_t)mb << 20;
        }
        return one_firmware(argv[2], argv[3]);
    }
    if (argc != 2) {
        fprintf(stderr, "usage: flashrack-mkpkg OUTDIR\n"
                        "       flashrack-mkpkg --firmware QPY_OCPU_<VER>_<SERIES>_<SUB>_FW OUTDIR"
                        " [--image-mb N]\n");
        return 2;
    }
    const char *out = argv[1];
    write_file(out, "MANIFEST", (const uint8_t *)"", 0);
    char path[4096];
    snprintf(path, sizeof(path), "%s/MANIFEST", out);
    manifest = fopen(path, "w");
    if (!manifest) {
        perror(path);
        return 1;
    }
    asr_layouts(out);
    unisoc_layouts(out);
    eigencomm_layouts(out);
    other_layouts(out);
    fclose(manifest);
    return mkpkg_bad(out);
}
