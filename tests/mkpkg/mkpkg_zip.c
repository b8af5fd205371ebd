/* mkpkg: buffers, pseudo-random images, zip writing (libarchive) and file output. */
#include "mkpkg.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void die(const char *what)
{
    fprintf(stderr, "flashrack-mkpkg: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void reserve(struct buf *b, size_t n)
{
    if (b->len + n <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n)
        cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (!p)
        die("out of memory");
    b->p = p;
    b->cap = cap;
}

void buf_put(struct buf *b, const void *data, size_t n)
{
    reserve(b, n);
    if (n)
        memcpy(b->p + b->len, data, n);
    b->len += n;
}

void buf_zero(struct buf *b, size_t n)
{
    reserve(b, n);
    memset(b->p + b->len, 0, n);
    b->len += n;
}

void buf_le16(struct buf *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    buf_put(b, x, 2);
}

void buf_le32(struct buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    buf_put(b, x, 4);
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
    char tmp[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0)
        buf_put(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

void buf_free(struct buf *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

void fill_random(uint8_t *p, size_t n, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (uint8_t)x;
    }
}

struct buf random_image(size_t n, uint32_t seed)
{
    struct buf b = {0};
    reserve(&b, n);
    fill_random(b.p, n, seed);
    b.len = n;
    return b;
}

const char *mkpkg_fw_revision;
size_t mkpkg_main_image_bytes;

struct buf firmware_image(size_t n, uint32_t seed)
{
    struct buf b = random_image(n, seed);
    if (mkpkg_fw_revision) {
        char marker[128];
        int len = snprintf(marker, sizeof(marker), "QUECTEL_REVISION=%s", mkpkg_fw_revision);
        if (len > 0 && (size_t)len + 1 + 256 <= n && (size_t)len < sizeof(marker))
            memcpy(b.p + 256, marker, (size_t)len + 1); /* with its NUL */
    }
    return b;
}

void zip_add(struct zip *z, const char *path, const uint8_t *data, size_t len)
{
    if (z->n >= sizeof(z->m) / sizeof(z->m[0])) {
        fprintf(stderr, "flashrack-mkpkg: too many members\n");
        exit(1);
    }
    char *copy = strdup(path);
    if (!copy)
        die("out of memory");
    z->m[z->n++] = (struct zmember){.path = copy, .data = data, .len = len};
}

void zip_add_buf(struct zip *z, const char *path, struct buf b)
{
    z->owned[z->nowned++] = b;
    zip_add(z, path, b.p, b.len);
}

void zip_add_text(struct zip *z, const char *path, const char *text)
{
    struct buf b = {0};
    buf_put(&b, text, strlen(text));
    zip_add_buf(z, path, b);
}

void zip_add_symlink(struct zip *z, const char *path, const char *target)
{
    zip_add(z, path, NULL, 0);
    z->m[z->n - 1].symlink = target;
}

void zip_add_dir(struct zip *z, const char *path)
{
    zip_add(z, path, NULL, 0);
}

void zip_free(struct zip *z)
{
    for (size_t i = 0; i < z->nowned; i++)
        buf_free(&z->owned[i]);
    for (size_t i = 0; i < z->n; i++)
        free((char *)z->m[i].path);
    memset(z, 0, sizeof(*z));
}

struct buf zip_build(const struct zip *z, int store)
{
    size_t cap = 1 << 16;
    for (size_t i = 0; i < z->n; i++)
        cap += z->m[i].len + 512 + strlen(z->m[i].path) * 3;
    struct buf out = {0};
    reserve(&out, cap);
    struct archive *a = archive_write_new();
    archive_write_set_format_zip(a);
    if (store)
        archive_write_set_options(a, "zip:compression=store");
    size_t used = 0;
    if (archive_write_open_memory(a, out.p, out.cap, &used) != ARCHIVE_OK)
        die("archive_write_open_memory");
    for (size_t i = 0; i < z->n; i++) {
        const struct zmember *m = &z->m[i];
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, m->path);
        archive_entry_set_mtime(e, 1717200000, 0);
        size_t pl = strlen(m->path);
        if (m->symlink) {
            archive_entry_set_filetype(e, AE_IFLNK);
            archive_entry_set_symlink(e, m->symlink);
            archive_entry_set_perm(e, 0777);
        } else if (pl && m->path[pl - 1] == '/') {
            archive_entry_set_filetype(e, AE_IFDIR);
            archive_entry_set_perm(e, 0755);
        } else {
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_perm(e, 0644);
            archive_entry_set_size(e, (la_int64_t)m->len);
        }
        if (archive_write_header(a, e) != ARCHIVE_OK) {
            fprintf(stderr, "flashrack-mkpkg: %s: %s\n", m->path, archive_error_string(a));
            exit(1);
        }
        if (m->len && archive_write_data(a, m->data, m->len) != (la_ssize_t)m->len) {
            fprintf(stderr, "flashrack-mkpkg: %s: %s\n", m->path, archive_error_string(a));
            exit(1);
        }
        archive_entry_free(e);
    }
    if (archive_write_close(a) != ARCHIVE_OK) {
        fprintf(stderr, "flashrack-mkpkg: zip: %s\n", archive_error_string(a));
        exit(1);
    }
    archive_write_free(a);
    out.len = used;
    return out;
}

static void mkdirs(const char *path)
{
    char tmp[8200];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                die(tmp);
            *p = '/';
        }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        die(tmp);
}

void write_file(const char *outdir, const char *rel, const uint8_t *data, size_t len)
{
    char path[8200];
    snprintf(path, sizeof(path), "%s/%s", outdir, rel);
    char dir[8200];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        mkdirs(dir);
    }
    FILE *f = fopen(path, "wb");
    if (!f || (len && fwrite(data, 1, len, f) != len) || fclose(f) != 0)
        die(path);
}

void write_tree(const char *outdir, const char *rel, const struct zip *z)
{
    for (size_t i = 0; i < z->n; i++) {
        const struct zmember *m = &z->m[i];
        size_t pl = strlen(m->path);
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", rel, m->path);
        if (pl && m->path[pl - 1] == '/') {
            char full[8200];
            snprintf(full, sizeof(full), "%s/%s", outdir, path);
            mkdirs(full);
        } else if (!m->symlink) {
            write_file(outdir, path, m->data, m->len);
        }
    }
}
