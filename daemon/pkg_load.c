/* Reading packages from disk, bounded, read-only (see pkg_load.h). */
#include "pkg_load.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_DIR_DEPTH 16

static int fail_errno(int e, char *err, size_t errlen, const char *what)
{
    snprintf(err, errlen, "%s: %s", what, strerror(e));
    return -e;
}

int pkg_load_sha256_fd(int fd, char out[65])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return -ENOMEM;
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    uint8_t buf[1 << 16];
    ssize_t n;
    off_t off = 0;
    while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
        EVP_DigestUpdate(ctx, buf, (size_t)n);
        off += n;
    }
    int r = n < 0 ? -errno : 0;
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    return r;
}

static int add_file(struct pkg_source *src, int dirfd, const char *name, const char *rel,
                    const struct pkg_limits *lim, char *err, size_t errlen)
{
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return fail_errno(errno, err, errlen, rel);
    struct stat st;
    int r = 0;
    if (fstat(fd, &st) != 0) {
        r = fail_errno(errno, err, errlen, rel);
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", rel);
        r = -EINVAL;
        goto out;
    }
    if ((uint64_t)st.st_size > lim->max_file ||
        src->total + (uint64_t)st.st_size > lim->max_total) {
        snprintf(err, errlen, "%s: %lld bytes is larger than the package limit", rel,
                 (long long)st.st_size);
        r = -EFBIG;
        goto out;
    }
    if (src->count >= lim->max_entries) {
        snprintf(err, errlen, "%s: more than %u files", src->path, lim->max_entries);
        r = -E2BIG;
        goto out;
    }
    struct pkg_load_file *grown = realloc(src->files, (src->count + 1) * sizeof(*grown));
    if (!grown) {
        r = -ENOMEM;
        goto out;
    }
    src->files = grown;
    struct pkg_load_file *f = &src->files[src->count];
    memset(f, 0, sizeof(*f));
    static const uint8_t empty[1];
    f->data = empty;
    if (st.st_size > 0) {
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            r = fail_errno(errno, err, errlen, rel);
            goto out;
        }
        f->map = m;
        f->data = m;
        f->len = (size_t)st.st_size;
    }
    f->rel = strdup(rel);
    if (!f->rel) {
        if (f->map)
            munmap(f->map, f->len);
        r = -ENOMEM;
        goto out;
    }
    src->count++;
    src->total += (uint64_t)st.st_size;
out:
    close(fd);
    return r;
}

static int walk_dir(struct pkg_source *src, int dirfd, const char *prefix, unsigned depth,
                    const struct pkg_limits *lim, char *err, size_t errlen)
{
    if (depth > MAX_DIR_DEPTH) {
        snprintf(err, errlen, "%s: folders nested deeper than %d", prefix, MAX_DIR_DEPTH);
        return -ELOOP;
    }
    int dfd = dup(dirfd);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        if (dfd >= 0)
            close(dfd);
        return fail_errno(errno, err, errlen, *prefix ? prefix : src->path);
    }
    int r = 0;
    struct dirent *e;
    while (r == 0 && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char rel[PKG_PATH_MAX];
        if (pkg_path_join(rel, sizeof(rel), prefix, e->d_name) < 0) {
            snprintf(err, errlen, "%s/...: path too long", prefix);
            r = -ENAMETOOLONG;
            break;
        }
        struct stat st;
        if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            r = fail_errno(errno, err, errlen, rel);
        } else if (S_ISLNK(st.st_mode)) {
            snprintf(err, errlen, "%s: is a symbolic link (not followed out of the package)", rel);
            r = -ELOOP;
        } else if (S_ISDIR(st.st_mode)) {
            int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
            if (sub < 0)
                r = fail_errno(errno, err, errlen, rel);
            else {
                r = walk_dir(src, sub, rel, depth + 1, lim, err, errlen);
                close(sub);
            }
        } else if (S_ISREG(st.st_mode)) {
            r = add_file(src, dirfd, e->d_name, rel, lim, err, errlen);
        } else {
            snprintf(err, errlen, "%s: is a device or special file", rel);
            r = -EINVAL;
        }
    }
    closedir(d);
    return r;
}

static int cmp_files(const void *a, const void *b)
{
    return strcmp(((const struct pkg_load_file *)a)->rel, ((const struct pkg_load_file *)b)->rel);
}

/* Tree hash of a directory: SHA-256 over, per file in path order, the path, NUL, the size in
 * decimal, NUL, and the bytes. Same tree, same hash, wherever it was extracted. */
static void tree_hash(struct pkg_source *src)
{
    qsort(src->files, src->count, sizeof(src->files[0]), cmp_files);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return;
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    for (size_t i = 0; i < src->count; i++) {
        char size[32];
        int n = snprintf(size, sizeof(size), "%zu", src->files[i].len);
        EVP_DigestUpdate(ctx, src->files[i].rel, strlen(src->files[i].rel) + 1);
        EVP_DigestUpdate(ctx, size, (size_t)n + 1);
        EVP_DigestUpdate(ctx, src->files[i].data, src->files[i].len);
    }
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    for (unsigned i = 0; i < 32; i++)
        snprintf(src->sha256 + 2 * i, 3, "%02x", md[i]);
}

static int load_dir(struct pkg_source *src, const char *dir, const struct pkg_limits *lim,
                    char *err, size_t errlen)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return fail_errno(errno, err, errlen, dir);
    src->is_dir = 1;
    int r = walk_dir(src, fd, "", 0, lim, err, errlen);
    close(fd);
    return r;
}

