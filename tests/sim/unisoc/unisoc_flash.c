/* Flash and NV memory of the Unisoc device model. Flash is a window [base, base+size) kept in
 * 4 KiB pages that exist only once written (an erased page reads 0xFF), with a hard limit on
 * the bytes allocated, so a 16 MiB module costs memory only for what a host really sends.
 * NV is a separate image (the 8910 reaches it through logical address 0xFE000003). */
#include "unisoc/unisoc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NV_ITEM_CALIB 2 /* gap: calibration item id chosen for the model, see README */
#define NV_ITEM_IMEI  5 /* notes §4.4: IMEI item id 5 */
#define NV_MAX        0x40000

static void put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static uint16_t get_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

int sim_unisoc_nv_build(const uint8_t imei[8], const uint8_t *calib, size_t calib_len, uint8_t *out,
                        size_t cap, size_t *ret_len)
{
    /* Layout (notes §4.4): 4-byte header (CRC slot + 2 spare), items {u16 id, u16 len,
     * data padded to 4}, terminator 0xFFFF. Item fields little endian (gap, README). */
    size_t need = 4 + 4 + 8 + 4 + ((calib_len + 3) & ~(size_t)3) + 4;
    if (need > cap || calib_len > 0xFFFF)
        return -ENOSPC;
    memset(out, 0, need);
    size_t pos = 4;
    put_le16(out + pos, NV_ITEM_IMEI);
    put_le16(out + pos + 2, 8);
    memcpy(out + pos + 4, imei, 8);
    pos += 12;
    put_le16(out + pos, NV_ITEM_CALIB);
    put_le16(out + pos + 2, (uint16_t)calib_len);
    memcpy(out + pos + 4, calib, calib_len);
    pos += 4 + ((calib_len + 3) & ~(size_t)3);
    put_le16(out + pos, 0xFFFF);
    put_le16(out + pos + 2, 0);
    pos += 4;
    uint16_t crc = sim_unisoc_crc16_arc(out + 2, pos - 2);
    out[0] = (uint8_t)(crc >> 8);
    out[1] = (uint8_t)crc;
    *ret_len = pos;
    return 0;
}

int sim_unisoc_flash_init(struct sim_unisoc_flash *f, uint32_t base, uint32_t size,
                          uint64_t mem_limit, const char *imei, uint32_t seed)
{
    memset(f, 0, sizeof(*f));
    if (size == 0 || size % UNISOC_PAGE || (uint64_t)base + size > 0xFE000000u)
        return -EINVAL;
    if (strlen(imei) != 15 || strspn(imei, "0123456789") != 15)
        return -EINVAL;
    f->base = base;
    f->size = size;
    f->mem_limit = mem_limit;
    f->pages = calloc(size / UNISOC_PAGE, sizeof(*f->pages));
    f->nv_cap = NV_MAX;
    f->nv = malloc(f->nv_cap);
    if (!f->pages || !f->nv) {
        sim_unisoc_flash_free(f);
        return -ENOMEM;
    }
    /* IMEI as 3GPP BCD: type nibble 0xA, then the digits low nibble first. */
    uint8_t d[16];
    d[0] = 0x0A;
    for (int i = 0; i < 15; i++)
        d[i + 1] = (uint8_t)(imei[i] - '0');
    for (int i = 0; i < 8; i++)
        f->imei[i] = (uint8_t)(d[2 * i] | d[2 * i + 1] << 4);
    uint32_t x = seed ? seed : 0x8910u;
    for (size_t i = 0; i < sizeof(f->calib); i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        f->calib[i] = (uint8_t)x;
    }
    return sim_unisoc_nv_build(f->imei, f->calib, sizeof(f->calib), f->nv, f->nv_cap, &f->nv_len);
}

void sim_unisoc_flash_free(struct sim_unisoc_flash *f)
{
    if (f->pages)
        for (uint32_t i = 0; i < f->size / UNISOC_PAGE; i++)
            free(f->pages[i]);
    free(f->pages);
    free(f->nv);
    f->pages = NULL;
    f->nv = NULL;
}

bool sim_unisoc_flash_contains(const struct sim_unisoc_flash *f, uint32_t addr, uint64_t len)
{
    return addr >= f->base && (uint64_t)addr - f->base + len <= f->size;
}

int sim_unisoc_flash_write(struct sim_unisoc_flash *f, uint32_t addr, const uint8_t *p, size_t n)
{
    if (!sim_unisoc_flash_contains(f, addr, n))
        return -ERANGE;
    uint64_t off = addr - f->base;
    while (n > 0) {
        size_t pi = (size_t)(off / UNISOC_PAGE), po = (size_t)(off % UNISOC_PAGE);
        size_t take = UNISOC_PAGE - po < n ? UNISOC_PAGE - po : n;
        if (!f->pages[pi]) {
            if (f->mem_used + UNISOC_PAGE > f->mem_limit)
                return -ENOMEM;
            f->pages[pi] = malloc(UNISOC_PAGE);
            if (!f->pages[pi])
                return -ENOMEM;
            memset(f->pages[pi], 0xFF, UNISOC_PAGE);
            f->mem_used += UNISOC_PAGE;
        }
        memcpy(f->pages[pi] + po, p, take);
        f->bytes_written += take;
        p += take;
        off += take;
        n -= take;
    }
    return 0;
}

