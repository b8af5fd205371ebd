/* The I/O side of packages: reads what the user points at (a file, or an extracted
 * directory) into read-only memory maps, bounded by the package limits, hashes it with
 * SHA-256, and hands the bytes to the pure package code (protocols/package/pkg.h).
 *
 * A .blf or a BG95 .mbn (update/firehose/partition.mbn) is only the handle of a package that spans
 * its folder, so for those the surrounding folder is loaded and the file is "preferred". Blocking:
 * call it on a worker thread in the daemon (pkg_cache.c does), directly in the CLI.
 */
#ifndef FLASHRACK_PKG_LOAD_H
#define FLASHRACK_PKG_LOAD_H

#include "package/pkg.h"

#include <stddef.h>
#include <stdint.h>

struct pkg_load_file {
    char *rel; /* '/'-separated, relative to the loaded root */
    const uint8_t *data;
    size_t len;
    void *map; /* munmap on free (NULL for an empty file) */
};

struct pkg_source {
    char *path;      /* as given */
    char *root_name; /* file or directory name the package is known by */
    int is_dir;      /* a directory was loaded (given, or around a .blf/.mbn) */
    char *prefer;    /* relative path of the file the user named inside that directory */
    char *context;   /* name of the folder a single file sits in (identity hint) */
    struct pkg_load_file *files;
    size_t count;
    uint64_t total;  /* bytes loaded */
    char sha256[65]; /* of PATH's file, or the tree hash of a given directory */
};

/* Loads path. Errors name the problem ("x.zip: No such file or directory", "... is a
 * symbolic link", "... is larger than ..."). */
int pkg_load_path(const char *path, const struct pkg_limits *lim, struct pkg_source **ret,
                  char *err, size_t errlen);
/* Walks and opens the loaded bytes (src must outlive the result). */
int pkg_load_open(const struct pkg_source *src, const struct pkg_limits *lim, struct pkg **ret,
                  char *err, size_t errlen);
void pkg_source_free(struct pkg_source *src);

/* SHA-256 of a whole file descriptor's content, streamed (lower-case hex). */
int pkg_load_sha256_fd(int fd, char out[65]);

#endif
