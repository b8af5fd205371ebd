/* The flasher's view of the module: NOR flash (pages allocated on first write), the flashinfo
 * probe (FNIF, notes §2.9), the partition table (BTPA, §2.8), the ASR sparse decoder (§2.6) and
 * Every blob comes from the host and is checked completely before anything changes. */
#include "asr/asr.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static int bad(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int bad(char *err, size_t err_len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

int sim_asr_flash_init(struct sim_asr_flash *f, uint32_t size, uint32_t jedec)
{
    memset(f, 0, sizeof(*f));
    if (size == 0 || size % ASR_BLOCK)
        return -EINVAL;
    f->pages = calloc(size / ASR_BLOCK, sizeof(*f->pages));
    if (!f->pages)
        return -ENOMEM;
    f->size = size;
    f->jedec = jedec;
    return 0;
}

void sim_asr_flash_free(struct sim_asr_flash *f)
{
    if (!f->pages)
        return;
    for (uint32_t i = 0; i < f->size / ASR_BLOCK; i++)
        free(f->pages[i]);
    free(f->pages);
    f->pages = NULL;
}

void sim_asr_flash_read(const struct sim_asr_flash *f, uint32_t addr, uint8_t *p, size_t n)
{
    while (n) {
        uint32_t pg = addr / ASR_BLOCK, in = addr % ASR_BLOCK;
        size_t k = ASR_BLOCK - in < n ? ASR_BLOCK - in : n;
        if (f->pages[pg])
            memcpy(p, f->pages[pg] + in, k);
        else
            memset(p, 0xFF, k);
        p += k;
        addr += (uint32_t)k;
        n -= k;
    }
}

/* Callers have checked that [addr, addr+n) lies inside the flash. */
static int flash_write(struct sim_asr_flash *f, uint32_t addr, const uint8_t *p, size_t n)
{
    while (n) {
        uint32_t pg = addr / ASR_BLOCK, in = addr % ASR_BLOCK;
        size_t k = ASR_BLOCK - in < n ? ASR_BLOCK - in : n;
        if (!f->pages[pg]) {
            f->pages[pg] = malloc(ASR_BLOCK);
            if (!f->pages[pg])
                return -ENOMEM;
            memset(f->pages[pg], 0xFF, ASR_BLOCK);
        }
        memcpy(f->pages[pg] + in, p, k);
        p += k;
        addr += (uint32_t)k;
        n -= k;
    }
    return 0;
}

/* ---- flashinfo.bin: flash_init + flash_probe ---- */

int sim_asr_flashinfo_apply(struct sim_asr_flash *f, const uint8_t *p, size_t n, char *err,
                            size_t err_len)
{
    if (n < 0x90 || memcmp(p, "FNIF", 4) != 0)
        return bad(err, err_len, "flashinfo: no FNIF header");
    uint32_t m = le32(p + 0x8C);
    if (m == 0 || m > ASR_FNIF_MAXM)
        return bad(err, err_len, "flashinfo: %" PRIu32 " compatible parts", m);
    if (n != 0x90 + 72 * (size_t)m)
        return bad(err, err_len, "flashinfo: %zu bytes for %" PRIu32 " parts (expected %zu)", n, m,
                   0x90 + 72 * (size_t)m);
    bool listed = le32(p + 4) == f->jedec;
    for (uint32_t i = 0; i < m && !listed; i++)
        listed = le32(p + 0x90 + 72 * i) == f->jedec;
    if (!listed)
        return bad(err, err_len, "flashinfo: JEDEC id 0x%08" PRIx32 " not supported", f->jedec);
    uint32_t size = le32(p + 0x80);
    if (size != f->size)
        return bad(err, err_len, "flashinfo: flash size 0x%" PRIx32 ", chip has 0x%" PRIx32, size,
                   f->size);
    f->probed = true;
    return 0;
}

/* ---- partition.bin: ptable_init ---- */

