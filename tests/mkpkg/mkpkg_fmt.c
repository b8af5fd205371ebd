/* mkpkg: writers for every firmware format, from ../shared/protocols/ notes:
 * PAC (unisoc.md §5), ASR zip (asr.md §2.7-2.10), binpkg (eigencomm.md §7), BLF/FBF
 * (asr.md §3.5-3.7), BG95 update tree (qualcomm-wifi.md A.4-A.5), Beken and ESWIN images
 * (qualcomm-wifi.md B.2-B.3). */
#include "mkpkg.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static uint16_t crc16_arc(const uint8_t *p, size_t n)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0xA001) : (uint16_t)(crc >> 1);
    }
    return crc;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void put_utf16(uint8_t *p, size_t cap, const char *s)
{
    for (size_t i = 0; s[i] && 2 * i + 1 < cap; i++)
        p[2 * i] = (uint8_t)s[i];
}

/* ---- the main image's size (mkpkg_main_image_bytes) ---------------------------------------- */

#define PAC_AP_REGION 0x400000u /* the AP region of the default PAC */
#define ASR_CP_PART   0x300000u /* the cp partition of the default Crane table */

/* How far the regions after the main image move so that it fits: 0 while it fits the
 * default region, else its size rounded up to 1 MiB minus that region. */
static uint32_t main_shift(uint32_t region)
{
    size_t n = mkpkg_main_image_bytes;
    if (n <= region)
        return 0;
    return (uint32_t)((n + 0xFFFFFu) / 0x100000u * 0x100000u) - region;
}

uint32_t mkpkg_flash_size(void)
{
    /* the ends of the last region: PAC PY_FS_U (0x60c00000 + 1 MiB), Crane nvm */
    uint32_t pac_end = 0xD00000u + main_shift(PAC_AP_REGION);
    uint32_t asr_end = 0xFE0000u + main_shift(ASR_CP_PART);
    uint32_t need = pac_end > asr_end ? pac_end : asr_end, size = 0x1000000u;
    while (size < need)
        size *= 2;
    return size;
}

/* ---- Unisoc PAC ------------------------------------------------------------------------ */

struct pac_file {
    const char *id, *name, *type, *block;
    uint32_t addr, maxsize, flag;
    struct buf data;
};

/* fdl1_id: "HOST_FDL" for the UIS8910DM (loaded through the PDL ROM), "FDL" for the classic
 * ROM of the UIS8850 (loaded over BSL). */
