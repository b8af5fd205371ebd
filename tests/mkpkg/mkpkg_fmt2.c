/* mkpkg: Eigencomm binpkg and firmware folders, EC200A BLF/FBF, BG95 update tree, Beken and
 * ESWIN images (see mkpkg_fmt.c for the sources). */
#include "mkpkg.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void put_str(struct buf *b, const char *s, size_t field)
{
    size_t n = strlen(s);
    buf_put(b, s, n < field ? n : field);
    if (n < field)
        buf_zero(b, field - n);
}

/* ---- Eigencomm ------------------------------------------------------------------------- */

struct buf make_binpkg(const char *product, uint32_t seed)
{
    static const struct {
        const char *name, *type;
        uint32_t addr, region, size;
    } e[] = {{"ap_bootloader", "BL", 0x804000, 0x20000, 4096},
             {"ap_at_command", "AP", 0x824000, 0x300000, 24000},
             {"cp-demo-flash", "CP", 0x8800000, 0x100000, 16000}};
    struct buf b = {0};
    put_str(&b, "V1.0", 8);
    buf_le32(&b, 0x4B504345); /* magic: value unknown in public sources (eigencomm.md §11) */
    buf_le32(&b, 0x20240501);
    buf_le32(&b, 3);
    buf_zero(&b, 8);
    buf_le16(&b, 3);
    buf_le16(&b, 3 * 140);
    buf_zero(&b, 16);
    buf_le32(&b, 0);
    /* Variant records: pkgmode (ATTRVAL), two ATTRSTRs; the third's string sits at 0x190. */
    buf_le16(&b, 1), buf_le16(&b, 0), put_str(&b, "pkgmode", 64), buf_le32(&b, 1);
    buf_zero(&b, 136 - 68);
    buf_le16(&b, 2), buf_le16(&b, 0), put_str(&b, "pkgver", 64), put_str(&b, "1.0", 64);
    buf_zero(&b, 136 - 128);
    buf_le16(&b, 2), buf_le16(&b, 0), put_str(&b, "productname", 64), put_str(&b, product, 64);
    buf_zero(&b, 136 - 128);
    for (size_t i = 0; i < 3; i++) {
        struct buf img = random_image(e[i].size, seed + (uint32_t)i);
        unsigned char md[32];
        unsigned int mdlen = 0;
        EVP_Digest(img.p, img.len, md, &mdlen, EVP_sha256(), NULL);
        char hex[65];
        for (int k = 0; k < 32; k++)
            snprintf(hex + 2 * k, 3, "%02X", md[k]);
        put_str(&b, e[i].name, 64);
        buf_le32(&b, e[i].addr);
        buf_le32(&b, e[i].region);
        buf_le32(&b, 0);
        buf_le32(&b, e[i].size);
        put_str(&b, hex, 256);
        put_str(&b, e[i].type, 16);
        buf_le16(&b, 0), buf_le16(&b, 0);
        buf_le32(&b, 0), buf_le32(&b, 0);
        buf_put(&b, img.p, img.len);
        buf_free(&img);
    }
    return b;
}

