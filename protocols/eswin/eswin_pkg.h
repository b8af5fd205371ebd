/* ESWIN ECR6600 (FCM360W) "allinone" image parser (protocols/qualcomm-wifi.md B.3):
 * ASCII "oneb" at 0, one byte of unknown meaning, then records {type u8, flash offset u32 LE,
 * length u32 LE, data} to the end of the file. Type 0 is the RAM loader, type 2 a flash
 * image. Pure.
 */
#ifndef FLASHRACK_ESWIN_PKG_H
#define FLASHRACK_ESWIN_PKG_H

#include "package/pkg_types.h"

#include <stddef.h>
#include <stdint.h>

#define ESWIN_FLASH_SIZE  (4u << 20)
#define ESWIN_MAX_RECORDS 64
#define ESWIN_REC_RAM     0
#define ESWIN_REC_FLASH   2

struct eswin_record {
    uint8_t type;
    uint32_t addr;
    uint32_t length;
    uint64_t offset; /* of the data in the file */
};

struct eswin_image {
    uint8_t header_byte;
    struct eswin_record rec[ESWIN_MAX_RECORDS];
    size_t count;
    int has_loader;
    struct pkg_image_list images;
    struct pkg_warnings warnings;
};

int eswin_image_sniff(const uint8_t *data, size_t len);
int eswin_image_parse(const uint8_t *data, size_t len, struct eswin_image **ret, char *err,
                      size_t errlen);
void eswin_image_free(struct eswin_image *img);

/* struct proto parse hook: any package form -> struct pkg (package/pkg.h) of this platform;
 * free with eswin_pkg_hook_free. */
int eswin_pkg_hook_parse(const uint8_t *data, size_t len, void **ret_package, char *err,
                         size_t errlen);
void eswin_pkg_hook_free(void *package);

#endif