static struct buf make_pac_fdl(const char *product, const char *alias, int with_app, uint32_t seed,
                               const char *fdl1_id)
{
    struct pac_file f[8];
    size_t n = 0;
    /* the AP image is the main one: with mkpkg_main_image_bytes its region grows and PS and
     * PY_FS_U move up by as much (their regions must not overlap it) */
    uint32_t shift = main_shift(PAC_AP_REGION), ap_max = PAC_AP_REGION + shift;
    uint32_t ps_at = 0x60500000 + shift, fs_at = 0x60c00000 + shift;
    size_t ap_len = mkpkg_main_image_bytes ? mkpkg_main_image_bytes : 20000;
    f[n++] = (struct pac_file){fdl1_id,  "fdl1.img", fdl1_id, NULL,
                               0x8000c0, 0xff40,     0x101,   random_image(3000, seed + 1)};
    f[n++] = (struct pac_file){"FDL2",   "fdl2.img", "FDL2", NULL,
                               0x810000, 0x30000,    0x101,  random_image(5000, seed + 2)};
    f[n++] = (struct pac_file){"BOOT",     "boot.img", "CODE", NULL,
                               0x60000000, 0x10000,    1,      random_image(6000, seed + 3)};
    f[n++] = (struct pac_file){"AP",       "ap.img", "CODE", NULL,
                               0x60010000, ap_max,   1,      firmware_image(ap_len, seed + 4)};
    f[n++] = (struct pac_file){"PS",  "modem.img", "CODE", NULL,
                               ps_at, 0x300000,    1,      random_image(16000, seed + 5)};
    f[n++] = (struct pac_file){"NV",       "nvitem.bin", "NV", "nv",
                               0xFFFFFFFF, 0x20000,      1,    random_image(4000, seed + 6)};
    if (with_app)
        f[n++] =
            (struct pac_file){"PY_FS_U", "customer_fs.img", "CODE2", "py_fs",
                              fs_at,     0x100000,          1,       random_image(8000, seed + 7)};
    struct buf xml = {0};
    buf_printf(&xml,
               "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<BMAConfig>\r\n <ProductList>\r\n"
               "  <Product name=\"%s\">\r\n   <SchemeName>%s</SchemeName>\r\n"
               "   <FlashTypeID>1</FlashTypeID>\r\n   <Mode>0</Mode>\r\n"
               "   <NVBackup backup=\"1\">\r\n    <NVItem name=\"Calibration\" backup=\"1\">"
               "<ID>0x1BF</ID><BackupFlag use=\"1\"><NVFlag name=\"Replace\" check=\"0\"/>"
               "</BackupFlag></NVItem>\r\n   </NVBackup>\r\n  </Product>\r\n </ProductList>\r\n"
               " <SchemeList>\r\n  <Scheme name=\"%s\">\r\n",
               product, product, product);
    for (size_t i = 0; i < n; i++) {
        buf_printf(&xml,
                   "   <File>\r\n    <ID>%s</ID>\r\n    <IDAlias>%s</IDAlias>\r\n"
                   "    <Type>%s</Type>\r\n",
                   f[i].id, f[i].id, f[i].type);
        if (f[i].block)
            buf_printf(&xml, "    <Block id=\"%s\">\r\n     <Base>0x%x</Base>\r\n", f[i].block,
                       f[i].addr);
        else
            buf_printf(&xml, "    <Block>\r\n     <Base>0x%x</Base>\r\n", f[i].addr);
        buf_printf(&xml,
                   "     <Size>0x%x</Size>\r\n    </Block>\r\n    <Flag>1</Flag>\r\n"
                   "    <CheckFlag>1</CheckFlag>\r\n    <Description>%s</Description>\r\n"
                   "   </File>\r\n",
                   f[i].maxsize, f[i].name);
    }
    buf_printf(&xml, "  </Scheme>\r\n </SchemeList>\r\n</BMAConfig>\r\n");
    size_t count = n + 1;
    size_t table = 0x84C, data_at = table + count * 0xA14;
    struct buf pac = {0};
    buf_zero(&pac, data_at);
    char xmlname[160];
    snprintf(xmlname, sizeof(xmlname), "%s.xml", product);
    for (size_t i = 0; i < count; i++) {
        uint8_t *e = pac.p + table + i * 0xA14;
        const struct buf *d = i < n ? &f[i].data : &xml;
        put_le32(e, 0xA14);
        put_utf16(e + 0x004, 512, i < n ? f[i].id : "");
        put_utf16(e + 0x204, 512, i < n ? f[i].name : xmlname);
        put_le32(e + 0x604, (uint32_t)d->len);
        put_le32(e + 0x608, i < n ? f[i].flag : 2);
        put_le32(e + 0x60C, 1);
        put_le32(e + 0x610, (uint32_t)pac.len);
        put_le32(e + 0x618, i < n ? 1 : 0);
        put_le32(e + 0x61C, i < n && f[i].addr != 0xFFFFFFFF ? f[i].addr : 0);
        buf_put(&pac, d->p, d->len);
        e = pac.p + table + i * 0xA14; /* buf_put may have moved the buffer */
        (void)e;
    }
    uint8_t *h = pac.p;
    put_utf16(h, 48, "BP_R1.0.0");
    put_le32(h + 0x030, (uint32_t)pac.len);
    put_utf16(h + 0x034, 512, product);
    put_utf16(h + 0x234, 512, "8910 MODULE");
    put_le32(h + 0x434, (uint32_t)count);
    put_le32(h + 0x438, (uint32_t)table);
    put_le32(h + 0x440, 1);
    put_le32(h + 0x448, 1);
    put_utf16(h + 0x450, 200, alias);
    put_le32(h + 0x51C, 1);
    put_le32(h + 0x520, 1);
    put_le32(h + 0x844, 0xFFFAFFFA);
    uint16_t c1 = crc16_arc(h, 0x848);
    uint16_t c2 = crc16_arc(h + 0x84C, pac.len - 0x84C);
    h[0x848] = (uint8_t)c1;
    h[0x849] = (uint8_t)(c1 >> 8);
    h[0x84A] = (uint8_t)c2;
    h[0x84B] = (uint8_t)(c2 >> 8);
    for (size_t i = 0; i < n; i++)
        buf_free(&f[i].data);
    buf_free(&xml);
    return pac;
}

struct buf make_pac(const char *product, const char *alias, int with_app, uint32_t seed)
{
    return make_pac_fdl(product, alias, with_app, seed, "HOST_FDL");
}

struct buf make_pac_8850(const char *product, const char *alias, int with_app, uint32_t seed)
{
    return make_pac_fdl(product, alias, with_app, seed, "FDL");
}

/* ---- ASR Crane flashable zip ---------------------------------------------------------- */

