/* Blobs a Crane host sends, built by hand from the notes (asr.md §2.6, §2.8–§2.10) for the
 * model's own tests (../test_sim_asr*.c). Not used by the model. Header-only (static inline)
 * so each test program takes what it needs. */
#ifndef FLASHRACK_SIM_ASR_FIXTURES_H
#define FLASHRACK_SIM_ASR_FIXTURES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline void fx_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void fx_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void fx_le64(uint8_t *p, uint64_t v)
{
    fx_le32(p, (uint32_t)v);
    fx_le32(p + 4, (uint32_t)(v >> 32));
}

/* Table-driven CRC-32 (zlib), a different implementation from the model's. */
static inline uint32_t fx_crc32(uint32_t crc, const uint8_t *p, size_t n)
{
    static uint32_t table[256];
    static bool ready;
    if (!ready) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        ready = true;
    }
    crc ^= 0xFFFFFFFFu;
    while (n--)
        crc = table[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return crc ^ 0xFFFFFFFFu;
}

static inline void fx_fill(uint8_t *p, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (uint8_t)(seed >> 16);
    }
    if (n >= 2) {
        p[0] = 0x7E; /* always something to escape */
        p[1] = 0x7D;
    }
}

/* flashinfo.bin (§2.9): default JEDEC id ids[0], m compatible parts ids[0..m). */
static inline size_t fx_fnif(uint8_t *b, const uint32_t *ids, uint32_t m, uint32_t flash_size)
{
    size_t n = 0x90 + 72 * (size_t)m;
    memset(b, 0, n);
    memcpy(b, "FNIF", 4);
    fx_le32(b + 4, ids[0]);
    memcpy(b + 8, "GD25LQ128D", 10);
    memcpy(b + 0x48, "QSPI_NOR", 8);
    const uint32_t geo[6] = {1, 0x1000, 0x100, 0x1000, 0x10000, 0};
    for (int i = 0; i < 6; i++)
        fx_le32(b + 0x68 + 4 * i, geo[i]);
    fx_le32(b + 0x80, flash_size);
    fx_le32(b + 0x88, 0xFF);
    fx_le32(b + 0x8C, m);
    for (uint32_t i = 0; i < m; i++) {
        fx_le32(b + 0x90 + 72 * i, ids[i]);
        memcpy(b + 0x90 + 72 * i + 8, "PART", 4);
    }
    return n;
}

struct fx_part {
    const char *name, *type;
    uint32_t off, size, len, level;
};

/* The 16 MB layout of the notes (§2.8), shortened; *n gets the entry count. */
static inline const struct fx_part *fx_layout(size_t *n)
{
    static const struct fx_part parts[] = {
        {"all", "group", 0, 0x1000000, 0, 0},          {"external", "group", 0, 0x1000000, 0, 1},
        {"bootloader", "ubi", 0, 0x24000, 0, 2},       {"system", "part", 0x24000, 0x497000, 0, 2},
        {"ptable", "raw", 0x24000, 0x1000, 0x88C, 3},  {"rd", "raw", 0x28000, 0x10000, 0, 3},
        {"cp", "flash", 0x40000, 0x300000, 0, 3},      {"dsp", "flash", 0x340000, 0x100000, 0, 3},
        {"user_app", "raw", 0x630000, 0x100000, 0, 2}, {"user_fs", "raw", 0x730000, 0x200000, 0, 2},
        {"nvm", "raw", 0xF60000, 0x80000, 0, 2},
    };
    *n = sizeof(parts) / sizeof(parts[0]);
    return parts;
}

/* partition.bin (§2.8): 0x88C bytes with the CRC-32 at 0x888. */
static inline size_t fx_btpa(uint8_t *b, const struct fx_part *parts, size_t n)
{
    memset(b, 0, 0x88C);
    memcpy(b, "BTPA", 4);
    fx_le32(b + 4, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        uint8_t *e = b + 8 + 68 * i;
        memcpy(e, parts[i].name, strlen(parts[i].name));
        memcpy(e + 32, parts[i].type, strlen(parts[i].type));
        fx_le32(e + 48, parts[i].off);
        fx_le32(e + 52, parts[i].size);
        fx_le32(e + 56, parts[i].level ? 0x80000000u + parts[i].off : 0xFFFFFFFFu);
        fx_le32(e + 60, parts[i].len);
        fx_le32(e + 64, parts[i].level);
    }
    fx_le32(b + 0x888, fx_crc32(0, b, 0x888));
    return 0x88C;
}

