/* The container walk (see pkg_walk.h). libarchive reads zips from memory only. */
#include "package/pkg_walk.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Below this many decompressed bytes the ratio guard stays quiet: small real packages carry
 * blank file-system images (all 0xFF) that compress a thousandfold. */
#define RATIO_FLOOR (16ull << 20)

int pkg_is_zip(const uint8_t *data, size_t len)
{
    if (len < 4 || data[0] != 'P' || data[1] != 'K')
        return 0;
    return (data[2] == 3 && data[3] == 4) || (data[2] == 5 && data[3] == 6);
}

int pkg_walk_init(struct pkg_walk *w, const char *root_name, const struct pkg_limits *lim)
{
    memset(w, 0, sizeof(*w));
    if (lim)
        w->lim = *lim;
    else
        pkg_limits_default(&w->lim);
    w->root_name = strdup(root_name ? root_name : "");
    return w->root_name ? 0 : -ENOMEM;
}

int pkg_walk_set_context(struct pkg_walk *w, const char *folder_name)
{
    free(w->context_name);
    w->context_name = folder_name ? strdup(folder_name) : NULL;
    return !folder_name || w->context_name ? 0 : -ENOMEM;
}

void pkg_walk_free(struct pkg_walk *w)
{
    for (size_t i = 0; i < w->count; i++) {
        free(w->nodes[i].path);
        free(w->nodes[i].owned);
    }
    free(w->nodes);
    free(w->root_name);
    free(w->context_name);
    memset(w, 0, sizeof(*w));
}

static int add_node(struct pkg_walk *w, const char *path, const uint8_t *data, size_t size,
                    int parent, unsigned depth, unsigned flags)
{
    if (w->count >= (size_t)w->lim.max_entries + 1)
        return -E2BIG;
    if (w->count == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 32;
        struct pkg_node *grown = realloc(w->nodes, cap * sizeof(*grown));
        if (!grown)
            return -ENOMEM;
        w->nodes = grown;
        w->cap = cap;
    }
    char *copy = strdup(path);
    if (!copy)
        return -ENOMEM;
    struct pkg_node *n = &w->nodes[w->count];
    memset(n, 0, sizeof(*n));
    n->path = copy;
    n->name = (flags & PKG_NODE_ROOT) ? w->root_name : pkg_basename(copy);
    n->data = data;
    n->size = size;
    n->parent = parent;
    n->depth = depth;
    n->flags = flags;
    return (int)w->count++;
}

/* Prefix for messages: the name the user gave, so "pkg.zip: member 'x' is truncated". */
static const char *rootname(const struct pkg_walk *w)
{
    return w->root_name && *w->root_name ? w->root_name : "package";
}

/* Cleans a member name into dst. Returns 0, 1 to skip the member silently (OS junk), or a
 * negative errno with err naming the problem. */
static int clean_name(const struct pkg_walk *w, const char *raw, char *dst, size_t dstlen,
                      char *err, size_t errlen)
{
    size_t n = 0;
    const char *p = raw;
    if (raw[0] == '/' || raw[0] == '\\' ||
        (((raw[0] | 0x20) >= 'a' && (raw[0] | 0x20) <= 'z') && raw[1] == ':'))
        return pkg_fail(err, errlen, "%s: member '%s' has an absolute path", rootname(w), raw);
    while (*p) {
        /* One path component at a time; '\' is a separator in zips made on Windows. */
        const char *start = p;
        while (*p && *p != '/' && *p != '\\')
            p++;
        size_t clen = (size_t)(p - start);
        if (*p)
            p++;
        if (clen == 0 || (clen == 1 && start[0] == '.'))
            continue;
        if (clen == 2 && start[0] == '.' && start[1] == '.')
            return pkg_fail(err, errlen, "%s: member '%s' leaves the package ('..' in its path)",
                            rootname(w), raw);
        if (n + clen + 2 > dstlen)
            return pkg_fail(err, errlen, "%s: member name too long: '%.80s...'", rootname(w), raw);
        if (n)
            dst[n++] = '/';
        for (size_t i = 0; i < clen; i++) {
            unsigned char c = (unsigned char)start[i];
            /* Names end up in JSON and logs: no control bytes, non-ASCII kept as '?' because
             * zips made on Chinese Windows carry GBK names that are not UTF-8. */
            dst[n++] = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
        }
    }
    dst[n] = '\0';
    if (n == 0)
        return 1;
    const char *base = pkg_basename(dst);
    if (strncmp(dst, "__MACOSX/", 9) == 0 || strncmp(base, "._", 2) == 0 ||
        strcmp(base, ".DS_Store") == 0 || strcasecmp(base, "Thumbs.db") == 0)
        return 1;
    return 0;
}