void add_eigencomm_folder(struct zip *z, const char *dir, int new_style, uint32_t seed)
{
    char p[512];
#define P(name) (snprintf(p, sizeof(p), "%s/%s", dir, name), p)
    zip_add_dir(z, P(""));
    zip_add_dir(z, P("agentboot_uart/"));
    zip_add_buf(z, P("agentboot_uart/agentboot.bin"), random_image(3000, seed + 1));
    zip_add_dir(z, P("agentboot_usb/"));
    zip_add_buf(z, P("agentboot_usb/agentboot.bin"), random_image(3000, seed + 2));
    if (new_style) {
        zip_add_dir(z, P("single_pkg/"));
        zip_add_buf(z, P("single_pkg/ap_at_command.bin"), random_image(24000, seed + 3));
        zip_add_buf(z, P("single_pkg/cp-demo-flash.bin"), random_image(16000, seed + 4));
        zip_add_buf(z, P("allpkg_qdownload_image.bin"), random_image(5000, seed + 5));
        zip_add_buf(z, P("apcp_app_qdownload_image.bin"), random_image(5000, seed + 6));
        zip_add_buf(z, P("apcp_qdownload_image.bin"), random_image(5000, seed + 7));
    }
    zip_add_buf(z, P("ap_application.bin"), random_image(6000, seed + 8));
    zip_add_buf(z, P("ap_updater.bin"), random_image(3000, seed + 9));
    zip_add_buf(z, P("at_command.binpkg"), make_binpkg("EC618_4M", seed + 10));
    struct buf fs = {0};
    buf_zero(&fs, 32768);
    memset(fs.p, 0xFF, fs.len);
    zip_add_buf(z, P("customer_backup_fs.bin"), fs);
    zip_add_buf(z, P("customer_fs.bin"), random_image(4096, seed + 11));
    zip_add_text(z, P("format_ec618.json"),
                 "{\"fs\": {\"begin\": \"0xB84000\", \"length\": \"294912\"},\n"
                 " \"cal\": [{\"stor_type\": \"cp_flash\", \"offst_flag\": \"1\", "
                 "\"begin\": \"0xE7000\", \"length\": \"0x19000\"}]}\n");
    zip_add_buf(z, P("MergeRfTable.bin"), random_image(2000, seed + 12));
    zip_add_text(
        z, P("quec_download_config.ini"),
        "[File]\r\nFile_Count=4\r\n[File_1]\r\nSTART_ADDR=0x200000\r\nMAX_SIZE=0x1B4000\r\n"
        "[File_2]\r\nSTART_ADDR=0x3B4000\r\nMAX_SIZE=0x20000\r\n[File_3]\r\n"
        "START_ADDR=0x3D4000\r\nMAX_SIZE=0x10000\r\n[File_4]\r\nSTART_ADDR=0x3E4000\r\n"
        "MAX_SIZE=0x10000\r\n");
    zip_add_text(z, P("quec_download_uart.ini"), "[config]\r\nagbaud=921600\r\n");
    zip_add_text(z, P("quec_download_usb.ini"), "[config]\r\nusb_enable=1\r\n");
    if (new_style)
        zip_add_buf(z, P("quec_usb_prog_pkg.bin"), random_image(4000, seed + 13));
#undef P
}

/* ---- EC200A: BLF + images, FBF ---------------------------------------------------------- */

static const struct {
    const char *id, *file;
    uint32_t addr;
    size_t size;
} blf_imgs[] = {{"TIMH", "timheader.bin", 0x0, 1024},
                {"OBMI", "obm.bin", 0x20000, 6000},
                {"OSLO", "kernel.bin", 0x100000, 20000},
                {"ARBI", "cp.bin", 0x400000, 16000},
                {"RFBI", "rf.bin", 0x800000, 2000}};

void add_blf_folder(struct zip *z, const char *dir, const char *blfname, uint32_t seed)
{
    char p[512];
    size_t n = sizeof(blf_imgs) / sizeof(blf_imgs[0]);
    struct buf blf = {0};
    buf_printf(&blf,
               "[BLF_Version]\r\nBlf_Version_Number = V2.1.0\r\n[UE_Options]\r\n"
               "UE_Boot_Option = 0\r\n[Flash_Properties]\r\n"
               "Max_Upload_Split_Size = 0x4000000\r\n[Flash_Options]\r\n"
               "ProductionMode = 1\r\n[TIM_Configuration]\r\nVersion = 0x00030400\r\n"
               "Trusted = 0\r\nProcessor_Type = NEZHA3\r\nNumber_of_Images = %zu\r\n"
               "[Image_List]\r\n",
               n);
    for (size_t i = 0; i < n; i++)
        buf_printf(&blf,
                   "%zu_Image_Enable = 1\r\n%zu_Image_Image_ID = %s\r\n"
                   "%zu_Image_Path = images\\%s\r\n%zu_Image_Flash_Entry_Address = 0x%x\r\n"
                   "%zu_Image_Load_Address = 0xFFFFFFFF\r\n%zu_Image_Partition_Number = 0\r\n",
                   i + 1, i + 1, blf_imgs[i].id, i + 1, blf_imgs[i].file, i + 1, blf_imgs[i].addr,
                   i + 1, i + 1);
    snprintf(p, sizeof(p), "%s/%s", dir, blfname);
    zip_add_buf(z, p, blf);
    snprintf(p, sizeof(p), "%s/images/", dir);
    zip_add_dir(z, p);
    for (size_t i = 0; i < n; i++) {
        struct buf img = random_image(blf_imgs[i].size, seed + (uint32_t)i);
        if (i == 0) { /* a TIM header: version, "TIMH" */
            put_le32(img.p, 0x030400);
            memcpy(img.p + 4, "HMIT", 4);
        }
        snprintf(p, sizeof(p), "%s/images/%s", dir, blf_imgs[i].file);
        zip_add_buf(z, p, img);
    }
}

