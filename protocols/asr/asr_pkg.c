/* ASR160x package parser (see asr_pkg.h, protocols/asr.md §2.7-2.9). */
#include "asr/asr_pkg.h"

#include "common/bytes.h"
#include "package/pkg.h"
#include "package/pkg_walk.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#define JSON_MAX (1u << 20)
#define CMD_MAX  256

int asr_partition_parse(const uint8_t *data, size_t len, struct asr_ptable *ret, char *err,
                        size_t errlen)
{
    if (len != ASR_PTABLE_SIZE)
        return pkg_fail(err, errlen, "partition.bin is %zu bytes (a BTPA table is %u)", len,
                        ASR_PTABLE_SIZE);
    if (memcmp(data, "BTPA", 4) != 0)
        return pkg_fail(err, errlen, "partition.bin does not start with \"BTPA\"");
    memset(ret, 0, sizeof(*ret));
    bytes_le32_at(data, len, 4, &ret->count);
    bytes_le32_at(data, len, 0x888, &ret->crc);
    uint32_t crc = (uint32_t)crc32(0L, data, 0x888);
    if (crc != ret->crc)
        return pkg_fail(err, errlen,
                        "partition.bin CRC-32 mismatch (stored 0x%08x, computed 0x%08x)", ret->crc,
                        crc);
    if (ret->count == 0 || ret->count > ASR_PTABLE_MAX)
        return pkg_fail(err, errlen, "partition.bin lists %u partitions (1..%u)", ret->count,
                        ASR_PTABLE_MAX);
    for (uint32_t i = 0; i < ret->count; i++) {
        const uint8_t *e = data + 8 + 68 * (size_t)i;
        struct asr_partition *p = &ret->parts[i];
        bytes_copy_cstr(p->name, sizeof(p->name), e, 32);
        bytes_copy_cstr(p->type, sizeof(p->type), e + 32, 16);
        bytes_le32_at(e, 68, 48, &p->offset);
        bytes_le32_at(e, 68, 52, &p->size);
        bytes_le32_at(e, 68, 56, &p->mapped);
        bytes_le32_at(e, 68, 60, &p->length);
        bytes_le32_at(e, 68, 64, &p->level);
        if (!p->name[0])
            return pkg_fail(err, errlen, "partition.bin entry %u has no name", i);
        if (p->level >= 2 && (uint64_t)p->offset + p->size > 0x100000000ull)
            return pkg_fail(err, errlen, "partition.bin: partition '%s' wraps past 4 GiB", p->name);
    }
    return 0;
}

const struct asr_partition *asr_ptable_find(const struct asr_ptable *t, const char *name)
{
    for (uint32_t i = 0; i < t->count && i < ASR_PTABLE_MAX; i++)
        if (strcmp(t->parts[i].name, name) == 0)
            return &t->parts[i];
    return NULL;
}

int asr_flashinfo_parse(const uint8_t *data, size_t len, struct asr_flashinfo *ret, char *err,
                        size_t errlen)
{
    if (len < 0x90 || memcmp(data, "FNIF", 4) != 0)
        return pkg_fail(err, errlen, "flashinfo.bin is not an FNIF flash list");
    memset(ret, 0, sizeof(*ret));
    bytes_le32_at(data, len, 0x04, &ret->jedec);
    bytes_copy_cstr(ret->part, sizeof(ret->part), data + 0x08, 64);
    bytes_copy_cstr(ret->iface, sizeof(ret->iface), data + 0x48, 32);
    bytes_le32_at(data, len, 0x80, &ret->flash_size);
    bytes_le32_at(data, len, 0x8C, &ret->ncompat);
    if (ret->ncompat > 32 || len != 0x90 + 72 * (size_t)ret->ncompat)
        return pkg_fail(err, errlen,
                        "flashinfo.bin lists %u flash parts but is %zu bytes (expected %zu)",
                        ret->ncompat, len, (size_t)0x90 + 72 * (size_t)(ret->ncompat % 1024));
    for (uint32_t i = 0; i < ret->ncompat; i++) {
        const uint8_t *e = data + 0x90 + 72 * (size_t)i;
        bytes_le32_at(e, 72, 0, &ret->compat[i].jedec);
        bytes_copy_cstr(ret->compat[i].name, sizeof(ret->compat[i].name), e + 8, 64);
    }
    if (ret->flash_size == 0)
        return pkg_fail(err, errlen, "flashinfo.bin gives a flash size of 0");
    return 0;
}

