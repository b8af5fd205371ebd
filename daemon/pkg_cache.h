/* Package cache: packages are content-addressed by SHA-256 in the cache directory
 * (<dir>/<sha256>/<original file name>), loaded, hashed and parsed on a libuv worker
 * (uv_queue_work), and shared read-only (mmap) by every job that flashes them.
 *
 * Ownership: an entry is reference-counted. The cache holds one reference while the entry is
 * listed; every load callback and every find hands the caller one more, which the caller
 * drops with pkg_entry_unref when its job is done. The mapping stays valid while any
 * reference lives, even after the cache dropped it. Loop thread only, except the work that
 * runs on the worker (which touches no cache state).
 */
#ifndef FLASHRACK_PKG_CACHE_H
#define FLASHRACK_PKG_CACHE_H

#include "package/pkg.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct pkg_cache;
struct pkg_entry;

/* status 0: entry is a new reference for the callee. status < 0: entry is NULL and err
 * names the problem. */
typedef void (*pkg_cache_cb)(void *user, int status, struct pkg_entry *entry, const char *err);

int pkg_cache_new(uv_loop_t *loop, const char *dir, const struct pkg_limits *lim,
                  struct pkg_cache **ret);
/* Drops the cache's references. Returns -EBUSY (and frees nothing) while loads are queued:
 * run the loop until their callbacks came. */
int pkg_cache_free(struct pkg_cache *c);

/* Copies path into the cache (regular files; a directory, .blf or .mbn handle is loaded in
 * place), hashes, parses; cb runs on the loop thread. Two loads of the same bytes yield the
 * same entry. */
int pkg_cache_load(struct pkg_cache *c, const char *path, pkg_cache_cb cb, void *user);
/* The same for a regular file the caller keeps unchanged for as long as the daemon runs (the
 * API's catalogue, <data_dir>/packages/<sha256>/<name>, read-only): loaded where it is,
 * without a copy into the cache. */
int pkg_cache_load_in_place(struct pkg_cache *c, const char *path, pkg_cache_cb cb, void *user);
size_t pkg_cache_pending(const struct pkg_cache *c);

/* A new reference to the entry with this SHA-256, or NULL. */
struct pkg_entry *pkg_cache_find(struct pkg_cache *c, const char *sha256);
size_t pkg_cache_count(const struct pkg_cache *c);

struct pkg_entry *pkg_entry_ref(struct pkg_entry *e);
void pkg_entry_unref(struct pkg_entry *e);
unsigned pkg_entry_refs(const struct pkg_entry *e);
const struct pkg *pkg_entry_pkg(const struct pkg_entry *e);
const char *pkg_entry_sha256(const struct pkg_entry *e);
/* The cached file (NULL for packages loaded in place). */
const char *pkg_entry_path(const struct pkg_entry *e);
/* Bytes the package occupies on disk (the file, or every file of its folder). */
uint64_t pkg_entry_size(const struct pkg_entry *e);
/* Bytes of the flashable file (read-only mapping or decompressed member). */
const uint8_t *pkg_entry_flash(const struct pkg_entry *e, size_t *ret_len);

#endif
