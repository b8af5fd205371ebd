/* ASR160x (Crane) package parser, protocols/asr.md §2.7-2.9: the flashable zip holds
 * download.json (the recipe), partition.bin ("BTPA" table), flashinfo.bin ("FNIF" flash
 * list) and the images. Pure: bytes in, description out.
 */
#ifndef FLASHRACK_ASR_PKG_H
#define FLASHRACK_ASR_PKG_H

#include "package/pkg_types.h"

#include <stddef.h>
#include <stdint.h>

#define ASR_PTABLE_SIZE 0x88C
#define ASR_PTABLE_MAX  32

struct asr_partition {
    char name[33];
    char type[17];   /* group, flash, ubi, part, raw */
    uint32_t offset; /* flash offset */
    uint32_t size;
    uint32_t mapped; /* XIP address */
    uint32_t length; /* content length */
    uint32_t level;  /* 0 all, 1 device, 2 top-level, 3 sub-partition */
};

struct asr_ptable {
    uint32_t count;
    uint32_t crc;
    struct asr_partition parts[ASR_PTABLE_MAX];
};

struct asr_flashinfo {
    uint32_t jedec;
    char part[65];
    char iface[33];
    uint32_t flash_size;
    uint32_t ncompat;
    struct {
        uint32_t jedec;
        char name[65];
    } compat[32];
};

struct asr_cmd {
    char command[16]; /* require progress call partition flash erase upload */
    char group[16];
    char name[64]; /* require/progress variable */
    char value[128];
    char image[128]; /* file inside the zip */
    char partition[33];
    char bootrom[32]; /* version-bootrom selector of a call */
    uint64_t weight;
};

struct asr_download {
    struct asr_cmd *cmds;
    size_t count;
};

struct asr_pkg {
    struct asr_download dl;
    struct asr_ptable ptable;
    struct asr_flashinfo flashinfo;
    struct pkg_image_list images; /* call/partition/flash/erase in recipe order */
    struct pkg_warnings warnings;
    void *own; /* walk kept alive when parsed from a bare zip */
};

int asr_partition_parse(const uint8_t *data, size_t len, struct asr_ptable *ret, char *err,
                        size_t errlen);
int asr_flashinfo_parse(const uint8_t *data, size_t len, struct asr_flashinfo *ret, char *err,
                        size_t errlen);
int asr_download_json_parse(const uint8_t *text, size_t len, struct asr_download *ret, char *err,
                            size_t errlen);
void asr_download_free(struct asr_download *dl);
const struct asr_partition *asr_ptable_find(const struct asr_ptable *t, const char *name);

/* The package in dir ("" = root) of files: download.json and everything it names. */
int asr_pkg_parse_files(const struct pkg_files *files, const char *dir, struct asr_pkg **ret,
                        char *err, size_t errlen);
/* The flashable zip itself (what a driver's parse hook is handed). */
int asr_pkg_parse(const uint8_t *zip, size_t len, struct asr_pkg **ret, char *err, size_t errlen);
void asr_pkg_free(struct asr_pkg *pkg);

/* struct proto parse hook: any package form -> struct pkg (package/pkg.h) of this platform;
 * free with asr_pkg_hook_free. */
int asr_pkg_hook_parse(const uint8_t *data, size_t len, void **ret_package, char *err,
                       size_t errlen);
void asr_pkg_hook_free(void *package);

#endif