static const struct {
    const char *name, *type;
    uint32_t off, size, len, level;
} asr_parts[] = {
    {"all", "group", 0, 0x1000000, 0, 0},         {"external", "group", 0, 0x1000000, 0, 1},
    {"bootloader", "ubi", 0, 0x24000, 0, 2},      {"system", "part", 0x24000, 0x497000, 0, 2},
    {"ptable", "raw", 0x24000, 0x1000, 0x88C, 3}, {"rd", "raw", 0x28000, 0x10000, 0, 3},
    {"cp", "flash", 0x40000, 0x300000, 0, 3},     {"dsp", "flash", 0x340000, 0x100000, 0, 3},
    {"rfbin", "raw", 0x440000, 0x20000, 0, 3},    {"user_app", "raw", 0x630000, 0x100000, 0, 2},
    {"user_fs", "raw", 0x730000, 0x200000, 0, 2}, {"nvm", "raw", 0xF60000, 0x80000, 0, 2},
};

/* The table with a cp partition that holds mkpkg_main_image_bytes: cp and its parent
 * `system` grow, the partitions after cp move up, the groups span the whole flash. */
static struct buf make_ptable(void)
{
    uint32_t shift = main_shift(ASR_CP_PART), flash = mkpkg_flash_size();
    struct buf b = {0};
    buf_zero(&b, 0x88C);
    memcpy(b.p, "BTPA", 4);
    size_t n = sizeof(asr_parts) / sizeof(asr_parts[0]);
    put_le32(b.p + 4, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        uint8_t *e = b.p + 8 + 68 * i;
        const char *name = asr_parts[i].name;
        uint32_t off = asr_parts[i].off, size = asr_parts[i].size;
        if (asr_parts[i].level < 2)
            size = flash;
        else if (!strcmp(name, "system") || !strcmp(name, "cp"))
            size += shift;
        else if (off > 0x40000) /* after cp */
            off += shift;
        memcpy(e, name, strlen(name));
        memcpy(e + 32, asr_parts[i].type, strlen(asr_parts[i].type));
        put_le32(e + 48, off);
        put_le32(e + 52, size);
        put_le32(e + 56, asr_parts[i].level ? 0x80000000u + off : 0xFFFFFFFFu);
        put_le32(e + 60, asr_parts[i].len);
        put_le32(e + 64, asr_parts[i].level);
    }
    put_le32(b.p + 0x888, (uint32_t)crc32(0L, b.p, 0x888));
    return b;
}

static struct buf make_flashinfo(void)
{
    static const struct {
        uint32_t id;
        const char *name;
    } parts[] = {{0x601800C8, "GD25LQ128D"}, {0x6018201C, "EN25SX128A"}, {0x60182085, "P25Q128L"}};
    struct buf b = {0};
    buf_zero(&b, 0x90 + 72 * 3);
    memcpy(b.p, "FNIF", 4);
    put_le32(b.p + 4, parts[0].id);
    memcpy(b.p + 8, parts[0].name, strlen(parts[0].name));
    memcpy(b.p + 0x48, "QSPI_NOR", 8);
    const uint32_t geo[6] = {1, 0x1000, 0x100, 0x1000, 0x10000, 0};
    for (int i = 0; i < 6; i++)
        put_le32(b.p + 0x68 + 4 * i, geo[i]);
    put_le32(b.p + 0x80, mkpkg_flash_size());
    put_le32(b.p + 0x88, 0xFF);
    put_le32(b.p + 0x8C, 3);
    for (int i = 0; i < 3; i++) {
        put_le32(b.p + 0x90 + 72 * i, parts[i].id);
        memcpy(b.p + 0x90 + 72 * i + 8, parts[i].name, strlen(parts[i].name));
    }
    return b;
}

/* ARM Trusted-Firmware FIP: ToC header, BL2 and certificate entries, terminator. */
static struct buf make_fip(uint32_t seed)
{
    static const uint8_t bl2[16] = {0x5f, 0xf9, 0xec, 0x0b, 0x4d, 0x22, 0x3e, 0x4d,
                                    0xa5, 0x44, 0xc3, 0x9d, 0x81, 0xc7, 0x3f, 0x0a};
    static const uint8_t cert[16] = {0xd6, 0xe2, 0x69, 0xea, 0x5d, 0x63, 0xe4, 0x11,
                                     0x8d, 0x8c, 0x9f, 0xba, 0xbe, 0x99, 0x56, 0xa5};
    uint32_t hdr = 16 + 3 * 40, bl2_len = 2048, cert_len = 512;
    struct buf b = {0};
    buf_le32(&b, 0xAA640001);
    buf_le32(&b, 0x12345678);
    buf_le32(&b, 0);
    buf_le32(&b, 1);
    const uint8_t *uu[2] = {bl2, cert};
    uint32_t off[3] = {hdr, hdr + bl2_len, hdr + bl2_len + cert_len}, len[2] = {bl2_len, cert_len};
    for (int i = 0; i < 2; i++) {
        buf_put(&b, uu[i], 16);
        buf_le32(&b, off[i]), buf_le32(&b, 0);
        buf_le32(&b, len[i]), buf_le32(&b, 0);
        buf_zero(&b, 8);
    }
    buf_zero(&b, 16);
    buf_le32(&b, off[2]), buf_le32(&b, 0);
    buf_zero(&b, 16);
    struct buf body = random_image(bl2_len + cert_len, seed);
    body.p[bl2_len] = 0x30; /* DER SEQUENCE */
    buf_put(&b, body.p, body.len);
    buf_free(&body);
    return b;
}

