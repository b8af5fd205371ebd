/* The container walk: turns a package (one file, or the files of an extracted directory)
 * into a flat list of nodes, opening every zip inside it (".zip", and ".bin" files that are
 * really zips) from memory with libarchive, recursively, within the limits.
 *
 * Untrusted input: member names are validated (no absolute paths, no "..", no symlinks,
 * hard links or device entries), decompressed sizes are bounded per member, in total and
 * by ratio to the input, nesting depth is bounded, and a truncated or corrupt member is
 * reported by name. Nothing is ever written to disk.
 */
#ifndef FLASHRACK_PKG_WALK_H
#define FLASHRACK_PKG_WALK_H

#include "package/pkg_types.h"

#include <stddef.h>
#include <stdint.h>

enum {
    PKG_NODE_ROOT = 1u << 0,      /* the package itself (file or directory) */
    PKG_NODE_DIR = 1u << 1,       /* a directory root (extracted package) */
    PKG_NODE_CONTAINER = 1u << 2, /* a zip whose members follow as nodes */
};

struct pkg_node {
    char *path;          /* '/'-separated from the package root; "" for the root */
    const char *name;    /* basename: points into path, or the root's name */
    const uint8_t *data; /* file bytes (NULL for a directory root) */
    size_t size;
    int parent;     /* enclosing container or directory root; -1 for the root */
    unsigned depth; /* containers opened above this node (root members: 0 or 1) */
    unsigned flags;
    uint8_t *owned; /* decompressed bytes we own (freed with the walk) */
};

struct pkg_walk {
    struct pkg_node *nodes;
    size_t count, cap;
    char *root_name;
    char *context_name;   /* folder holding a single-file root (a name hint), or NULL */
    uint64_t input_bytes; /* bytes handed to us (root file or sum of directory files) */
    uint64_t total_out;   /* bytes decompressed so far */
    struct pkg_limits lim;
    struct pkg_warnings warnings;
};

/* Starts a walk whose root is named root_name (the file or directory name the user gave). */
int pkg_walk_init(struct pkg_walk *w, const char *root_name, const struct pkg_limits *lim);
void pkg_walk_free(struct pkg_walk *w);
/* Name of the folder a single file was found in: the last name tried for identity (a bare
 * at_command.binpkg says nothing; its folder QPY_BETA0003_EC800E_CNLC_FW does). */
int pkg_walk_set_context(struct pkg_walk *w, const char *folder_name);

/* Root is one file: data stays owned by the caller and must outlive the walk. Zips are
 * opened recursively. */
int pkg_walk_file(struct pkg_walk *w, const uint8_t *data, size_t len, char *err, size_t errlen);

/* Root is a directory: call pkg_walk_dir first, then pkg_walk_add for each regular file
 * (relpath '/'-separated, data owned by the caller). Zips among them are opened. */
int pkg_walk_dir(struct pkg_walk *w);
int pkg_walk_add(struct pkg_walk *w, const char *relpath, const uint8_t *data, size_t len,
                 char *err, size_t errlen);

/* Index of the node at path ("" = root), or -1. Exact match first, then case-insensitive. */
int pkg_walk_find(const struct pkg_walk *w, const char *path);
/* Nonzero when node idx lies (at any depth) inside node anc. */
int pkg_walk_is_inside(const struct pkg_walk *w, int idx, int anc);
/* Directory part of a node's path inside its container: for "a.zip/x/y.pac" and the
 * container "a.zip" it is "x". Written to buf. */
void pkg_walk_dirname(const char *path, char *buf, size_t buflen);

/* A pkg_files view over the walk. */
void pkg_walk_files(const struct pkg_walk *w, struct pkg_files *ret);

/* Nonzero when the bytes start like a zip archive (local header or empty-archive end). */
int pkg_is_zip(const uint8_t *data, size_t len);

/* Reads one zip held in memory without recursion (used by parsers handed a bare zip, such
 * as the ASR driver given the flashable .zip): same validation and limits. */
int pkg_walk_zip_shallow(struct pkg_walk *w, const uint8_t *data, size_t len, char *err,
                         size_t errlen);

#endif