static void json_str(json_t *obj, const char *key, char *dst, size_t dstlen)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_string(v))
        bytes_copy_cstr(dst, dstlen, (const uint8_t *)json_string_value(v), json_string_length(v));
    else if (json_is_integer(v))
        snprintf(dst, dstlen, "%lld", (long long)json_integer_value(v));
}

static const char *const known_cmds[] = {"require", "progress", "call",   "partition",
                                         "flash",   "erase",    "upload", "enable"};

int asr_download_json_parse(const uint8_t *text, size_t len, struct asr_download *ret, char *err,
                            size_t errlen)
{
    memset(ret, 0, sizeof(*ret));
    if (len > JSON_MAX)
        return pkg_fail(err, errlen, "download.json is %zu bytes (limit %u)", len, JSON_MAX);
    json_error_t jerr;
    json_t *root = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return pkg_fail(err, errlen, "download.json is not valid JSON (line %d: %s)", jerr.line,
                        jerr.text);
    int r = 0;
    if (!json_is_array(root) || json_array_size(root) == 0 || json_array_size(root) > CMD_MAX) {
        r = pkg_fail(err, errlen, "download.json must be an array of 1..%d commands", CMD_MAX);
        goto out;
    }
    ret->cmds = calloc(json_array_size(root), sizeof(*ret->cmds));
    if (!ret->cmds) {
        r = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < json_array_size(root); i++) {
        json_t *o = json_array_get(root, i);
        struct asr_cmd *c = &ret->cmds[ret->count];
        if (!json_is_object(o)) {
            r = pkg_fail(err, errlen, "download.json: command %zu is not an object", i);
            goto out;
        }
        json_str(o, "command", c->command, sizeof(c->command));
        json_str(o, "group", c->group, sizeof(c->group));
        json_str(o, "name", c->name, sizeof(c->name));
        json_str(o, "value", c->value, sizeof(c->value));
        json_str(o, "image", c->image, sizeof(c->image));
        json_str(o, "partition", c->partition, sizeof(c->partition));
        json_str(o, "version-bootrom", c->bootrom, sizeof(c->bootrom));
        json_t *wt = json_object_get(o, "weight");
        if (json_is_integer(wt) && json_integer_value(wt) >= 0)
            c->weight = (uint64_t)json_integer_value(wt);
        int known = 0;
        for (size_t k = 0; k < sizeof(known_cmds) / sizeof(known_cmds[0]); k++)
            known |= strcmp(c->command, known_cmds[k]) == 0;
        if (!known) {
            r = pkg_fail(err, errlen, "download.json: command %zu '%s' is unknown", i, c->command);
            goto out;
        }
        int needs_image = !strcmp(c->command, "call") || !strcmp(c->command, "partition") ||
                          !strcmp(c->command, "flash");
        if (needs_image && !c->image[0]) {
            r = pkg_fail(err, errlen, "download.json: '%s' command %zu names no image", c->command,
                         i);
            goto out;
        }
        if ((!strcmp(c->command, "flash") || !strcmp(c->command, "erase")) && !c->partition[0]) {
            r = pkg_fail(err, errlen, "download.json: '%s' command %zu names no partition",
                         c->command, i);
            goto out;
        }
        ret->count++;
    }
out:
    json_decref(root);
    if (r < 0)
        asr_download_free(ret);
    return r;
}

void asr_download_free(struct asr_download *dl)
{
    free(dl->cmds);
    dl->cmds = NULL;
    dl->count = 0;
}

static const uint8_t *get_in(const struct pkg_files *files, const char *dir, const char *name,
                             size_t *len)
{
    char path[PKG_PATH_MAX];
    pkg_path_join(path, sizeof(path), dir, name);
    return files->get(files->ctx, path, len);
}

static int add_image(struct asr_pkg *pkg, const struct asr_cmd *c, const uint8_t *data, size_t len,
                     char *err, size_t errlen)
{
    struct pkg_image *img = pkg_image_list_add(&pkg->images);
    if (!img)
        return -ENOMEM;
    pkg_strlcpy(img->type, c->command, sizeof(img->type));
    pkg_strlcpy(img->file, c->image, sizeof(img->file));
    pkg_strlcpy(img->partition, c->partition, sizeof(img->partition));
    pkg_strlcpy(img->name, c->partition[0] ? c->partition : pkg_basename(c->image),
                sizeof(img->name));
    img->data = data;
    img->size = data ? len : 0;
    if (c->partition[0]) {
        const struct asr_partition *p = asr_ptable_find(&pkg->ptable, c->partition);
        if (!p)
            return pkg_fail(err, errlen, "download.json: partition '%s' is not in partition.bin",
                            c->partition);
        img->address = p->offset;
        if (data && len > p->size)
            return pkg_fail(err, errlen,
                            "image '%s' (%zu bytes) does not fit partition '%s' (%u bytes)",
                            c->image, len, c->partition, p->size);
    }
    return 0;
}