/* A fixed-size field must hold a non-empty NUL-terminated string. */
static bool field_string(const uint8_t *p, size_t cap, char *out)
{
    const uint8_t *nul = memchr(p, 0, cap);
    if (!nul || nul == p)
        return false;
    /* Names end up in getvar replies and stats keys: printable, no separators. */
    for (const uint8_t *c = p; c < nul; c++)
        if (*c <= 0x20 || *c >= 0x7F || *c == '=' || *c == ',' || *c == ':')
            return false;
    memcpy(out, p, (size_t)(nul - p) + 1);
    return true;
}

int sim_asr_ptable_apply(struct sim_asr_flash *f, const uint8_t *p, size_t n, char *err,
                         size_t err_len)
{
    if (!f->probed)
        return bad(err, err_len, "partition table before flashinfo (flash not probed)");
    if (n != ASR_PTABLE_LEN || memcmp(p, "BTPA", 4) != 0)
        return bad(err, err_len, "partition table: not a 0x88C-byte BTPA blob (%zu bytes)", n);
    uint32_t crc = sim_asr_crc32(0, p, 0x888);
    if (crc != le32(p + 0x888))
        return bad(err, err_len, "partition table: CRC-32 0x%08" PRIx32 ", computed 0x%08" PRIx32,
                   le32(p + 0x888), crc);
    uint32_t count = le32(p + 4);
    if (count == 0 || count > ASR_MAX_PARTS)
        return bad(err, err_len, "partition table: %" PRIu32 " entries", count);
    struct sim_asr_part t[ASR_MAX_PARTS];
    memset(t, 0, sizeof(t));
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *e = p + 8 + 68 * i;
        struct sim_asr_part *q = &t[i];
        if (!field_string(e, 32, q->name) || !field_string(e + 32, 16, q->type))
            return bad(err, err_len, "partition table: entry %" PRIu32 " name/type", i);
        q->off = le32(e + 48);
        q->size = le32(e + 52);
        q->mapped = le32(e + 56);
        q->len = le32(e + 60);
        q->level = le32(e + 64);
        if (q->level > 3)
            return bad(err, err_len, "partition %s: level %" PRIu32, q->name, q->level);
        if ((uint64_t)q->off + q->size > f->size)
            return bad(err, err_len, "partition %s: 0x%" PRIx32 "+0x%" PRIx32 " past the flash end",
                       q->name, q->off, q->size);
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(t[j].name, q->name) == 0)
                return bad(err, err_len, "partition %s: defined twice", q->name);
        /* The parent is the nearest earlier entry of a lower level (children follow it). */
        for (uint32_t j = i; j-- > 0;) {
            if (t[j].level >= q->level)
                continue;
            if (q->off < t[j].off || (uint64_t)q->off + q->size > (uint64_t)t[j].off + t[j].size)
                return bad(err, err_len, "partition %s: outside its parent %s", q->name, t[j].name);
            break;
        }
    }
    memcpy(f->parts, t, sizeof(t));
    f->n_parts = count;
    f->have_table = true;
    return 0;
}

int sim_asr_part_find(const struct sim_asr_flash *f, const char *name)
{
    for (size_t i = 0; f->have_table && i < f->n_parts; i++)
        if (strcmp(f->parts[i].name, name) == 0)
            return (int)i;
    return -1;
}

static struct sim_asr_record *record_for(struct sim_asr_flash *f, const struct sim_asr_part *q)
{
    for (size_t i = 0; i < f->n_rec; i++) {
        if (strcmp(f->rec[i].name, q->name) == 0) {
            if (f->rec[i].off != q->off) { /* a reloaded table moved it: start over */
                memset(&f->rec[i], 0, sizeof(f->rec[i]));
                snprintf(f->rec[i].name, sizeof(f->rec[i].name), "%s", q->name);
                f->rec[i].off = q->off;
            }
            return &f->rec[i];
        }
    }
    if (f->n_rec == ASR_MAX_PARTS)
        return NULL;
    struct sim_asr_record *r = &f->rec[f->n_rec++];
    memset(r, 0, sizeof(*r));
    snprintf(r->name, sizeof(r->name), "%s", q->name);
    r->off = q->off;
    return r;
}