struct buf make_fbf(uint32_t seed)
{
    static const char *const names[] = {"DKB_timheader.bin", "Dkb.bin", "FBF_timheader.bin",
                                        "0x0808_FBF_h.bin", "FBF_Image.bin"};
    size_t n = sizeof(names) / sizeof(names[0]);
    uint32_t off[5], len[5];
    struct buf b = {0};
    for (size_t i = 0; i < n; i++) {
        struct buf img = random_image(1000 + 500 * i, seed + (uint32_t)i);
        off[i] = (uint32_t)b.len;
        len[i] = (uint32_t)img.len;
        buf_put(&b, img.p, img.len);
        buf_free(&img);
    }
    uint32_t dir = (uint32_t)b.len;
    buf_le32(&b, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        char full[128];
        snprintf(full, sizeof(full), "C:\\build\\FBF\\%s", names[i]);
        buf_le32(&b, (uint32_t)(2 * strlen(full)));
        for (const char *c = full; *c; c++)
            buf_le16(&b, (uint16_t)(unsigned char)*c);
        buf_le32(&b, off[i]), buf_le32(&b, off[i] + len[i]);
        buf_le32(&b, off[i] + len[i]), buf_le32(&b, off[i] + len[i]);
        buf_le32(&b, off[i] + len[i]), buf_le32(&b, off[i] + len[i]);
    }
    buf_le32(&b, dir);
    return b;
}

/* ---- BG95 update tree ----------------------------------------------------------------- */

