/* Eigencomm EC618/EC7xx ".binpkg" parser (protocols/eigencomm.md §7): 52-byte header,
 * optional header variant records (product name), then per image a 364-byte descriptor,
 * optional variant bytes and the data, whose SHA-256 the descriptor carries in hex.
 * Pure: bytes in, description out.
 */
#ifndef FLASHRACK_EIGENCOMM_PKG_H
#define FLASHRACK_EIGENCOMM_PKG_H

#include "package/pkg_types.h"

#include <stddef.h>
#include <stdint.h>

#define EIGENCOMM_HDR_SIZE    52
#define EIGENCOMM_ENTRY_SIZE  364
#define EIGENCOMM_VAR_SIZE    140
#define EIGENCOMM_MAX_ENTRIES 64

struct eigencomm_entry {
    char name[64]; /* ap_bootloader, ap_at_command, cp-demo-flash */
    char type[16]; /* BL, AP, CP, PKGFLXFS, ... */
    uint32_t addr; /* logical address (§6) */
    uint32_t flashsize;
    uint32_t size;
    uint64_t data_offset;
    char hash[65]; /* lower-case hex SHA-256 from the descriptor, "" if none */
    int hash_ok;   /* 1 verified, 0 absent */
};

struct eigencomm_binpkg {
    char ver[9];
    uint32_t magic;
    uint32_t date;
    char product[65]; /* from the "productname" variant record, "" if absent */
    int pkgmode;      /* 1 when a "pkgmode" record says so */
    struct eigencomm_entry entries[EIGENCOMM_MAX_ENTRIES];
    size_t count;
    struct pkg_image_list images; /* offsets into the binpkg */
    struct pkg_warnings warnings;
};

int eigencomm_binpkg_sniff(const uint8_t *data, size_t len);
int eigencomm_binpkg_parse(const uint8_t *data, size_t len, struct eigencomm_binpkg **ret,
                           char *err, size_t errlen);
void eigencomm_binpkg_free(struct eigencomm_binpkg *pkg);

/* Chip family from the product name (luatos rule): "ec618", "ec718", "ec718m", "ec716",
 * "ec217", or "" when unknown. */
const char *eigencomm_family(const char *product);

/* struct proto parse hook: any package form -> struct pkg (package/pkg.h) of this platform;
 * free with eigencomm_pkg_hook_free. */
int eigencomm_pkg_hook_parse(const uint8_t *data, size_t len, void **ret_package, char *err,
                             size_t errlen);
void eigencomm_pkg_hook_free(void *package);

#endif
