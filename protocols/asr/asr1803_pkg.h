/* ASR1803 (EC200A) package parser, protocols/asr.md §3.5-3.7: the BLF text recipe (images
 * by id, path and flash address) and the FBF container ("BinFile.bin") made by FBFMake.
 * Pure: bytes in, description out.
 */
#ifndef FLASHRACK_ASR1803_PKG_H
#define FLASHRACK_ASR1803_PKG_H

#include "package/pkg_types.h"

#include <stddef.h>
#include <stdint.h>

#define ASR1803_BLF_MAX_IMAGES 64

struct asr1803_blf_image {
    unsigned index;      /* N of N_Image_* / Image_N_* */
    char id[16];         /* FourCC ("TIMH", "OBMI") or hex text */
    uint32_t id_value;   /* FourCC as the ROM asks for it (LE u32), 0 if unknown */
    char path[160];      /* as written, '\' turned into '/' */
    uint64_t flash_addr; /* PKG_ADDR_NONE if absent */
    uint64_t load_addr;
    int partition; /* -1 if absent */
    int enabled;   /* 0 when an Enable key says 0 */
};

struct asr1803_blf {
    char version[32];
    char processor[32];
    int declared; /* Number_of_Images, -1 if absent */
    struct asr1803_blf_image img[ASR1803_BLF_MAX_IMAGES];
    size_t count;
    struct pkg_image_list images; /* filled by asr1803_blf_resolve */
    struct pkg_warnings warnings;
};

int asr1803_blf_sniff(const uint8_t *data, size_t len);
int asr1803_blf_parse(const uint8_t *text, size_t len, struct asr1803_blf **ret, char *err,
                      size_t errlen);
/* Finds every enabled image's file relative to dir (the BLF's folder) and records its size
 * and bytes. A missing file is an error naming it. */
int asr1803_blf_resolve(struct asr1803_blf *blf, const struct pkg_files *files, const char *dir,
                        char *err, size_t errlen);
void asr1803_blf_free(struct asr1803_blf *blf);

struct asr1803_fbf_member {
    char name[128];
    uint32_t range[3][2]; /* head, mid, tail: [start, end) each */
    uint64_t size;
};

struct asr1803_fbf {
    uint32_t dir_offset;
    struct asr1803_fbf_member *members;
    size_t count;
    struct pkg_image_list images; /* one per member, offset = head start */
    struct pkg_warnings warnings;
};

int asr1803_fbf_sniff(const uint8_t *data, size_t len);
int asr1803_fbf_parse(const uint8_t *data, size_t len, struct asr1803_fbf **ret, char *err,
                      size_t errlen);
void asr1803_fbf_free(struct asr1803_fbf *fbf);

/* struct proto parse hook: any package form -> struct pkg (package/pkg.h) of this platform;
 * free with asr1803_pkg_hook_free. */
int asr1803_pkg_hook_parse(const uint8_t *data, size_t len, void **ret_package, char *err,
                           size_t errlen);
void asr1803_pkg_hook_free(void *package);

#endif