int asr_pkg_parse_files(const struct pkg_files *files, const char *dir, struct asr_pkg **ret,
                        char *err, size_t errlen)
{
    size_t len;
    const uint8_t *json = get_in(files, dir, "download.json", &len);
    if (!json)
        return pkg_fail(err, errlen, "ASR package has no download.json");
    struct asr_pkg *pkg = calloc(1, sizeof(*pkg));
    if (!pkg)
        return -ENOMEM;
    int r = asr_download_json_parse(json, len, &pkg->dl, err, errlen);
    if (r < 0)
        goto fail;
    /* First pass: the partition commands carry flashinfo.bin and partition.bin, which the
     * flash commands are checked against. */
    int have_ptable = 0, have_flash = 0;
    for (size_t i = 0; i < pkg->dl.count; i++) {
        const struct asr_cmd *c = &pkg->dl.cmds[i];
        if (strcmp(c->command, "partition") != 0)
            continue;
        const uint8_t *d = get_in(files, dir, c->image, &len);
        if (!d) {
            r = pkg_fail(err, errlen, "download.json names '%s', which is not in the package",
                         c->image);
            goto fail;
        }
        if (len >= 4 && memcmp(d, "FNIF", 4) == 0)
            r = asr_flashinfo_parse(d, len, &pkg->flashinfo, err, errlen);
        else if ((r = asr_partition_parse(d, len, &pkg->ptable, err, errlen)) == 0)
            have_ptable = 1;
        if (r < 0)
            goto fail;
    }
    if (!have_ptable) {
        r = pkg_fail(err, errlen, "download.json loads no partition table (partition.bin)");
        goto fail;
    }
    for (size_t i = 0; i < pkg->dl.count; i++) {
        const struct asr_cmd *c = &pkg->dl.cmds[i];
        const uint8_t *d = NULL;
        len = 0;
        if (!strcmp(c->command, "require") || !strcmp(c->command, "progress") ||
            !strcmp(c->command, "upload") || !strcmp(c->command, "enable"))
            continue;
        if (c->image[0]) {
            d = get_in(files, dir, c->image, &len);
            if (!d && c->bootrom[0]) {
                char alt[256];
                snprintf(alt, sizeof(alt), "%s/%s", c->bootrom, c->image);
                d = get_in(files, dir, alt, &len);
            }
            if (!d) {
                r = pkg_fail(err, errlen, "download.json names '%s', which is not in the package",
                             c->image);
                goto fail;
            }
        }
        if ((r = add_image(pkg, c, d, len, err, errlen)) < 0)
            goto fail;
        have_flash |= !strcmp(c->command, "flash");
    }
    if (!have_flash) {
        r = pkg_fail(err, errlen, "download.json flashes nothing");
        goto fail;
    }
    if (!pkg->flashinfo.flash_size)
        pkg_warn(&pkg->warnings, "no flashinfo.bin: the flasher cannot check the flash part");
    *ret = pkg;
    return 0;
fail:
    asr_pkg_free(pkg);
    return r;
}

int asr_pkg_parse(const uint8_t *zip, size_t len, struct asr_pkg **ret, char *err, size_t errlen)
{
    struct pkg_walk *w = malloc(sizeof(*w));
    if (!w || pkg_walk_init(w, "", NULL) < 0) {
        free(w);
        return -ENOMEM;
    }
    int r = pkg_walk_zip_shallow(w, zip, len, err, errlen);
    struct pkg_files files;
    pkg_walk_files(w, &files);
    if (r == 0)
        r = asr_pkg_parse_files(&files, "", ret, err, errlen);
    if (r < 0) {
        pkg_walk_free(w);
        free(w);
        return r;
    }
    (*ret)->own = w; /* images point into the walk's member buffers */
    return 0;
}

void asr_pkg_free(struct asr_pkg *pkg)
{
    if (!pkg)
        return;
    if (pkg->own) {
        pkg_walk_free(pkg->own);
        free(pkg->own);
    }
    asr_download_free(&pkg->dl);
    pkg_image_list_free(&pkg->images);
    free(pkg);
}

int asr_pkg_hook_parse(const uint8_t *data, size_t len, void **ret_package, char *err,
                       size_t errlen)
{
    return pkg_proto_parse(PKG_PLATFORM_ASR, data, len, ret_package, err, errlen);
}

void asr_pkg_hook_free(void *package)
{
    pkg_proto_free(package);
}
