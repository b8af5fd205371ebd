/* Shared package types: platform names, limits, warnings, image lists, small helpers. */
#include "package/pkg_types.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const platform_names[PKG_PLATFORM_COUNT] = {
    [PKG_PLATFORM_UNKNOWN] = "unknown",     [PKG_PLATFORM_ASR] = "asr",
    [PKG_PLATFORM_ASR1803] = "asr1803",     [PKG_PLATFORM_UNISOC] = "unisoc",
    [PKG_PLATFORM_EIGENCOMM] = "eigencomm", [PKG_PLATFORM_QUALCOMM] = "qualcomm",
    [PKG_PLATFORM_BEKEN] = "beken",         [PKG_PLATFORM_ESWIN] = "eswin",
};

const char *pkg_platform_to_string(enum pkg_platform p)
{
    if ((unsigned)p >= PKG_PLATFORM_COUNT)
        return "unknown";
    return platform_names[p];
}

enum pkg_platform pkg_platform_from_string(const char *s)
{
    for (unsigned i = 1; s && i < PKG_PLATFORM_COUNT; i++)
        if (strcmp(platform_names[i], s) == 0)
            return (enum pkg_platform)i;
    return PKG_PLATFORM_UNKNOWN;
}

void pkg_limits_default(struct pkg_limits *lim)
{
    /* The largest real package seen is a Qualcomm update tree of ~100 MB; ASR and Unisoc
     * packages are 5-30 MB. Generous, but a zip bomb stops long before memory runs out. */
    lim->max_total = 1024ull << 20;
    lim->max_file = 512ull << 20;
    lim->max_ratio = 200;
    lim->max_depth = 4;
    lim->max_entries = 20000;
}

void pkg_warn(struct pkg_warnings *w, const char *fmt, ...)
{
    if (!w)
        return;
    if (w->count >= PKG_WARN_MAX) {
        w->dropped++;
        return;
    }
    char buf[PKG_WARN_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    /* The same warning from two places says nothing new. */
    for (unsigned i = 0; i < w->count; i++)
        if (strcmp(w->text[i], buf) == 0)
            return;
    memcpy(w->text[w->count++], buf, sizeof(buf));
}

struct pkg_image *pkg_image_list_add(struct pkg_image_list *l)
{
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        if (cap > 4096)
            return NULL;
        struct pkg_image *grown = realloc(l->items, cap * sizeof(*grown));
        if (!grown)
            return NULL;
        l->items = grown;
        l->cap = cap;
    }
    struct pkg_image *img = &l->items[l->count++];
    memset(img, 0, sizeof(*img));
    img->address = PKG_ADDR_NONE;
    img->offset = PKG_OFFSET_NONE;
    return img;
}

void pkg_image_list_free(struct pkg_image_list *l)
{
    free(l->items);
    l->items = NULL;
    l->count = l->cap = 0;
}

int pkg_image_list_copy(struct pkg_image_list *dst, const struct pkg_image_list *src)
{
    for (size_t i = 0; i < src->count; i++) {
        struct pkg_image *img = pkg_image_list_add(dst);
        if (!img)
            return -ENOMEM;
        *img = src->items[i];
    }
    return 0;
}

static int vfail(int code, char *err, size_t errlen, const char *fmt, va_list ap)
{
    if (err && errlen)
        vsnprintf(err, errlen, fmt, ap);
    return code;
}

int pkg_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vfail(-EINVAL, err, errlen, fmt, ap);
    va_end(ap);
    return r;
}

int pkg_failc(int code, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vfail(code, err, errlen, fmt, ap);
    va_end(ap);
    return r;
}

int pkg_str_ends_with_ci(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

int pkg_str_eq_ci(const char *a, const char *b)
{
    return strcasecmp(a, b) == 0;
}

const char *pkg_basename(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

void pkg_strlcpy(char *dst, const char *src, size_t dstlen)
{
    if (!dstlen)
        return;
    size_t n = strnlen(src, dstlen - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

int pkg_path_join(char *dst, size_t dstlen, const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name), sep = a ? 1 : 0;
    if (a + sep + b + 1 > dstlen) {
        if (dstlen)
            dst[0] = '\0';
        return -ENAMETOOLONG;
    }
    memmove(dst, dir, a);
    if (sep)
        dst[a] = '/';
    memcpy(dst + a + sep, name, b + 1);
    return 0;
}