/* Zips are opened when their name says they may be a container: ".zip", ".bin" (new
 * official packages are zips renamed .bin) or no extension. A ".docx" stays a file. */
static int may_open(const char *name, const uint8_t *data, size_t len)
{
    if (!pkg_is_zip(data, len))
        return 0;
    const char *dot = strrchr(name, '.');
    return !dot || strcasecmp(dot, ".zip") == 0 || strcasecmp(dot, ".bin") == 0;
}

static int account(struct pkg_walk *w, uint64_t more, const char *member, char *err, size_t errlen)
{
    w->total_out += more;
    if (w->total_out > w->lim.max_total)
        return pkg_failc(-EFBIG, err, errlen,
                         "%s: expands to more than %llu bytes (limit) at member '%s'", rootname(w),
                         (unsigned long long)w->lim.max_total, member);
    uint64_t allowed = (uint64_t)w->lim.max_ratio * w->input_bytes + RATIO_FLOOR;
    if (w->total_out > allowed)
        return pkg_failc(-EFBIG, err, errlen, "%s: member '%s' expands more than %u:1 (zip bomb?)",
                         rootname(w), member, w->lim.max_ratio);
    return 0;
}

static int read_member(struct pkg_walk *w, struct archive *a, struct archive_entry *e,
                       const char *path, uint8_t **ret, size_t *ret_len, char *err, size_t errlen)
{
    int64_t declared = archive_entry_size_is_set(e) ? archive_entry_size(e) : -1;
    if (declared > 0 && (uint64_t)declared > w->lim.max_file)
        return pkg_failc(-EFBIG, err, errlen,
                         "%s: member '%s' is too large (%lld bytes, limit %llu)", rootname(w), path,
                         (long long)declared, (unsigned long long)w->lim.max_file);
    /* A bomb declares its size honestly: refuse before inflating a byte of it. */
    if (declared > 0 && account(w, (uint64_t)declared, path, err, errlen) < 0)
        return -EFBIG;
    if (declared > 0)
        w->total_out -= (uint64_t)declared;
    /* Grow as bytes arrive: a lying header must not make us allocate what is not there. */
    size_t limit = declared >= 0 ? (size_t)declared : (size_t)w->lim.max_file;
    size_t cap = limit < 65536 ? limit : 65536;
    uint8_t *buf = malloc(cap ? cap : 1);
    size_t len = 0;
    int r = 0;
    if (!buf)
        return -ENOMEM;
    for (;;) {
        if (len == cap) {
            if (len == limit) {
                /* Read one more byte to catch a member longer than it says. */
                uint8_t extra;
                la_ssize_t n = archive_read_data(a, &extra, 1);
                if (n == 0)
                    break;
                if (declared < 0)
                    r = pkg_failc(-EFBIG, err, errlen, "%s: member '%s' is too large (limit %llu)",
                                  rootname(w), path, (unsigned long long)w->lim.max_file);
                else if (n > 0)
                    r = pkg_fail(err, errlen, "%s: member '%s' is corrupt (longer than declared)",
                                 rootname(w), path);
                else
                    r = pkg_fail(err, errlen, "%s: member '%s' is corrupt: %s", rootname(w), path,
                                 archive_error_string(a) ? archive_error_string(a) : "read error");
                goto fail;
            }
            size_t ncap = cap * 2 < limit ? cap * 2 : limit;
            uint8_t *grown = realloc(buf, ncap);
            if (!grown) {
                r = -ENOMEM;
                goto fail;
            }
            buf = grown;
            cap = ncap;
        }
        la_ssize_t n = archive_read_data(a, buf + len, cap - len);
        if (n == 0)
            break;
        if (n < 0) {
            const char *why = archive_error_string(a);
            if (why && strcasestr(why, "truncated"))
                r = pkg_fail(err, errlen,
                             "%s: member '%s' is truncated (expected %lld bytes, got %zu)",
                             rootname(w), path, (long long)declared, len);
            else
                r = pkg_fail(err, errlen, "%s: member '%s' is corrupt: %s", rootname(w), path,
                             why ? why : "read error");
            goto fail;
        }
        len += (size_t)n;
        if ((r = account(w, (uint64_t)n, path, err, errlen)) < 0)
            goto fail;
    }
    if (declared >= 0 && len != (size_t)declared) {
        r = pkg_fail(err, errlen, "%s: member '%s' is truncated (expected %lld bytes, got %zu)",
                     rootname(w), path, (long long)declared, len);
        goto fail;
    }
    *ret = buf;
    *ret_len = len;
    return 0;
fail:
    free(buf);
    return r;
}

