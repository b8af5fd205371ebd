/* Beken BK7231N flash image parser (see beken_pkg.h). */
#include "beken/beken_pkg.h"

#include "common/bytes.h"
#include "package/pkg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

uint16_t beken_crc16(const uint8_t *p, size_t n)
{
    uint16_t crc = 0xFFFF;
    for (size_t i = 0; i < n; i++) {
        crc ^= (uint16_t)(p[i] << 8);
        for (int k = 0; k < 8; k++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x8005) : (uint16_t)(crc << 1);
    }
    return crc;
}

int beken_image_sniff(const uint8_t *data, size_t len)
{
    size_t checked = 0;
    if (len < BEKEN_BLOCK || len % BEKEN_BLOCK)
        return 0;
    for (size_t off = 0; off < len && checked < 8; off += BEKEN_BLOCK) {
        const uint8_t *blk = data + off;
        if (bytes_all_equal(blk, BEKEN_BLOCK, 0xFF))
            continue;
        if (beken_crc16(blk, 32) != (uint16_t)(blk[32] << 8 | blk[33]))
            return 0;
        checked++;
    }
    return checked > 0;
}

/* Counts blocks whose CRC verifies; blank (all 0xFF) blocks are erased flash, not code. */
static void scan_blocks(struct beken_image *img, const uint8_t *data, size_t len, size_t *good,
                        size_t *first_bad)
{
    *good = 0;
    *first_bad = (size_t)-1;
    img->blocks = len / BEKEN_BLOCK;
    for (size_t b = 0; b < img->blocks; b++) {
        const uint8_t *blk = data + b * BEKEN_BLOCK;
        if (bytes_all_equal(blk, BEKEN_BLOCK, 0xFF)) {
            img->blank_blocks++;
            continue;
        }
        uint16_t stored = (uint16_t)(blk[32] << 8 | blk[33]);
        if (beken_crc16(blk, 32) == stored)
            (*good)++;
        else if (*first_bad == (size_t)-1)
            *first_bad = b;
    }
}

static int add(struct beken_image *img, const char *name, uint32_t addr, const uint8_t *data,
               size_t off, size_t size)
{
    struct pkg_image *p = pkg_image_list_add(&img->images);
    if (!p)
        return -ENOMEM;
    pkg_strlcpy(p->name, name, sizeof(p->name));
    pkg_strlcpy(p->type, img->crc_format ? "flash-crc" : "flash", sizeof(p->type));
    p->address = addr;
    p->offset = off;
    p->size = size;
    p->data = data + off;
    return 0;
}

int beken_image_parse(const uint8_t *data, size_t len, const char *name, struct beken_image **ret,
                      char *err, size_t errlen)
{
    if (len < BEKEN_BLOCK)
        return pkg_fail(err, errlen, "Beken image is only %zu bytes", len);
    if (len > BEKEN_FLASH_SIZE)
        return pkg_fail(err, errlen, "Beken image is %zu bytes, more than the %u-byte flash", len,
                        BEKEN_FLASH_SIZE);
    if (bytes_all_equal(data, len, 0xFF) || bytes_all_equal(data, len, 0x00))
        return pkg_fail(err, errlen, "Beken image is blank");
    struct beken_image *img = calloc(1, sizeof(*img));
    if (!img)
        return -ENOMEM;
    int r = 0;
    if (len % BEKEN_BLOCK == 0) {
        size_t good, bad;
        scan_blocks(img, data, len, &good, &bad);
        size_t code = img->blocks - img->blank_blocks;
        /* A plain file passes a block by chance 1 time in 65536; a CRC image passes all. */
        if (code && good * 10 >= code * 9) {
            if (good != code) {
                r = pkg_fail(err, errlen,
                             "Beken image block %zu (offset 0x%zx) fails its CRC-16: corrupt", bad,
                             bad * BEKEN_BLOCK);
                goto fail;
            }
            img->crc_format = 1;
        } else if (code && good * 10 > code) {
            r = pkg_fail(err, errlen, "Beken image: %zu of %zu blocks fail their CRC-16: corrupt",
                         code - good, code);
            goto fail;
        }
    }
    if (!img->crc_format)
        pkg_warn(&img->warnings, "Beken image has no per-block CRC: written as plain data");
    int app_hint = name && (strcasestr(name, "_UA") || strcasestr(name, "app"));
    /* The bootloader region holds 0x11000 bytes of flash, CRC blocks included. */
    if (!app_hint && len > BEKEN_APP_START) {
        img->all_in_one = 1;
        img->start = 0;
        if ((r = add(img, "bootloader", 0, data, 0, BEKEN_APP_START)) < 0 ||
            (r = add(img, "app", BEKEN_APP_START, data, BEKEN_APP_START, len - BEKEN_APP_START)) <
                0)
            goto fail;
    } else {
        img->start = BEKEN_APP_START;
        if ((size_t)BEKEN_APP_START + len > BEKEN_FLASH_SIZE) {
            r = pkg_fail(err, errlen,
                         "Beken application image (%zu bytes) does not fit after "
                         "0x11000 in the 2 MiB flash",
                         len);
            goto fail;
        }
        if ((r = add(img, "app", BEKEN_APP_START, data, 0, len)) < 0)
            goto fail;
    }
    *ret = img;
    return 0;
fail:
    beken_image_free(img);
    return r;
}

void beken_image_free(struct beken_image *img)
{
    if (!img)
        return;
    pkg_image_list_free(&img->images);
    free(img);
}

int beken_pkg_hook_parse(const uint8_t *data, size_t len, void **ret_package, char *err,
                         size_t errlen)
{
    return pkg_proto_parse(PKG_PLATFORM_BEKEN, data, len, ret_package, err, errlen);
}

void beken_pkg_hook_free(void *package)
{
    pkg_proto_free(package);
}