void add_bg95_tree(struct zip *z, const char *dir, uint32_t seed)
{
    static const struct {
        const char *label, *file;
        unsigned start, sectors;
        size_t size;
    } prog[] = {{"sbl", "sbl1.mbn", 0, 320, 6000},
                {"tz", "tz.mbn", 320, 256, 5000},
                {"rpm", "rpm.mbn", 576, 64, 3000},
                {"aboot", "appsboot.mbn", 640, 64, 4000},
                {"modem", "NON-HLOS.ubi", 704, 8192, 30000}};
    char p[512];
    struct buf raw = {0};
    buf_printf(&raw, "<?xml version=\"1.0\" ?>\n<data>\n  <!--NOTE: generated by mkpkg-->\n");
    for (size_t i = 0; i < sizeof(prog) / sizeof(prog[0]); i++) {
        buf_printf(&raw,
                   "  <program SECTOR_SIZE_IN_BYTES=\"4096\" filename=\"%s\" label=\"%s\" "
                   "num_partition_sectors=\"%u\" physical_partition_number=\"0\" "
                   "start_sector=\"%u\"/>\n",
                   prog[i].file, prog[i].label, prog[i].sectors, prog[i].start);
        snprintf(p, sizeof(p), "%s/update/%s", dir, prog[i].file);
        struct buf img = random_image(prog[i].size, seed + (uint32_t)i);
        memcpy(img.p,
               "\x7f"
               "ELF",
               4);
        zip_add_buf(z, p, img);
    }
    buf_printf(&raw, "  <erase SECTOR_SIZE_IN_BYTES=\"4096\" label=\"efs2\" "
                     "num_partition_sectors=\"512\" start_sector=\"9000\"/>\n"
                     "  <erase label=\"all\" num_partition_sectors=\"65536\" start_sector=\"0\"/>\n"
                     "</data>\n");
    snprintf(p, sizeof(p), "%s/update/firehose/rawprogram_nand_p4K_b256K_update.xml", dir);
    zip_add_buf(z, p, raw);
    snprintf(p, sizeof(p), "%s/update/firehose/patch_p4K_b256K.xml", dir);
    zip_add_text(z, p,
                 "<?xml version=\"1.0\" ?>\n<patches>\n  <patch SECTOR_SIZE_IN_BYTES=\"4096\" "
                 "byte_offset=\"0\" filename=\"DISK\" physical_partition_number=\"0\" "
                 "size_in_bytes=\"4\" start_sector=\"0\" value=\"0\" what=\"nothing\"/>\n"
                 "</patches>\n");
    snprintf(p, sizeof(p), "%s/update/firehose/prog_nand_firehose_9x05.mbn", dir);
    struct buf prg = random_image(12000, seed + 20);
    memcpy(prg.p,
           "\x7f"
           "ELF",
           4);
    zip_add_buf(z, p, prg);
    /* partition.mbn: MBN v3 header (image id, header version 3) + table. */
    struct buf part = random_image(2048, seed + 21);
    put_le32(part.p, 0);
    put_le32(part.p + 4, 3);
    snprintf(p, sizeof(p), "%s/update/firehose/partition.mbn", dir);
    zip_add_buf(z, p, part);
    snprintf(p, sizeof(p), "%s/update/firehose/partition_complete_p4K_b256K.mbn", dir);
    zip_add_buf(z, p, random_image(2048, seed + 22));
}

/* ---- Wi-Fi images ------------------------------------------------------------------------ */

static uint16_t crc16_beken(const uint8_t *p, size_t n)
{
    uint16_t crc = 0xFFFF;
    for (size_t i = 0; i < n; i++) {
        crc ^= (uint16_t)(p[i] << 8);
        for (int k = 0; k < 8; k++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x8005) : (uint16_t)(crc << 1);
    }
    return crc;
}

/* All-in-one BK7231N flash image: bootloader region (0x11000 bytes = 2048 blocks of 32+2,
 * the first 300 used) then app_bytes of application, every block CRC-16 protected. */
struct buf make_beken(size_t app_bytes, uint32_t seed)
{
    size_t boot_blocks = 0x11000 / 34, app_blocks = app_bytes / 32;
    struct buf b = {0};
    uint8_t blk[34];
    for (size_t i = 0; i < boot_blocks + app_blocks; i++) {
        int blank = i >= 300 && i < boot_blocks;
        if (blank) {
            memset(blk, 0xFF, sizeof(blk));
        } else {
            fill_random(blk, 32, seed + (uint32_t)i);
            uint16_t c = crc16_beken(blk, 32);
            blk[32] = (uint8_t)(c >> 8);
            blk[33] = (uint8_t)c;
        }
        buf_put(&b, blk, sizeof(blk));
    }
    return b;
}

struct buf make_eswin(uint32_t seed)
{
    static const struct {
        uint8_t type;
        uint32_t addr, len;
    } rec[] = {{0, 0x10000, 4096}, {2, 0x0, 8192}, {2, 0x7000, 16384}};
    struct buf b = {0};
    buf_put(&b, "oneb", 4);
    uint8_t one = 1;
    buf_put(&b, &one, 1);
    for (size_t i = 0; i < sizeof(rec) / sizeof(rec[0]); i++) {
        buf_put(&b, &rec[i].type, 1);
        buf_le32(&b, rec[i].addr);
        buf_le32(&b, rec[i].len);
        struct buf img = random_image(rec[i].len, seed + (uint32_t)i);
        buf_put(&b, img.p, img.len);
        buf_free(&img);
    }
    return b;
}