/* For a .blf: its folder. For update/firehose/partition.mbn: the folder above update/. */
static char *handle_root(const char *path, int mbn)
{
    char *copy = strdup(path);
    if (!copy)
        return NULL;
    char *dir = strdup(dirname(copy));
    free(copy);
    if (!dir || !mbn)
        return dir;
    for (int i = 0; i < 2; i++) {
        char *tmp = strdup(dir);
        if (!tmp)
            break;
        const char *base = basename(tmp);
        int climb = !strcasecmp(base, "firehose") || !strcasecmp(base, "update");
        free(tmp);
        if (!climb)
            break;
        char *c = strdup(dir);
        char *up = c ? strdup(dirname(c)) : NULL;
        free(c);
        if (!up)
            break;
        free(dir);
        dir = up;
    }
    return dir;
}

int pkg_load_path(const char *path, const struct pkg_limits *lim, struct pkg_source **ret,
                  char *err, size_t errlen)
{
    struct pkg_limits def;
    if (!lim) {
        pkg_limits_default(&def);
        lim = &def;
    }
    struct stat st;
    if (stat(path, &st) != 0)
        return fail_errno(errno, err, errlen, path);
    struct pkg_source *src = calloc(1, sizeof(*src));
    if (!src)
        return -ENOMEM;
    int r = -ENOMEM;
    src->path = strdup(path);
    char *tmp = strdup(path);
    if (!src->path || !tmp)
        goto fail;
    /* Trailing slashes would make the name empty. */
    for (size_t n = strlen(tmp); n > 1 && tmp[n - 1] == '/'; n--)
        tmp[n - 1] = '\0';
    src->root_name = strdup(basename(tmp));
    free(tmp);
    if (!src->root_name)
        goto fail;
    if (S_ISDIR(st.st_mode)) {
        if ((r = load_dir(src, path, lim, err, errlen)) < 0)
            goto fail;
        tree_hash(src);
    } else if (S_ISREG(st.st_mode)) {
        int mbn = pkg_str_ends_with_ci(path, ".mbn");
        if ((uint64_t)st.st_size > lim->max_file) {
            snprintf(err, errlen, "%s: %lld bytes is larger than the package limit (%llu)", path,
                     (long long)st.st_size, (unsigned long long)lim->max_file);
            r = -EFBIG;
            goto fail;
        }
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            r = fail_errno(errno, err, errlen, path);
            goto fail;
        }
        r = pkg_load_sha256_fd(fd, src->sha256);
        close(fd);
        if (r < 0) {
            r = fail_errno(-r, err, errlen, path);
            goto fail;
        }
        if (mbn || pkg_str_ends_with_ci(path, ".blf")) {
            char *root = handle_root(path, mbn);
            char *abs_root = root ? realpath(root, NULL) : NULL;
            char *abs_file = realpath(path, NULL);
            size_t rl = abs_root ? strlen(abs_root) : 0;
            if (abs_root && abs_file && strncmp(abs_file, abs_root, rl) == 0 &&
                abs_file[rl] == '/') {
                src->prefer = strdup(abs_file + rl + 1);
                free(src->root_name);
                src->root_name = strdup(basename(abs_root));
                r = load_dir(src, abs_root, lim, err, errlen);
            } else {
                snprintf(err, errlen, "%s: cannot load the folder around it", path);
                r = -EINVAL;
            }
            free(root);
            free(abs_root);
            free(abs_file);
            if (r < 0)
                goto fail;
        } else {
            char *copy = strdup(path);
            char *dir = copy ? dirname(copy) : NULL;
            char *absdir = dir ? realpath(dir, NULL) : NULL;
            if (absdir && strcmp(absdir, "/") != 0)
                src->context = strdup(strrchr(absdir, '/') + 1);
            free(absdir);
            int dfd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
            r = dfd >= 0 ? add_file(src, dfd, src->root_name, src->root_name, lim, err, errlen)
                         : fail_errno(errno, err, errlen, path);
            if (dfd >= 0)
                close(dfd);
            free(copy);
            if (r < 0)
                goto fail;
        }
    } else {
        snprintf(err, errlen, "%s: not a file or directory", path);
        r = -EINVAL;
        goto fail;
    }
    *ret = src;
    return 0;
fail:
    pkg_source_free(src);
    return r;
}

int pkg_load_open(const struct pkg_source *src, const struct pkg_limits *lim, struct pkg **ret,
                  char *err, size_t errlen)
{
    struct pkg_walk w;
    int r = pkg_walk_init(&w, src->root_name, lim);
    if (r == 0 && src->context)
        r = pkg_walk_set_context(&w, src->context);
    if (r < 0) {
        pkg_walk_free(&w);
        return r;
    }
    if (!src->is_dir) {
        r = src->count == 1 ? pkg_walk_file(&w, src->files[0].data, src->files[0].len, err, errlen)
                            : -EINVAL;
    } else {
        r = pkg_walk_dir(&w);
        for (size_t i = 0; r == 0 && i < src->count; i++)
            r = pkg_walk_add(&w, src->files[i].rel, src->files[i].data, src->files[i].len, err,
                             errlen);
    }
    if (r < 0) {
        pkg_walk_free(&w);
        return r;
    }
    return pkg_open_walk(&w, src->prefer, ret, err, errlen);
}

void pkg_source_free(struct pkg_source *src)
{
    if (!src)
        return;
    for (size_t i = 0; i < src->count; i++) {
        if (src->files[i].map)
            munmap(src->files[i].map, src->files[i].len);
        free(src->files[i].rel);
    }
    free(src->files);
    free(src->path);
    free(src->root_name);
    free(src->prefer);
    free(src->context);
    free(src);
}