static int expand(struct pkg_walk *w, int idx, int recursive, char *err, size_t errlen);

static int add_member(struct pkg_walk *w, int cidx, unsigned depth, struct archive *a,
                      struct archive_entry *e, int recursive, char *err, size_t errlen)
{
    const char *raw = archive_entry_pathname(e);
    if (!raw)
        raw = archive_entry_pathname_utf8(e);
    if (!raw) {
        pkg_warn(&w->warnings, "a member with an unreadable name was skipped");
        return 0;
    }
    char clean[PKG_PATH_MAX];
    int r = clean_name(w, raw, clean, sizeof(clean), err, errlen);
    if (r != 0)
        return r < 0 ? r : 0;
    mode_t type = archive_entry_filetype(e);
    if (type == AE_IFDIR)
        return 0;
    if (type == AE_IFLNK)
        return pkg_fail(err, errlen, "%s: member '%s' is a symbolic link", rootname(w), clean);
    if (archive_entry_hardlink(e))
        return pkg_fail(err, errlen, "%s: member '%s' is a hard link", rootname(w), clean);
    if (type != AE_IFREG && type != 0)
        return pkg_fail(err, errlen, "%s: member '%s' is a device or special file", rootname(w),
                        clean);
    if (archive_entry_is_encrypted(e))
        return pkg_fail(err, errlen, "%s: member '%s' is encrypted", rootname(w), clean);

    const char *cpath = w->nodes[cidx].path;
    char full[PKG_PATH_MAX];
    if (pkg_path_join(full, sizeof(full), cpath, clean) < 0)
        return pkg_fail(err, errlen, "%s: member path too long: '%.80s...'", rootname(w), clean);
    for (size_t i = (size_t)cidx + 1; i < w->count; i++)
        if (w->nodes[i].parent == cidx && strcmp(w->nodes[i].path, full) == 0) {
            pkg_warn(&w->warnings, "duplicate member '%s': the second copy was ignored", full);
            return 0;
        }

    uint8_t *data = NULL;
    size_t len = 0;
    if ((r = read_member(w, a, e, full, &data, &len, err, errlen)) < 0)
        return r;
    int child = add_node(w, full, data, len, cidx, depth, 0);
    if (child < 0) {
        free(data);
        if (child == -E2BIG)
            return pkg_failc(-E2BIG, err, errlen, "%s: more than %u members", rootname(w),
                             w->lim.max_entries);
        return child;
    }
    w->nodes[child].owned = data;
    if (recursive && may_open(w->nodes[child].name, data, len))
        return expand(w, child, 1, err, errlen);
    return 0;
}

static int expand(struct pkg_walk *w, int idx, int recursive, char *err, size_t errlen)
{
    unsigned depth = w->nodes[idx].depth + 1;
    const char *shown = *w->nodes[idx].path ? w->nodes[idx].path : rootname(w);
    if (depth > w->lim.max_depth)
        return pkg_failc(-ELOOP, err, errlen, "%s: '%s' nests archives deeper than %u levels",
                         rootname(w), shown, w->lim.max_depth);
    struct archive *a = archive_read_new();
    if (!a)
        return -ENOMEM;
    archive_read_support_format_zip(a);
    int r = 0;
    if (archive_read_open_memory(a, w->nodes[idx].data, w->nodes[idx].size) != ARCHIVE_OK) {
        r = pkg_fail(err, errlen, "%s: '%s' is not a readable zip: %s", rootname(w), shown,
                     archive_error_string(a) ? archive_error_string(a) : "unknown error");
        goto out;
    }
    w->nodes[idx].flags |= PKG_NODE_CONTAINER;
    for (;;) {
        struct archive_entry *e;
        int h = archive_read_next_header(a, &e);
        if (h == ARCHIVE_EOF)
            break;
        if (h == ARCHIVE_WARN) {
            pkg_warn(&w->warnings, "%s: %s", shown,
                     archive_error_string(a) ? archive_error_string(a) : "warning");
        } else if (h != ARCHIVE_OK) {
            const char *why = archive_error_string(a);
            r = pkg_fail(err, errlen, "%s: '%s' is truncated or corrupt: %s", rootname(w), shown,
                         why ? why : "bad member header");
            goto out;
        }
        if ((r = add_member(w, idx, depth, a, e, recursive, err, errlen)) < 0)
            goto out;
    }
out:
    archive_read_free(a);
    return r;
}

