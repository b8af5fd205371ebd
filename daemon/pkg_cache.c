/* Content-addressed package cache with worker-thread loading (see pkg_cache.h). */
#include "pkg_cache.h"

#include "pkg_load.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct pkg_entry {
    unsigned refs;
    char sha256[65];
    char *path;             /* cached file, NULL when loaded in place */
    struct pkg_source *src; /* read-only mappings */
    struct pkg *pkg;
    struct pkg_entry *next; /* cache list */
    int listed;
};

struct pkg_cache {
    uv_loop_t *loop;
    char *dir;
    struct pkg_limits lim;
    struct pkg_entry *entries;
    size_t pending;
};

struct load_req {
    uv_work_t work;
    struct pkg_cache *cache; /* read on the worker: dir and lim only, never changed */
    char *path;
    pkg_cache_cb cb;
    void *user;
    int in_place; /* pkg_cache_load_in_place: no copy */
    struct pkg_entry *result;
    int status;
    char err[512];
};

int pkg_cache_new(uv_loop_t *loop, const char *dir, const struct pkg_limits *lim,
                  struct pkg_cache **ret)
{
    if (mkdir(dir, 0750) != 0 && errno != EEXIST)
        return -errno;
    struct pkg_cache *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->loop = loop;
    c->dir = strdup(dir);
    if (!c->dir) {
        free(c);
        return -ENOMEM;
    }
    if (lim)
        c->lim = *lim;
    else
        pkg_limits_default(&c->lim);
    *ret = c;
    return 0;
}

static void entry_free(struct pkg_entry *e)
{
    pkg_free(e->pkg);
    pkg_source_free(e->src);
    free(e->path);
    free(e);
}

int pkg_cache_free(struct pkg_cache *c)
{
    if (!c)
        return 0;
    if (c->pending)
        return -EBUSY;
    struct pkg_entry *e = c->entries;
    while (e) {
        struct pkg_entry *next = e->next;
        e->listed = 0;
        e->next = NULL;
        pkg_entry_unref(e);
        e = next;
    }
    free(c->dir);
    free(c);
    return 0;
}

/* ---- worker side ----------------------------------------------------------------------- */

/* Streams src into a temporary file in the cache directory while hashing it, then moves it
 * to <dir>/<sha>/<name>. An existing copy wins (same bytes). Returns the final path. */
static int copy_in(const struct pkg_cache *c, const char *path, char **ret_path, char sha[65],
                   char *err, size_t errlen)
{
    int in = open(path, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -errno;
    }
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s/.incoming-XXXXXX", c->dir);
    int out = mkstemp(tmp);
    if (out < 0) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", c->dir, strerror(e));
        close(in);
        return -e;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    uint8_t buf[1 << 16];
    ssize_t n;
    uint64_t total = 0;
    int r = 0;
    while ((n = read(in, buf, sizeof(buf))) > 0) {
        total += (uint64_t)n;
        if (total > c->lim.max_file) {
            snprintf(err, errlen, "%s: larger than the package limit (%llu bytes)", path,
                     (unsigned long long)c->lim.max_file);
            r = -EFBIG;
            break;
        }
        EVP_DigestUpdate(ctx, buf, (size_t)n);
        if (write(out, buf, (size_t)n) != n) {
            r = -errno;
            snprintf(err, errlen, "%.300s: %s", tmp, strerror(errno));
            break;
        }
    }
    if (n < 0 && r == 0) {
        r = -errno;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
    }
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    close(in);
    if (r == 0 && fsync(out) != 0)
        r = -errno;
    close(out);
    if (r < 0) {
        unlink(tmp);
        return r;
    }
    for (unsigned i = 0; i < 32; i++)
        snprintf(sha + 2 * i, 3, "%02x", md[i]);
    char *copy = strdup(path);
    char dir[4096], final[8192];
    snprintf(dir, sizeof(dir), "%s/%s", c->dir, sha);
    snprintf(final, sizeof(final), "%s/%s", dir, copy ? basename(copy) : "package");
    free(copy);
    if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
        r = -errno;
        snprintf(err, errlen, "%.300s: %s", dir, strerror(errno));
        unlink(tmp);
        return r;
    }
    struct stat st;
    /* Same content under any name: keep the copy that is there (it may be mapped). */
    if (stat(final, &st) == 0) {
        unlink(tmp);
    } else if (rename(tmp, final) != 0) {
        r = -errno;
        snprintf(err, errlen, "%.300s: %s", final, strerror(errno));
        unlink(tmp);
        return r;
    }
    chmod(final, 0440);
    *ret_path = strdup(final);
    return *ret_path ? 0 : -ENOMEM;
}

