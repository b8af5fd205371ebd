/* ASR1803 (EC200A) BLF and FBF parsers (see asr1803_pkg.h). The BLF key naming is not
 * settled in public sources (asr.md §3.7), so both Marvell's "N_Image_X" and the quoted
 * ASR "Image_N_X" spellings are accepted, case-insensitively, spaces read as '_'. */
#include "asr/asr1803_pkg.h"

#include "common/bytes.h"
#include "package/pkg.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BLF_MAX         (1u << 20)
#define FBF_MAX_MEMBERS 256

int asr1803_blf_sniff(const uint8_t *data, size_t len)
{
    size_t n = len < 4096 ? len : 4096;
    for (size_t i = 0; i + 13 <= n; i++)
        if (data[i] == '[' && strncasecmp((const char *)data + i, "[BLF_Version]", 13) == 0)
            return 1;
    return 0;
}

static struct asr1803_blf_image *image_slot(struct asr1803_blf *blf, unsigned index)
{
    for (size_t i = 0; i < blf->count; i++)
        if (blf->img[i].index == index)
            return &blf->img[i];
    if (blf->count >= ASR1803_BLF_MAX_IMAGES)
        return NULL;
    struct asr1803_blf_image *img = &blf->img[blf->count++];
    memset(img, 0, sizeof(*img));
    img->index = index;
    img->flash_addr = img->load_addr = PKG_ADDR_NONE;
    img->partition = -1;
    img->enabled = 1;
    return img;
}

static uint64_t number(const char *v)
{
    char *end;
    unsigned long long x = strtoull(v, &end, 0);
    return (end == v || *end) ? PKG_ADDR_NONE : (uint64_t)x;
}

/* Splits "1_image_path" / "image_1_path" into (1, "path"); returns 0 when it is no image key. */
static unsigned image_key(const char *key, const char **field)
{
    char *end;
    if (isdigit((unsigned char)key[0])) {
        unsigned long n = strtoul(key, &end, 10);
        if (strncmp(end, "_image_", 7) == 0 && n > 0 && n < 1000) {
            *field = end + 7;
            return (unsigned)n;
        }
    } else if (strncmp(key, "image_", 6) == 0 && isdigit((unsigned char)key[6])) {
        unsigned long n = strtoul(key + 6, &end, 10);
        if (*end == '_' && n > 0 && n < 1000) {
            *field = end + 1;
            return (unsigned)n;
        }
    }
    return 0;
}

static int set_image_field(struct asr1803_blf *blf, unsigned n, const char *field,
                           const char *value, char *err, size_t errlen)
{
    struct asr1803_blf_image *img = image_slot(blf, n);
    if (!img)
        return pkg_fail(err, errlen, "BLF lists more than %d images", ASR1803_BLF_MAX_IMAGES);
    if (!strcmp(field, "image_id") || !strcmp(field, "id") || !strcmp(field, "id_name")) {
        pkg_strlcpy(img->id, value, sizeof(img->id));
        size_t l = strlen(value);
        if (l == 4 && !(value[0] == '0' && (value[1] | 0x20) == 'x'))
            img->id_value =
                (uint32_t)(unsigned char)value[3] | (uint32_t)(unsigned char)value[2] << 8 |
                (uint32_t)(unsigned char)value[1] << 16 | (uint32_t)(unsigned char)value[0] << 24;
        else if (number(value) != PKG_ADDR_NONE)
            img->id_value = (uint32_t)number(value);
    } else if (!strcmp(field, "path")) {
        size_t k = 0;
        for (const char *p = value; *p && k + 1 < sizeof(img->path); p++)
            img->path[k++] = *p == '\\' ? '/' : *p;
        img->path[k] = '\0';
    } else if (!strcmp(field, "flash_entry_address")) {
        img->flash_addr = number(value);
    } else if (!strcmp(field, "load_address")) {
        img->load_addr = number(value);
    } else if (!strcmp(field, "partition_number")) {
        uint64_t p = number(value);
        img->partition = p < 256 ? (int)p : -1;
    } else if (!strcmp(field, "enable")) {
        img->enabled = number(value) != 0;
    }
    return 0;
}

