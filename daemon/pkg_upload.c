/* Streaming an upload into the catalogue's temp area (see pkg_upload.h). */
#include "pkg_upload.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TEMP_PREFIX ".upload-"

struct pkg_upload {
    char folder[PATH_MAX];
    char path[PATH_MAX + PKG_UPLOAD_NAME_MAX + 2];
    char name[PKG_UPLOAD_NAME_MAX + 1];
    int fd;
    EVP_MD_CTX *md;
    uint64_t size, limit;
    int failed;    /* 0, or the -errno of the write that failed */
    int committed; /* the folder is the catalogue's now */
};

int pkg_upload_check_name(const char *name, char *err, size_t errlen)
{
    size_t n = name ? strlen(name) : 0;
    const char *why = NULL;
    if (n == 0)
        why = "is empty";
    else if (n > PKG_UPLOAD_NAME_MAX)
        why = "is longer than 128 bytes";
    else if (name[0] == '.')
        why = "starts with '.'";
    else if (name[0] == ' ' || name[n - 1] == ' ')
        why = "starts or ends with a space";
    for (size_t i = 0; !why && i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c == '/' || c == '\\')
            why = "contains a '/' or '\\' (a plain file name, no folders)";
        else if (c < 0x20 || c > 0x7e)
            why = "contains a control character or a byte that is not printable ASCII";
    }
    if (!why)
        return 0;
    snprintf(err, errlen, "the file name %s", why);
    return -EINVAL;
}

static void remove_folder(struct pkg_upload *u)
{
    if (u->fd >= 0) {
        close(u->fd);
        u->fd = -1;
    }
    if (u->committed || !u->folder[0])
        return;
    unlink(u->path);
    rmdir(u->folder);
    u->folder[0] = '\0';
}

int pkg_upload_begin(const char *dir, const char *name, uint64_t limit, struct pkg_upload **ret,
                     char *err, size_t errlen)
{
    int r = pkg_upload_check_name(name, err, errlen);
    if (r < 0)
        return r;
    struct pkg_upload *u = calloc(1, sizeof(*u));
    if (!u)
        return -ENOMEM;
    u->fd = -1;
    u->limit = limit;
    snprintf(u->name, sizeof(u->name), "%s", name);
    if ((size_t)snprintf(u->folder, sizeof(u->folder), "%s/" TEMP_PREFIX "XXXXXX", dir) >=
            sizeof(u->folder) ||
        !mkdtemp(u->folder)) {
        r = errno ? -errno : -ENAMETOOLONG;
        snprintf(err, errlen, "%s: cannot create a temp folder: %s", dir, strerror(-r));
        free(u);
        return r;
    }
    snprintf(u->path, sizeof(u->path), "%s/%s", u->folder, name);
    u->fd = open(u->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    u->md = EVP_MD_CTX_new();
    if (u->fd < 0 || !u->md || EVP_DigestInit_ex(u->md, EVP_sha256(), NULL) != 1) {
        r = u->fd < 0 ? -errno : -ENOMEM;
        snprintf(err, errlen, "%s: %s", u->path, strerror(-r));
        pkg_upload_discard(u);
        return r;
    }
    *ret = u;
    return 0;
}

int pkg_upload_write(struct pkg_upload *u, const void *buf, size_t len, char *err, size_t errlen)
{
    if (u->failed)
        return u->failed;
    if (len > u->limit - u->size) {
        u->size += len;
        u->failed = -EFBIG;
        remove_folder(u); /* nothing of it is kept: do not wait for the end of the body */
        snprintf(err, errlen, "the upload is over the limit of %llu bytes",
                 (unsigned long long)u->limit);
        return u->failed;
    }
    const char *p = buf;
    size_t left = len;
    while (left) {
        ssize_t n = write(u->fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            u->failed = n < 0 ? -errno : -EIO;
            snprintf(err, errlen, "%s: %s", u->path, strerror(-u->failed));
            remove_folder(u);
            return u->failed;
        }
        p += n;
        left -= (size_t)n;
    }
    EVP_DigestUpdate(u->md, buf, len);
    u->size += len;
    return 0;
}

int pkg_upload_finish(struct pkg_upload *u, char sha256[65], uint64_t *ret_size)
{
    if (u->failed)
        return u->failed;
    if (u->fd >= 0 && close(u->fd) != 0) {
        u->fd = -1;
        return -EIO;
    }
    u->fd = -1;
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (EVP_DigestFinal_ex(u->md, md, &mdlen) != 1 || mdlen != 32)
        return -EIO;
    for (unsigned i = 0; i < 32; i++)
        snprintf(sha256 + 2 * i, 3, "%02x", md[i]);
    *ret_size = u->size;
    return 0;
}

uint64_t pkg_upload_size(const struct pkg_upload *u)
{
    return u->size;
}

const char *pkg_upload_name(const struct pkg_upload *u)
{
    return u->name;
}

const char *pkg_upload_path(const struct pkg_upload *u)
{
    return u->path;
}

const char *pkg_upload_folder(const struct pkg_upload *u)
{
    return u->folder;
}

int pkg_upload_commit(struct pkg_upload *u, const char *sha256, char *ret_path, size_t size)
{
    char final[PATH_MAX];
    const char *slash = strrchr(u->folder, '/');
    int n = snprintf(final, sizeof(final), "%.*s/%s", slash ? (int)(slash - u->folder) : 0,
                     u->folder, sha256);
    if (n < 0 || (size_t)n >= sizeof(final))
        return -ENAMETOOLONG;
    /* A folder of that name is the same bytes: rename(2) onto a non-empty one fails. */
    if (rename(u->folder, final) != 0)
        return errno == ENOTEMPTY || errno == EEXIST ? -EEXIST : -errno;
    u->committed = 1;
    if ((size_t)snprintf(ret_path, size, "%s/%s", final, u->name) >= size)
        return -ENAMETOOLONG; /* renamed all the same: the caller cleans up by sha256 */
    chmod(ret_path, 0440);    /* mapped by running jobs: nobody writes it again */
    return 0;
}

void pkg_upload_discard(struct pkg_upload *u)
{
    if (!u)
        return;
    remove_folder(u);
    EVP_MD_CTX_free(u->md);
    free(u);
}

int pkg_upload_remove_folder(const char *folder)
{
    DIR *sub = opendir(folder);
    if (!sub)
        return -errno;
    struct dirent *f;
    while ((f = readdir(sub))) {
        char path[PATH_MAX + 256];
        if (strcmp(f->d_name, ".") && strcmp(f->d_name, "..")) {
            snprintf(path, sizeof(path), "%s/%s", folder, f->d_name);
            unlink(path);
        }
    }
    closedir(sub);
    return rmdir(folder) == 0 ? 0 : -errno;
}

int pkg_upload_sweep(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, TEMP_PREFIX, sizeof(TEMP_PREFIX) - 1) != 0)
            continue;
        char folder[PATH_MAX];
        snprintf(folder, sizeof(folder), "%s/%s", dir, e->d_name);
        n += pkg_upload_remove_folder(folder) == 0;
    }
    closedir(d);
    return n;
}