static void work_cb(uv_work_t *w)
{
    struct load_req *req = w->data;
    const struct pkg_cache *c = req->cache;
    struct pkg_entry *e = calloc(1, sizeof(*e));
    if (!e) {
        req->status = -ENOMEM;
        return;
    }
    struct stat st;
    const char *load = req->path;
    int r = 0;
    if (stat(req->path, &st) != 0) {
        r = -errno;
        snprintf(req->err, sizeof(req->err), "%s: %s", req->path, strerror(errno));
    } else if (S_ISREG(st.st_mode) && !req->in_place && !pkg_str_ends_with_ci(req->path, ".blf") &&
               !pkg_str_ends_with_ci(req->path, ".mbn")) {
        r = copy_in(c, req->path, &e->path, e->sha256, req->err, sizeof(req->err));
        load = e->path;
    }
    if (r == 0)
        r = pkg_load_path(load, &c->lim, &e->src, req->err, sizeof(req->err));
    if (r == 0) {
        if (!e->path)
            memcpy(e->sha256, e->src->sha256, sizeof(e->sha256));
        r = pkg_load_open(e->src, &c->lim, &e->pkg, req->err, sizeof(req->err));
    }
    if (r < 0) {
        entry_free(e);
        req->status = r;
        return;
    }
    e->refs = 1;
    req->result = e;
}

/* ---- loop side ---------------------------------------------------------------------------- */

static void after_cb(uv_work_t *w, int status)
{
    struct load_req *req = w->data;
    struct pkg_cache *c = req->cache;
    c->pending--;
    struct pkg_entry *e = req->result;
    if (status == UV_ECANCELED && e) {
        entry_free(e);
        e = NULL;
        req->status = -ECANCELED;
        snprintf(req->err, sizeof(req->err), "%s: load cancelled", req->path);
    }
    if (e) {
        struct pkg_entry *have = pkg_cache_find(c, e->sha256);
        if (have) {
            entry_free(e); /* the same bytes are already shared */
            e = have;
        } else {
            e->listed = 1;
            e->next = c->entries;
            c->entries = e;
            pkg_entry_ref(e); /* one for the cache, one for the callee */
        }
        req->cb(req->user, 0, e, NULL);
    } else {
        req->cb(req->user, req->status ? req->status : -EIO, NULL,
                req->err[0] ? req->err : "package load failed");
    }
    free(req->path);
    free(req);
}

static int queue_load(struct pkg_cache *c, const char *path, int in_place, pkg_cache_cb cb,
                      void *user)
{
    struct load_req *req = calloc(1, sizeof(*req));
    if (!req)
        return -ENOMEM;
    req->path = strdup(path);
    if (!req->path) {
        free(req);
        return -ENOMEM;
    }
    req->cache = c;
    req->cb = cb;
    req->user = user;
    req->in_place = in_place;
    req->work.data = req;
    int r = uv_queue_work(c->loop, &req->work, work_cb, after_cb);
    if (r < 0) {
        free(req->path);
        free(req);
        return r;
    }
    c->pending++;
    return 0;
}

int pkg_cache_load(struct pkg_cache *c, const char *path, pkg_cache_cb cb, void *user)
{
    return queue_load(c, path, 0, cb, user);
}

int pkg_cache_load_in_place(struct pkg_cache *c, const char *path, pkg_cache_cb cb, void *user)
{
    return queue_load(c, path, 1, cb, user);
}

size_t pkg_cache_pending(const struct pkg_cache *c)
{
    return c->pending;
}

struct pkg_entry *pkg_cache_find(struct pkg_cache *c, const char *sha256)
{
    for (struct pkg_entry *e = c->entries; e; e = e->next)
        if (strcmp(e->sha256, sha256) == 0)
            return pkg_entry_ref(e);
    return NULL;
}

size_t pkg_cache_count(const struct pkg_cache *c)
{
    size_t n = 0;
    for (const struct pkg_entry *e = c->entries; e; e = e->next)
        n++;
    return n;
}

struct pkg_entry *pkg_entry_ref(struct pkg_entry *e)
{
    if (e)
        e->refs++;
    return e;
}

void pkg_entry_unref(struct pkg_entry *e)
{
    if (e && --e->refs == 0)
        entry_free(e);
}

unsigned pkg_entry_refs(const struct pkg_entry *e)
{
    return e->refs;
}

const struct pkg *pkg_entry_pkg(const struct pkg_entry *e)
{
    return e->pkg;
}

const char *pkg_entry_sha256(const struct pkg_entry *e)
{
    return e->sha256;
}

const char *pkg_entry_path(const struct pkg_entry *e)
{
    return e->path;
}

uint64_t pkg_entry_size(const struct pkg_entry *e)
{
    return e->src ? e->src->total : 0;
}

const uint8_t *pkg_entry_flash(const struct pkg_entry *e, size_t *ret_len)
{
    *ret_len = e->pkg->flash_len;
    return e->pkg->flash_data;
}