int pkg_walk_file(struct pkg_walk *w, const uint8_t *data, size_t len, char *err, size_t errlen)
{
    w->input_bytes = len;
    int root = add_node(w, "", data, len, -1, 0, PKG_NODE_ROOT);
    if (root < 0)
        return root;
    if (pkg_is_zip(data, len))
        return expand(w, root, 1, err, errlen);
    return 0;
}

int pkg_walk_zip_shallow(struct pkg_walk *w, const uint8_t *data, size_t len, char *err,
                         size_t errlen)
{
    w->input_bytes = len;
    int root = add_node(w, "", data, len, -1, 0, PKG_NODE_ROOT);
    if (root < 0)
        return root;
    if (!pkg_is_zip(data, len))
        return pkg_fail(err, errlen, "%s: not a zip archive", rootname(w));
    return expand(w, root, 0, err, errlen);
}

int pkg_walk_dir(struct pkg_walk *w)
{
    int root = add_node(w, "", NULL, 0, -1, 0, PKG_NODE_ROOT | PKG_NODE_DIR);
    return root < 0 ? root : 0;
}

int pkg_walk_add(struct pkg_walk *w, const char *relpath, const uint8_t *data, size_t len,
                 char *err, size_t errlen)
{
    char clean[PKG_PATH_MAX];
    int r = clean_name(w, relpath, clean, sizeof(clean), err, errlen);
    if (r != 0)
        return r < 0 ? r : 0;
    if (len > w->lim.max_file)
        return pkg_failc(-EFBIG, err, errlen, "%s: file '%s' is too large (%zu bytes, limit %llu)",
                         rootname(w), clean, len, (unsigned long long)w->lim.max_file);
    w->input_bytes += len;
    int idx = add_node(w, clean, data, len, 0, 0, 0);
    if (idx == -E2BIG)
        return pkg_failc(-E2BIG, err, errlen, "%s: more than %u files", rootname(w),
                         w->lim.max_entries);
    if (idx < 0)
        return idx;
    if (may_open(w->nodes[idx].name, data, len))
        return expand(w, idx, 1, err, errlen);
    return 0;
}

int pkg_walk_find(const struct pkg_walk *w, const char *path)
{
    for (size_t i = 0; i < w->count; i++)
        if (strcmp(w->nodes[i].path, path) == 0)
            return (int)i;
    for (size_t i = 0; i < w->count; i++)
        if (strcasecmp(w->nodes[i].path, path) == 0)
            return (int)i;
    return -1;
}

int pkg_walk_is_inside(const struct pkg_walk *w, int idx, int anc)
{
    for (int p = idx >= 0 ? w->nodes[idx].parent : -1; p >= 0; p = w->nodes[p].parent)
        if (p == anc)
            return 1;
    return 0;
}

void pkg_walk_dirname(const char *path, char *buf, size_t buflen)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    if (n >= buflen)
        n = buflen - 1;
    memcpy(buf, path, n);
    buf[n] = '\0';
}

static const uint8_t *files_get(const void *ctx, const char *path, size_t *ret_len)
{
    const struct pkg_walk *w = ctx;
    int i = pkg_walk_find(w, path);
    if (i < 0 || (w->nodes[i].flags & PKG_NODE_DIR) || !w->nodes[i].data)
        return NULL;
    *ret_len = w->nodes[i].size;
    return w->nodes[i].data;
}

static const char *files_list(const void *ctx, const char *dir, size_t i)
{
    const struct pkg_walk *w = ctx;
    size_t dlen = strlen(dir);
    for (size_t k = 1; k < w->count; k++) {
        const char *p = w->nodes[k].path;
        if (dlen) {
            if (strncasecmp(p, dir, dlen) != 0 || p[dlen] != '/')
                continue;
            p += dlen + 1;
        }
        if (strchr(p, '/'))
            continue;
        if (i-- == 0)
            return w->nodes[k].path;
    }
    return NULL;
}

void pkg_walk_files(const struct pkg_walk *w, struct pkg_files *ret)
{
    ret->get = files_get;
    ret->list = files_list;
    ret->ctx = w;
}