int asr1803_blf_parse(const uint8_t *text, size_t len, struct asr1803_blf **ret, char *err,
                      size_t errlen)
{
    if (len > BLF_MAX)
        return pkg_fail(err, errlen, "BLF is %zu bytes (limit %u)", len, BLF_MAX);
    struct asr1803_blf *blf = calloc(1, sizeof(*blf));
    if (!blf)
        return -ENOMEM;
    blf->declared = -1;
    int r = 0, sections = 0;
    size_t pos = 0;
    while (pos < len) {
        char line[512], key[128], value[384];
        size_t n = 0;
        while (pos < len && text[pos] != '\n') {
            if (n + 1 < sizeof(line))
                line[n++] = (char)text[pos];
            pos++;
        }
        pos++;
        line[n] = '\0';
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        char *e = s + strlen(s);
        while (e > s && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
            *--e = '\0';
        if (!*s || *s == ';' || *s == '#')
            continue;
        if (*s == '[') {
            sections++;
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq)
            continue;
        size_t kl = 0;
        for (char *k = s; k < eq && kl + 1 < sizeof(key); k++)
            key[kl++] = *k == ' ' ? '_' : (char)tolower((unsigned char)*k);
        while (kl && key[kl - 1] == '_')
            kl--;
        key[kl] = '\0';
        char *v = eq + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        size_t vl = 0;
        for (; *v && vl + 1 < sizeof(value); v++)
            value[vl++] = (*v >= 0x20 && *v < 0x7f) ? *v : '?';
        value[vl] = '\0';
        const char *field;
        unsigned idx = image_key(key, &field);
        if (idx) {
            if ((r = set_image_field(blf, idx, field, value, err, errlen)) < 0)
                goto fail;
        } else if (!strcmp(key, "version") && !blf->version[0]) {
            pkg_strlcpy(blf->version, value, sizeof(blf->version));
        } else if (!strcmp(key, "processor_type")) {
            pkg_strlcpy(blf->processor, value, sizeof(blf->processor));
        } else if (!strcmp(key, "number_of_images")) {
            uint64_t d = number(value);
            blf->declared = d <= 1000 ? (int)d : -1;
        }
    }
    if (!sections) {
        r = pkg_fail(err, errlen, "BLF has no [section]: not a BLF file");
        goto fail;
    }
    size_t usable = 0;
    for (size_t i = 0; i < blf->count; i++) {
        const struct asr1803_blf_image *img = &blf->img[i];
        if (!img->enabled)
            continue;
        if (!img->path[0] || !img->id[0]) {
            r = pkg_fail(err, errlen, "BLF image %u has no %s", img->index,
                         img->path[0] ? "Image_ID" : "Path");
            goto fail;
        }
        /* Windows builders write absolute paths (C:\build\dkb.bin): those are looked up
         * by file name inside the package. Only ".." is refused outright. */
        if (strstr(img->path, "..")) {
            r = pkg_fail(err, errlen, "BLF image %u path '%s' leaves the package", img->index,
                         img->path);
            goto fail;
        }
        usable++;
    }
    if (!usable) {
        r = pkg_fail(err, errlen, "BLF lists no images");
        goto fail;
    }
    if (blf->declared >= 0 && (size_t)blf->declared != blf->count)
        pkg_warn(&blf->warnings, "BLF says Number_of_Images = %d but lists %zu", blf->declared,
                 blf->count);
    *ret = blf;
    return 0;
fail:
    asr1803_blf_free(blf);
    return r;
}

int asr1803_blf_resolve(struct asr1803_blf *blf, const struct pkg_files *files, const char *dir,
                        char *err, size_t errlen)
{
    for (size_t i = 0; i < blf->count; i++) {
        const struct asr1803_blf_image *b = &blf->img[i];
        if (!b->enabled)
            continue;
        char path[PKG_PATH_MAX];
        size_t len = 0;
        pkg_path_join(path, sizeof(path), dir, b->path);
        const uint8_t *d = files->get(files->ctx, path, &len);
        if (!d) {
            /* Windows BLFs carry the builder's absolute-looking folders; try the file name
             * beside the BLF before giving up. */
            pkg_path_join(path, sizeof(path), dir, pkg_basename(b->path));
            d = files->get(files->ctx, path, &len);
        }
        if (!d)
            return pkg_fail(err, errlen, "BLF image %u (%s) file '%s' is not in the package",
                            b->index, b->id, b->path);
        struct pkg_image *img = pkg_image_list_add(&blf->images);
        if (!img)
            return -ENOMEM;
        pkg_strlcpy(img->name, b->id, sizeof(img->name));
        pkg_strlcpy(img->file, path, sizeof(img->file));
        img->address = b->flash_addr;
        img->size = len;
        img->data = d;
        if (b->partition >= 0)
            snprintf(img->partition, sizeof(img->partition), "%d", b->partition);
    }
    return 0;
}

void asr1803_blf_free(struct asr1803_blf *blf)
{
    if (!blf)
        return;
    pkg_image_list_free(&blf->images);
    free(blf);
}

/* ---- FBF container ("BinFile.bin") ------------------------------------------------------ */

int asr1803_fbf_sniff(const uint8_t *data, size_t len)
{
    uint32_t dir, count;
    if (len < 16 || bytes_le32_at(data, len, len - 4, &dir) < 0 || dir >= len - 4 ||
        bytes_le32_at(data, len, dir, &count) < 0)
        return 0;
    return count >= 4 && count <= FBF_MAX_MEMBERS;
}

int asr1803_fbf_parse(const uint8_t *data, size_t len, struct asr1803_fbf **ret, char *err,
                      size_t errlen)
{
    uint32_t dir, count;
    if (len < 16 || bytes_le32_at(data, len, len - 4, &dir) < 0 || dir >= len - 4)
        return pkg_fail(err, errlen, "FBF: directory offset points outside the file");
    struct bytes_reader rd;
    bytes_reader_init(&rd, data, len - 4);
    if (bytes_seek(&rd, dir) < 0 || bytes_read_le32(&rd, &count) < 0)
        return pkg_fail(err, errlen, "FBF: directory is truncated");
    if (count < 4 || count > FBF_MAX_MEMBERS)
        return pkg_fail(err, errlen, "FBF: directory lists %u files (4..%d)", count,
                        FBF_MAX_MEMBERS);
    struct asr1803_fbf *fbf = calloc(1, sizeof(*fbf));
    if (!fbf || !(fbf->members = calloc(count, sizeof(*fbf->members)))) {
        free(fbf);
        return -ENOMEM;
    }
    fbf->dir_offset = dir;
    int r = 0, have_tim = 0;
    for (uint32_t i = 0; i < count; i++) {
        struct asr1803_fbf_member *m = &fbf->members[i];
        uint32_t nlen;
        const uint8_t *name;
        if (bytes_read_le32(&rd, &nlen) < 0 || nlen > 1024 ||
            bytes_read_ptr(&rd, nlen, &name) < 0) {
            r = pkg_fail(err, errlen, "FBF: directory entry %u is truncated", i);
            goto fail;
        }
        /* UTF-16LE Windows path: keep ASCII, then the part after the last '\'. */
        char full[512];
        size_t k = 0;
        for (uint32_t b = 0; b < nlen && k + 1 < sizeof(full); b++)
            if (name[b])
                full[k++] = (name[b] >= 0x20 && name[b] < 0x7f) ? (char)name[b] : '?';
        full[k] = '\0';
        const char *base = strrchr(full, '\\');
        pkg_strlcpy(m->name, base ? base + 1 : full, sizeof(m->name));
        for (int q = 0; q < 3; q++) {
            if (bytes_read_le32(&rd, &m->range[q][0]) < 0 ||
                bytes_read_le32(&rd, &m->range[q][1]) < 0) {
                r = pkg_fail(err, errlen, "FBF: directory entry %u is truncated", i);
                goto fail;
            }
            uint32_t a = m->range[q][0], b = m->range[q][1];
            if (b < a || b > dir) {
                r = pkg_fail(err, errlen, "FBF: file '%s' range [%u, %u) lies outside the data",
                             m->name, a, b);
                goto fail;
            }
            m->size += b - a;
        }
        have_tim |= strcasestr(m->name, "timheader") != NULL;
        struct pkg_image *img = pkg_image_list_add(&fbf->images);
        if (!img) {
            r = -ENOMEM;
            goto fail;
        }
        pkg_strlcpy(img->name, m->name, sizeof(img->name));
        pkg_strlcpy(img->file, m->name, sizeof(img->file));
        img->size = m->size;
        img->offset = m->range[0][0];
        img->data = data + m->range[0][0];
        fbf->count++;
    }
    if (!have_tim)
        pkg_warn(&fbf->warnings, "FBF holds no TIM header file");
    *ret = fbf;
    return 0;
fail:
    asr1803_fbf_free(fbf);
    return r;
}

void asr1803_fbf_free(struct asr1803_fbf *fbf)
{
    if (!fbf)
        return;
    free(fbf->members);
    pkg_image_list_free(&fbf->images);
    free(fbf);
}

int asr1803_pkg_hook_parse(const uint8_t *data, size_t len, void **ret_package, char *err,
                           size_t errlen)
{
    return pkg_proto_parse(PKG_PLATFORM_ASR1803, data, len, ret_package, err, errlen);
}

void asr1803_pkg_hook_free(void *package)
{
    pkg_proto_free(package);
}