void sim_unisoc_flash_read(const struct sim_unisoc_flash *f, uint32_t addr, uint8_t *p, size_t n)
{
    uint64_t off = addr - f->base;
    while (n > 0) {
        size_t pi = (size_t)(off / UNISOC_PAGE), po = (size_t)(off % UNISOC_PAGE);
        size_t take = UNISOC_PAGE - po < n ? UNISOC_PAGE - po : n;
        if (f->pages[pi])
            memcpy(p, f->pages[pi] + po, take);
        else
            memset(p, 0xFF, take);
        p += take;
        off += take;
        n -= take;
    }
}

static void forget_regions(struct sim_unisoc_flash *f, uint64_t lo, uint64_t hi)
{
    size_t w = 0;
    for (size_t i = 0; i < f->n_regions; i++)
        if (f->regions[i].addr < lo || f->regions[i].addr >= hi)
            f->regions[w++] = f->regions[i];
    f->n_regions = w;
}

void sim_unisoc_flash_erase(struct sim_unisoc_flash *f, uint32_t addr, uint64_t len)
{
    f->erases++;
    if (!sim_unisoc_flash_contains(f, addr, len))
        return;
    uint64_t off = addr - f->base, end = off + len;
    forget_regions(f, addr, (uint64_t)addr + len);
    while (off < end) {
        size_t pi = (size_t)(off / UNISOC_PAGE), po = (size_t)(off % UNISOC_PAGE);
        uint64_t take = UNISOC_PAGE - po < end - off ? UNISOC_PAGE - po : end - off;
        if (f->pages[pi]) {
            if (take == UNISOC_PAGE) {
                free(f->pages[pi]);
                f->pages[pi] = NULL;
                f->mem_used -= UNISOC_PAGE;
            } else {
                memset(f->pages[pi] + po, 0xFF, (size_t)take);
            }
        }
        off += take;
    }
}

void sim_unisoc_flash_erase_all(struct sim_unisoc_flash *f)
{
    sim_unisoc_flash_erase(f, f->base, f->size);
    forget_regions(f, 0, UINT64_MAX);
    f->nv_len = 0; /* "erase all" takes NV with it: that is what makes it dangerous */
}

int sim_unisoc_region_record(struct sim_unisoc_flash *f, uint32_t addr, uint64_t bytes,
                             const uint8_t sha[32])
{
    struct sim_unisoc_region *r = NULL;
    for (size_t i = 0; i < f->n_regions && !r; i++)
        if (f->regions[i].addr == addr)
            r = &f->regions[i];
    if (!r) {
        if (f->n_regions == UNISOC_MAX_REGION)
            return -ENOSPC;
        r = &f->regions[f->n_regions++];
    }
    r->addr = addr;
    r->bytes = bytes;
    memcpy(r->sha, sha, 32);
    return 0;
}

int sim_unisoc_nv_replace(struct sim_unisoc_flash *f, const uint8_t *p, size_t n)
{
    if (n < 4 || n > f->nv_cap)
        return -EMSGSIZE;
    uint16_t want = (uint16_t)(p[0] << 8 | p[1]);
    if (sim_unisoc_crc16_arc(p + 2, n - 2) != want)
        return -EBADMSG;
    memcpy(f->nv, p, n);
    f->nv_len = n;
    return 0;
}

/* Finds item `id` in an NV image; returns its data or NULL. Bounded by the image length. */
static const uint8_t *nv_find(const uint8_t *nv, size_t len, uint16_t id, uint16_t *ret_len)
{
    size_t pos = 4;
    while (pos + 4 <= len) {
        uint16_t iid = get_le16(nv + pos), ilen = get_le16(nv + pos + 2);
        if (iid == 0xFFFF || iid == 0xFFFE)
            return NULL;
        if (pos + 4 + ilen > len)
            return NULL;
        if (iid == id) {
            *ret_len = ilen;
            return nv + pos + 4;
        }
        pos += 4 + (((size_t)ilen + 3) & ~(size_t)3);
    }
    return NULL;
}

bool sim_unisoc_nv_intact(const struct sim_unisoc_flash *f)
{
    uint16_t l1 = 0, l2 = 0;
    const uint8_t *imei = nv_find(f->nv, f->nv_len, NV_ITEM_IMEI, &l1);
    const uint8_t *cal = nv_find(f->nv, f->nv_len, NV_ITEM_CALIB, &l2);
    return imei && cal && l1 == sizeof(f->imei) && l2 == sizeof(f->calib) &&
           memcmp(imei, f->imei, l1) == 0 && memcmp(cal, f->calib, l2) == 0;
}
