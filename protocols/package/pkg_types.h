/* Types shared by the package layer and the per-platform package parsers.
 *
 * Pure header: parsers take bytes and return descriptions; nothing here touches a file.
 */
#ifndef FLASHRACK_PKG_TYPES_H
#define FLASHRACK_PKG_TYPES_H

#include <stddef.h>
#include <stdint.h>

#define PKG_PATH_MAX 512

enum pkg_platform {
    PKG_PLATFORM_UNKNOWN = 0,
    PKG_PLATFORM_ASR,       /* ASR160x Crane: aboot, zip with download.json */
    PKG_PLATFORM_ASR1803,   /* EC200A: WTPTP, BLF / FBF */
    PKG_PLATFORM_UNISOC,    /* UIS8910DM / UIS8850: PAC */
    PKG_PLATFORM_EIGENCOMM, /* EC618 / EC7xx: binpkg */
    PKG_PLATFORM_QUALCOMM,  /* BG95: Sahara + Firehose, update/firehose tree */
    PKG_PLATFORM_BEKEN,     /* FC41D: BK7231N flash image */
    PKG_PLATFORM_ESWIN,     /* FCM360W: ECR6600 allinone image */
    PKG_PLATFORM_COUNT
};
const char *pkg_platform_to_string(enum pkg_platform p);
/* Returns PKG_PLATFORM_UNKNOWN for an unknown name. */
enum pkg_platform pkg_platform_from_string(const char *s);

/* What an untrusted package may cost us. Every container walk and every parser that
 * allocates from a size field checks against these. */
struct pkg_limits {
    uint64_t max_total;   /* decompressed bytes over the whole walk */
    uint64_t max_file;    /* decompressed bytes of one member */
    uint32_t max_ratio;   /* decompressed bytes per input byte (whole walk), bomb guard */
    unsigned max_depth;   /* containers inside containers (outer zip = depth 1) */
    unsigned max_entries; /* members over the whole walk */
};
void pkg_limits_default(struct pkg_limits *lim);

#define PKG_WARN_MAX 16
#define PKG_WARN_LEN 200
struct pkg_warnings {
    unsigned count;
    unsigned dropped; /* warnings that did not fit */
    char text[PKG_WARN_MAX][PKG_WARN_LEN];
};
void pkg_warn(struct pkg_warnings *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define PKG_ADDR_NONE   UINT64_MAX
#define PKG_OFFSET_NONE UINT64_MAX

/* One thing a driver writes (or loads) on the device. */
struct pkg_image {
    char name[64];       /* image id: PAC FileID, binpkg entry name, BLF image id, label */
    char file[160];      /* file the bytes come from (member path or PAC file name) */
    char partition[64];  /* partition name when the platform addresses by name */
    char type[24];       /* platform type string: "CODE", "AP", "flash", "call", ... */
    uint64_t address;    /* flash or load address, PKG_ADDR_NONE if addressed by name */
    uint64_t size;       /* bytes of data (0 for operation-only entries) */
    uint64_t offset;     /* offset of the data in the parsed buffer, PKG_OFFSET_NONE if the
                          * bytes live in another file of the package */
    const uint8_t *data; /* the bytes, valid while the parsed description lives; may be NULL */
};

struct pkg_image_list {
    struct pkg_image *items;
    size_t count, cap;
};
/* Appends a zeroed image (address/offset set to NONE); returns NULL on ENOMEM or when the
 * list already holds 4096 images (no real package has that many). */
struct pkg_image *pkg_image_list_add(struct pkg_image_list *l);
void pkg_image_list_free(struct pkg_image_list *l);
int pkg_image_list_copy(struct pkg_image_list *dst, const struct pkg_image_list *src);

/* Read-only view of the files of a package, for parsers whose format spans several files
 * (ASR zip, BLF + images, Qualcomm update tree). Paths are '/'-separated, relative to the
 * package root. */
struct pkg_files {
    /* Bytes of the regular file at path, or NULL. Case-sensitive first, then case-folded. */
    const uint8_t *(*get)(const void *ctx, const char *path, size_t *ret_len);
    /* i-th file directly inside dir ("" = root), or NULL past the end. */
    const char *(*list)(const void *ctx, const char *dir, size_t i);
    const void *ctx;
};

/* Writes a formatted message into err (may be NULL) and returns -EINVAL: parsers use it as
 * `return pkg_fail(err, errlen, "...", ...)`. */
int pkg_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int pkg_failc(int code, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Small string helpers shared by the parsers. */
int pkg_str_ends_with_ci(const char *s, const char *suffix);
int pkg_str_eq_ci(const char *a, const char *b);
const char *pkg_basename(const char *path);
void pkg_strlcpy(char *dst, const char *src, size_t dstlen);
/* dst = dir + "/" + name (just name when dir is ""); -ENAMETOOLONG (dst = "") if too long. */
int pkg_path_join(char *dst, size_t dstlen, const char *dir, const char *name);

#endif