/* ---- ASR sparse images ---- */

enum { CH_RAW = 0xCAC1, CH_FILL = 0xCAC2, CH_DONT_CARE = 0xCAC3, CH_CRC32 = 0xCAC4 };

/* One pass over the chunks; writes only when `write`. */
static int sparse_pass(struct sim_asr_flash *f, const struct sim_asr_part *q, const uint8_t *p,
                       size_t n, bool write, uint64_t *programmed, uint64_t *extent, char *err,
                       size_t err_len)
{
    uint32_t total_blocks = le32(p + 16), chunks = le32(p + 20);
    size_t pos = 32;
    uint64_t blk = 0, crc_ok_at = UINT64_MAX;
    uint32_t crc = 0;
    for (uint32_t c = 0; c < chunks; c++) {
        if (n - pos < 16)
            return bad(err, err_len, "sparse: chunk %" PRIu32 " header past the end", c);
        const uint8_t *h = p + pos;
        uint16_t type = le16(h);
        uint32_t cb = le32(h + 4), total = le32(h + 8);
        const uint8_t *d = h + 16;
        uint64_t out_bytes = (uint64_t)cb * ASR_BLOCK;
        /* Before any work: total_blocks is already bounded by the partition size. */
        if (blk + cb > total_blocks)
            return bad(err, err_len, "sparse: chunks cover more than %" PRIu32 " blocks",
                       total_blocks);
        if (type == CH_RAW) {
            if (total != 16 + out_bytes || total > n - pos)
                return bad(err, err_len, "sparse: RAW chunk %" PRIu32 " size %" PRIu32, c, total);
            if (!write)
                crc = sim_asr_crc32(crc, d, (size_t)out_bytes);
        } else if (type == CH_FILL) {
            if (total != 20 || total > n - pos)
                return bad(err, err_len, "sparse: FILL chunk %" PRIu32 " size %" PRIu32, c, total);
            if (!write)
                for (uint64_t i = 0; i < out_bytes / 4; i++)
                    crc = sim_asr_crc32(crc, d, 4);
        } else if (type == CH_DONT_CARE) {
            if (total != 16)
                return bad(err, err_len, "sparse: DONT_CARE chunk %" PRIu32 " size %" PRIu32, c,
                           total);
        } else if (type == CH_CRC32) {
            if (total != 20 || total > n - pos || cb != 0)
                return bad(err, err_len, "sparse: CRC32 chunk %" PRIu32 " malformed", c);
            if (!write && le32(d) != crc)
                return bad(err, err_len,
                           "sparse: CRC-32 0x%08" PRIx32 " in chunk %" PRIu32
                           ", data has 0x%08" PRIx32,
                           le32(d), c, crc);
            crc_ok_at = c;
        } else {
            return bad(err, err_len, "sparse: chunk %" PRIu32 " type 0x%04x", c, type);
        }
        if (write && (type == CH_RAW || type == CH_FILL)) {
            uint32_t addr = q->off + (uint32_t)(blk * ASR_BLOCK);
            for (uint32_t i = 0; i < cb; i++) {
                uint8_t fillbuf[ASR_BLOCK];
                const uint8_t *src = d + (size_t)i * ASR_BLOCK;
                if (type == CH_FILL) {
                    for (size_t k = 0; k < ASR_BLOCK; k += 4)
                        memcpy(fillbuf + k, d, 4);
                    src = fillbuf;
                }
                if (flash_write(f, addr + i * ASR_BLOCK, src, ASR_BLOCK) < 0)
                    return -ENOMEM;
                sim_fwrev_feed(&f->fwrev, src, ASR_BLOCK);
            }
            *programmed += out_bytes;
            if ((blk + cb) * ASR_BLOCK > *extent)
                *extent = (blk + cb) * ASR_BLOCK;
        }
        blk += cb;
        pos += total;
    }
    if (pos != n)
        return bad(err, err_len, "sparse: %zu bytes after the last of %" PRIu32 " chunks", n - pos,
                   chunks);
    if (blk != total_blocks)
        return bad(err, err_len, "sparse: chunks cover %" PRIu64 " of %" PRIu32 " blocks", blk,
                   total_blocks);
    if (chunks == 0 || crc_ok_at != chunks - 1)
        return bad(err, err_len, "sparse: no CRC32 chunk at the end");
    return 0;
}