void add_asr_flashable(struct zip *z, const char *prefix, uint32_t seed)
{
    static const struct {
        const char *file, *part;
        size_t size;
    } imgs[] = {{"bootloader.ubi", "bootloader", 4096},
                {"ReliableData.bin", "rd", 4096},
                {"cp.bin", "cp", 24000},
                {"dsp.bin", "dsp", 8000},
                {"rf.bin", "rfbin", 2048},
                {"customer_app.bin", "user_app", 8192},
                {"customer_fs.bin", "user_fs", 0}};
    char path[256];
    /* cp.bin is the main image (mkpkg_main_image_bytes) */
    size_t cp_len = mkpkg_main_image_bytes ? mkpkg_main_image_bytes : 24000;
    struct buf json = {0};
    buf_printf(&json, "[\n  {\"command\": \"require\", \"group\": \"0\", \"name\": \"product\", "
                      "\"value\": \"arom-tiny\"},\n"
                      "  {\"command\": \"require\", \"group\": \"0\", \"name\": \"version\", "
                      "\"value\": \"0.5|0.6\"},\n"
                      "  {\"command\": \"progress\", \"group\": \"0\", \"name\": \"weight\", "
                      "\"value\": 124000},\n"
                      "  {\"command\": \"call\", \"group\": \"0\", \"image\": \"preboot.img\"},\n"
                      "  {\"command\": \"call\", \"group\": \"0\", \"image\": \"flasher.img\"},\n"
                      "  {\"command\": \"partition\", \"group\": \"0\", \"image\": "
                      "\"flashinfo.bin\"},\n"
                      "  {\"command\": \"partition\", \"group\": \"0\", \"image\": "
                      "\"partition.bin\"},\n"
                      "  {\"command\": \"flash\", \"group\": \"1\", \"image\": \"partition.bin\", "
                      "\"partition\": \"ptable\", \"weight\": 2188},\n");
    for (size_t i = 0; i < sizeof(imgs) / sizeof(imgs[0]); i++) {
        size_t weight = imgs[i].size ? imgs[i].size : 65536;
        if (!strcmp(imgs[i].part, "cp"))
            weight = cp_len;
        buf_printf(&json,
                   "  {\"command\": \"flash\", \"group\": \"1\", \"image\": \"%s\", "
                   "\"partition\": \"%s\", \"weight\": %zu},\n",
                   imgs[i].file, imgs[i].part, weight);
    }
    buf_printf(&json, "  {\"command\": \"erase\", \"group\": \"1\", \"partition\": \"nvm\", "
                      "\"weight\": 1000}\n]\n");
#define P(name) (snprintf(path, sizeof(path), "%s%s", prefix, name), path)
    zip_add_buf(z, P("bootloader.ubi"), random_image(4096, seed + 10));
    zip_add_buf(z, P("cp.bin"), firmware_image(cp_len, seed + 11));
    zip_add_buf(z, P("customer_app.bin"), random_image(8192, seed + 12));
    struct buf fs = {0};
    buf_zero(&fs, 65536);
    memset(fs.p, 0xFF, fs.len);
    zip_add_buf(z, P("customer_fs.bin"), fs);
    zip_add_buf(z, P("download.json"), json);
    zip_add_buf(z, P("dsp.bin"), random_image(8000, seed + 13));
    struct buf fw = {0};
    buf_printf(&fw, "!CRANE!%08x\ngetvar:product\nOKAYarom-tiny\n", 41u);
    zip_add_buf(z, P("firmware.bin"), fw);
    zip_add_buf(z, P("flasher.img"), make_fip(seed + 14));
    zip_add_buf(z, P("flashinfo.bin"), make_flashinfo());
    zip_add_text(z, P("fota.json"),
                 "{\"fota\": {\"version\": \"1.0\", \"image\": \"system.img\"}}\n");
    zip_add_buf(z, P("partition.bin"), make_ptable());
    zip_add_buf(z, P("preboot.img"), make_fip(seed + 15));
    zip_add_buf(z, P("ReliableData.bin"), random_image(4096, seed + 16));
    zip_add_buf(z, P("rf.bin"), random_image(2048, seed + 17));
    zip_add_buf(z, P("system.img"), random_image(6000, seed + 18));
#undef P
}

struct buf make_asr_flashable_zip(uint32_t seed)
{
    struct zip z = {0};
    add_asr_flashable(&z, "", seed);
    struct buf out = zip_build(&z, 0);
    zip_free(&z);
    return out;
}
