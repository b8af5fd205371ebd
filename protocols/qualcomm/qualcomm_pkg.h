/* Qualcomm (BG95) update/firehose package parser (protocols/qualcomm-wifi.md A.4, A.5):
 * the Firehose programmer, rawprogram*.xml (<program>/<erase>) and patch*.xml (<patch>),
 * discovered by the same file-name patterns as Quectel's QFirehose. The ".mbn" a user picks
 * (update/firehose/partition.mbn) is the handle to the whole tree. Pure: expat on memory.
 */
#ifndef FLASHRACK_QUALCOMM_PKG_H
#define FLASHRACK_QUALCOMM_PKG_H

#include "package/pkg_types.h"

#include <stddef.h>
#include <stdint.h>

#define QUALCOMM_MAX_ENTRIES 256

struct qualcomm_entry {
    int erase; /* <erase> rather than <program> */
    char filename[128];
    char label[64];
    uint64_t start_sector;
    uint64_t num_sectors;
    uint32_t sector_size; /* SECTOR_SIZE_IN_BYTES, 0 if absent */
    unsigned physical_partition;
};

struct qualcomm_xml {
    int is_patch; /* root <patches> */
    struct qualcomm_entry entries[QUALCOMM_MAX_ENTRIES];
    size_t count; /* program/erase entries, or patch entries */
};

/* rawprogram or patch XML text. */
int qualcomm_xml_parse(const uint8_t *text, size_t len, struct qualcomm_xml *ret, char *err,
                       size_t errlen);

struct qualcomm_pkg {
    char firehose_dir[PKG_PATH_MAX]; /* ".../update/firehose" */
    char programmer[PKG_PATH_MAX];
    char rawprogram[PKG_PATH_MAX];
    char patch[PKG_PATH_MAX]; /* "" if none */
    struct qualcomm_xml raw;
    size_t patch_count;
    struct pkg_image_list images; /* programmer first, then every <program> with a file */
    struct pkg_warnings warnings;
};

/* Nonzero when the bytes look like an MBN: an ELF, or a small MBN v3/v5/v6 header. */
int qualcomm_mbn_sniff(const uint8_t *data, size_t len);

/* The tree whose firehose directory is firehose_dir (e.g. "pkg/update/firehose"). */
int qualcomm_pkg_parse_files(const struct pkg_files *files, const char *firehose_dir,
                             struct qualcomm_pkg **ret, char *err, size_t errlen);
void qualcomm_pkg_free(struct qualcomm_pkg *pkg);

/* struct proto parse hook: any package form -> struct pkg (package/pkg.h) of this platform;
 * free with qualcomm_pkg_hook_free. */
int qualcomm_pkg_hook_parse(const uint8_t *data, size_t len, void **ret_package, char *err,
                            size_t errlen);
void qualcomm_pkg_hook_free(void *package);

#endif