/* A FIP (§2.10): ToC, BL2 and certificate entries, terminator. Set drop_bl2/drop_cert to leave
 * one out. */
static inline size_t fx_fip(uint8_t *b, uint32_t seed, bool drop_bl2, bool drop_cert)
{
    static const uint8_t bl2[16] = {0x5f, 0xf9, 0xec, 0x0b, 0x4d, 0x22, 0x3e, 0x4d,
                                    0xa5, 0x44, 0xc3, 0x9d, 0x81, 0xc7, 0x3f, 0x0a};
    static const uint8_t cert[16] = {0xd6, 0xe2, 0x69, 0xea, 0x5d, 0x63, 0xe4, 0x11,
                                     0x8d, 0x8c, 0x9f, 0xba, 0xbe, 0x99, 0x56, 0xa5};
    const uint32_t bl2_len = 1500, cert_len = 700;
    const uint8_t *uu[2] = {bl2, cert};
    uint32_t len[2] = {bl2_len, cert_len};
    bool drop[2] = {drop_bl2, drop_cert};
    uint32_t entries = (drop_bl2 ? 0 : 1) + (drop_cert ? 0 : 1);
    uint32_t off = 16 + 40 * (entries + 1);
    size_t w = 16;
    memset(b, 0, 16);
    fx_le32(b, 0xAA640001u);
    fx_le32(b + 4, 0x12345678u);
    fx_le64(b + 8, 0x100000000ull);
    for (int i = 0; i < 2; i++) {
        if (drop[i])
            continue;
        memcpy(b + w, uu[i], 16);
        fx_le64(b + w + 16, off);
        fx_le64(b + w + 24, len[i]);
        fx_le64(b + w + 32, 0);
        fx_fill(b + off, len[i], seed + (uint32_t)i);
        if (i == 1)
            b[off] = 0x30; /* DER SEQUENCE */
        off += len[i];
        w += 40;
    }
    memset(b + w, 0, 40);
    fx_le64(b + w + 16, off);
    return off;
}

/* One ASR sparse segment (§2.6): [DONT_CARE start_blk] + RAW(img, padded with pad to whole
 * blocks) + [DONT_CARE up to total_blk] + CRC32 (xor-ed with crc_xor to break it). */
static inline size_t fx_sparse(uint8_t *b, const uint8_t *img, size_t len, uint32_t start_blk,
                               uint32_t total_blk, uint8_t pad, uint32_t crc_xor)
{
    uint32_t raw_blk = (uint32_t)((len + 4095) / 4096);
    uint32_t tail = total_blk - start_blk - raw_blk;
    uint32_t chunks = 2 + (start_blk ? 1 : 0) + (tail ? 1 : 0);
    memset(b, 0, 32);
    fx_le32(b, 0xED26FF3Au);
    fx_le16(b + 4, 1);
    fx_le16(b + 6, 0);
    fx_le16(b + 8, 32);
    fx_le16(b + 10, 16);
    fx_le32(b + 12, 4096);
    fx_le32(b + 16, total_blk);
    fx_le32(b + 20, chunks);
    size_t w = 32;
    if (start_blk) {
        memset(b + w, 0, 16);
        fx_le16(b + w, 0xCAC3);
        fx_le32(b + w + 4, start_blk);
        fx_le32(b + w + 8, 16);
        w += 16;
    }
    memset(b + w, 0, 16);
    fx_le16(b + w, 0xCAC1);
    fx_le32(b + w + 4, raw_blk);
    fx_le32(b + w + 8, 16 + raw_blk * 4096);
    w += 16;
    memcpy(b + w, img, len);
    memset(b + w + len, pad, raw_blk * 4096 - len);
    uint32_t crc = fx_crc32(0, b + w, raw_blk * 4096);
    w += raw_blk * 4096;
    if (tail) {
        memset(b + w, 0, 16);
        fx_le16(b + w, 0xCAC3);
        fx_le32(b + w + 4, tail);
        fx_le32(b + w + 8, 16);
        w += 16;
    }
    memset(b + w, 0, 20);
    fx_le16(b + w, 0xCAC4);
    fx_le32(b + w + 8, 20);
    fx_le32(b + w + 16, crc ^ crc_xor);
    return w + 20;
}

#endif