int sim_asr_sparse_flash(struct sim_asr_flash *f, int idx, const uint8_t *p, size_t n,
                         uint64_t *programmed, char *err, size_t err_len)
{
    const struct sim_asr_part *q = &f->parts[idx];
    *programmed = 0;
    if (n < 32 || le32(p) != 0xED26FF3Au)
        return bad(err, err_len, "flash:%s: not an ASR sparse image", q->name);
    if (le16(p + 4) != 1 || le16(p + 8) != 32 || le16(p + 10) != 16)
        return bad(err, err_len,
                   "flash:%s: sparse version %u / header sizes %u,%u (want 1 / 32,16)", q->name,
                   le16(p + 4), le16(p + 8), le16(p + 10));
    if (le32(p + 12) != ASR_BLOCK)
        return bad(err, err_len, "flash:%s: sparse block size %" PRIu32, q->name, le32(p + 12));
    uint64_t total = (uint64_t)le32(p + 16) * ASR_BLOCK;
    if (total > q->size)
        return bad(err, err_len, "flash:%s: image of 0x%" PRIx64 " bytes, partition 0x%" PRIx32,
                   q->name, total, q->size);
    uint64_t extent = 0;
    int r = sparse_pass(f, q, p, n, false, programmed, &extent, err, err_len);
    if (r < 0)
        return r;
    struct sim_asr_record *rec = record_for(f, q);
    if (!rec)
        return bad(err, err_len, "flash:%s: too many partitions written", q->name);
    r = sparse_pass(f, q, p, n, true, programmed, &extent, err, err_len);
    if (r < 0) {
        snprintf(err, err_len, "flash:%s: out of memory", q->name);
        return r;
    }
    rec->written = true;
    rec->segments++;
    rec->programmed += *programmed;
    if (extent > rec->extent)
        rec->extent = extent;
    f->bytes_programmed += *programmed;
    f->segments++;
    return 0;
}

int sim_asr_part_erase(struct sim_asr_flash *f, int idx)
{
    const struct sim_asr_part *q = &f->parts[idx];
    struct sim_asr_record *rec = record_for(f, q);
    if (!rec)
        return -ENOSPC;
    uint32_t end = q->off + q->size;
    for (uint32_t a = q->off; a < end;) {
        uint32_t pg = a / ASR_BLOCK, in = a % ASR_BLOCK;
        uint32_t k = ASR_BLOCK - in < end - a ? ASR_BLOCK - in : end - a;
        if (f->pages[pg] && k == ASR_BLOCK) {
            free(f->pages[pg]);
            f->pages[pg] = NULL;
        } else if (f->pages[pg]) {
            memset(f->pages[pg] + in, 0xFF, k);
        }
        a += k;
    }
    rec->erased = true;
    f->erases++;
    return 0;
}

int sim_asr_record_sha(const struct sim_asr_flash *f, size_t i, uint8_t sha[32])
{
    const struct sim_asr_record *r = &f->rec[i];
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(md);
        return -ENOMEM;
    }
    uint8_t buf[ASR_BLOCK];
    for (uint64_t done = 0; done < r->extent;) {
        size_t k = r->extent - done < sizeof(buf) ? (size_t)(r->extent - done) : sizeof(buf);
        sim_asr_flash_read(f, r->off + (uint32_t)done, buf, k);
        EVP_DigestUpdate(md, buf, k);
        done += k;
    }
    EVP_DigestFinal_ex(md, sha, NULL);
    EVP_MD_CTX_free(md);
    return 0;
}
