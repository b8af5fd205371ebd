/* Beken BK7231N (FC41D) firmware image parser (protocols/qualcomm-wifi.md B.2).
 *
 * BK7231 flash stores code in 34-byte blocks: 32 data bytes and a CRC-16 (poly 0x8005,
 * init 0xFFFF, MSB first, stored big-endian). Quectel's FC41D ".bin" is such a flash image.
 * Whether it starts at 0x0 (bootloader + application, "all-in-one") or at the application
 * partition (0x11000) is not documented [qualcomm-wifi.md D.3]; the rule here: a file name
 * with "_UA"/"app" is an application image at 0x11000, anything larger than the bootloader
 * region is all-in-one at 0x0, smaller ones are application images. Pure.
 */
#ifndef FLASHRACK_BEKEN_PKG_H
#define FLASHRACK_BEKEN_PKG_H

#include "package/pkg_types.h"

#include <stddef.h>
#include <stdint.h>

#define BEKEN_FLASH_SIZE (2u << 20)
#define BEKEN_APP_START  0x11000u
#define BEKEN_BLOCK      34u

struct beken_image {
    int crc_format; /* 34-byte blocks with CRC-16 verified */
    int all_in_one; /* starts at 0x0 with the bootloader */
    uint32_t start; /* flash address of byte 0 */
    size_t blocks;  /* 34-byte blocks (crc_format) */
    size_t blank_blocks;
    struct pkg_image_list images;
    struct pkg_warnings warnings;
};

uint16_t beken_crc16(const uint8_t *p, size_t n);
/* Nonzero when the bytes are 34-byte CRC blocks (first non-blank blocks verify). */
int beken_image_sniff(const uint8_t *data, size_t len);
/* name: the file name (hints app-only images), may be NULL. */
int beken_image_parse(const uint8_t *data, size_t len, const char *name, struct beken_image **ret,
                      char *err, size_t errlen);
void beken_image_free(struct beken_image *img);

/* struct proto parse hook: any package form -> struct pkg (package/pkg.h) of this platform;
 * free with beken_pkg_hook_free. */
int beken_pkg_hook_parse(const uint8_t *data, size_t len, void **ret_package, char *err,
                         size_t errlen);
void beken_pkg_hook_free(void *package);

#endif
