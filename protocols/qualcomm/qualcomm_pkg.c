/* Qualcomm update/firehose package parser (see qualcomm_pkg.h). */
#include "qualcomm/qualcomm_pkg.h"

#include "package/pkg.h"

#include <errno.h>
#include <expat.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define XML_MAX (4u << 20)

int qualcomm_mbn_sniff(const uint8_t *data, size_t len)
{
    if (len >= 4 && data[0] == 0x7f && data[1] == 'E' && data[2] == 'L' && data[3] == 'F')
        return 1;
    /* MBN v3/v5/v6/v7 header: image_id u32 then header_version u32 in 3..7. */
    if (len >= 40) {
        uint32_t ver = (uint32_t)data[4] | (uint32_t)data[5] << 8 | (uint32_t)data[6] << 16 |
                       (uint32_t)data[7] << 24;
        return ver >= 3 && ver <= 7;
    }
    return 0;
}

struct xml_ctx {
    struct qualcomm_xml *x;
    int depth;
    int root_seen;
    int overflow;
};

static const char *attr(const XML_Char **a, const char *name)
{
    for (int i = 0; a[i]; i += 2)
        if (strcasecmp(a[i], name) == 0)
            return a[i + 1];
    return NULL;
}

static uint64_t num(const char *s)
{
    if (!s)
        return 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 0);
    return end == s ? 0 : (uint64_t)v;
}

static void copy_attr(char *dst, size_t n, const char *v)
{
    size_t k = 0;
    for (; v && *v && k + 1 < n; v++)
        dst[k++] = ((unsigned char)*v >= 0x20 && (unsigned char)*v < 0x7f) ? *v : '?';
    dst[k] = '\0';
}

static void XMLCALL on_start(void *ud, const XML_Char *el, const XML_Char **a)
{
    struct xml_ctx *c = ud;
    if (c->depth++ == 0) {
        c->root_seen = 1;
        c->x->is_patch = strcasecmp(el, "patches") == 0;
        return;
    }
    int program = strcasecmp(el, "program") == 0, erase = strcasecmp(el, "erase") == 0,
        patch = strcasecmp(el, "patch") == 0;
    if (!program && !erase && !patch)
        return;
    if (c->x->count >= QUALCOMM_MAX_ENTRIES) {
        c->overflow = 1;
        return;
    }
    struct qualcomm_entry *e = &c->x->entries[c->x->count++];
    memset(e, 0, sizeof(*e));
    e->erase = erase;
    copy_attr(e->filename, sizeof(e->filename), attr(a, "filename"));
    copy_attr(e->label, sizeof(e->label), attr(a, "label"));
    const char *ss = attr(a, "start_sector");
    /* patch start_sector may be an expression ("NUM_DISK_SECTORS-33."): keep 0 then. */
    e->start_sector = num(ss);
    e->num_sectors = num(attr(a, "num_partition_sectors"));
    e->sector_size = (uint32_t)num(attr(a, "SECTOR_SIZE_IN_BYTES"));
    e->physical_partition = (unsigned)num(attr(a, "physical_partition_number"));
}

static void XMLCALL on_end(void *ud, const XML_Char *el)
{
    (void)el;
    ((struct xml_ctx *)ud)->depth--;
}

int qualcomm_xml_parse(const uint8_t *text, size_t len, struct qualcomm_xml *ret, char *err,
                       size_t errlen)
{
    memset(ret, 0, sizeof(*ret));
    if (len > XML_MAX)
        return pkg_fail(err, errlen, "firehose XML is %zu bytes (limit %u)", len, XML_MAX);
    XML_Parser p = XML_ParserCreate(NULL);
    if (!p)
        return -ENOMEM;
    struct xml_ctx c = {.x = ret};
    XML_SetUserData(p, &c);
    XML_SetElementHandler(p, on_start, on_end);
    int r = 0;
    if (XML_Parse(p, (const char *)text, (int)len, 1) == XML_STATUS_ERROR)
        r = pkg_fail(err, errlen, "firehose XML is malformed at line %lu: %s",
                     (unsigned long)XML_GetCurrentLineNumber(p),
                     XML_ErrorString(XML_GetErrorCode(p)));
    else if (c.overflow)
        r = pkg_fail(err, errlen, "firehose XML has more than %d entries", QUALCOMM_MAX_ENTRIES);
    XML_ParserFree(p);
    return r;
}

/* First file in dir whose name matches one of the patterns, tried in pattern order
 * (QFirehose's discovery order). Files named *factory* are skipped: they erase calibration. */
static int find_first(const struct pkg_files *files, const char *dir, const char *const *patterns,
                      char *out, size_t outlen)
{
    for (const char *const *pat = patterns; *pat; pat++) {
        const char *path;
        for (size_t i = 0; (path = files->list(files->ctx, dir, i)); i++) {
            const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
            if (fnmatch(*pat, base, FNM_CASEFOLD) == 0 && !strcasestr(base, "factory")) {
                pkg_strlcpy(out, path, outlen);
                return 1;
            }
        }
    }
    return 0;
}

static const uint8_t *find_image(const struct pkg_files *files, const char *fh_dir,
                                 const char *name, char *path, size_t pathlen, size_t *len)
{
    /* Images sit beside the XML (update/firehose) or one level up (update/). */
    snprintf(path, pathlen, "%s/%s", fh_dir, name);
    const uint8_t *d = files->get(files->ctx, path, len);
    if (d)
        return d;
    char parent[PKG_PATH_MAX];
    pkg_strlcpy(parent, fh_dir, sizeof(parent));
    char *slash = strrchr(parent, '/');
    if (slash)
        *slash = '\0';
    else
        parent[0] = '\0';
    pkg_path_join(path, pathlen, parent, name);
    return files->get(files->ctx, path, len);
}

int qualcomm_pkg_parse_files(const struct pkg_files *files, const char *firehose_dir,
                             struct qualcomm_pkg **ret, char *err, size_t errlen)
{
    static const char *const prog_pat[] = {"prog_nand_firehose_*.mbn",
                                           "prog_emmc_firehose_*.mbn",
                                           "prog_firehose_*.mbn",
                                           "prog_firehose_*.elf",
                                           "firehose-prog*.mbn",
                                           "prog_*.mbn",
                                           NULL};
    static const char *const raw_pat[] = {"rawprogram_*.xml", "firehose-rawprogram*.xml",
                                          "rawprogram[0-9]*.xml", NULL};
    static const char *const patch_pat[] = {"patch_*.xml", "patch-*.xml", "patch[0-9]*.xml", NULL};
    struct qualcomm_pkg *pkg = calloc(1, sizeof(*pkg));
    if (!pkg)
        return -ENOMEM;
    int r = 0;
    size_t len;
    char path[PKG_PATH_MAX];
    pkg_strlcpy(pkg->firehose_dir, firehose_dir, sizeof(pkg->firehose_dir));
    if (!find_first(files, firehose_dir, prog_pat, pkg->programmer, sizeof(pkg->programmer))) {
        r = pkg_fail(err, errlen, "'%s' has no Firehose programmer (prog_*firehose*.mbn)",
                     firehose_dir);
        goto fail;
    }
    if (!find_first(files, firehose_dir, raw_pat, pkg->rawprogram, sizeof(pkg->rawprogram))) {
        r = pkg_fail(err, errlen, "'%s' has no rawprogram*.xml", firehose_dir);
        goto fail;
    }
    const uint8_t *d = files->get(files->ctx, pkg->programmer, &len);
    if (!d || !qualcomm_mbn_sniff(d, len)) {
        r = pkg_fail(err, errlen, "programmer '%s' is not an ELF/MBN image", pkg->programmer);
        goto fail;
    }
    struct pkg_image *img = pkg_image_list_add(&pkg->images);
    if (!img) {
        r = -ENOMEM;
        goto fail;
    }
    pkg_strlcpy(img->name, "programmer", sizeof(img->name));
    pkg_strlcpy(img->type, "sahara", sizeof(img->type));
    pkg_strlcpy(img->file, pkg->programmer, sizeof(img->file));
    img->size = len;
    img->data = d;
    d = files->get(files->ctx, pkg->rawprogram, &len);
    if ((r = qualcomm_xml_parse(d, len, &pkg->raw, err, errlen)) < 0)
        goto fail;
    if (pkg->raw.is_patch) {
        r = pkg_fail(err, errlen, "'%s' is a patch file, not a rawprogram", pkg->rawprogram);
        goto fail;
    }
    if (find_first(files, firehose_dir, patch_pat, pkg->patch, sizeof(pkg->patch))) {
        struct qualcomm_xml *patch = calloc(1, sizeof(*patch));
        if (!patch) {
            r = -ENOMEM;
            goto fail;
        }
        d = files->get(files->ctx, pkg->patch, &len);
        r = qualcomm_xml_parse(d, len, patch, err, errlen);
        pkg->patch_count = patch->count;
        free(patch);
        if (r < 0)
            goto fail;
    }
    size_t programs = 0;
    for (size_t i = 0; i < pkg->raw.count; i++) {
        const struct qualcomm_entry *e = &pkg->raw.entries[i];
        if (e->erase || !e->filename[0])
            continue;
        if (strchr(e->filename, '/') || strchr(e->filename, '\\') || strstr(e->filename, "..")) {
            r = pkg_fail(err, errlen, "rawprogram names '%s', which leaves the firehose folder",
                         e->filename);
            goto fail;
        }
        d = find_image(files, firehose_dir, e->filename, path, sizeof(path), &len);
        if (!d) {
            r = pkg_fail(err, errlen, "rawprogram names '%s', which is not in the package",
                         e->filename);
            goto fail;
        }
        uint32_t ss = e->sector_size ? e->sector_size : 4096;
        if (e->num_sectors && len > e->num_sectors * (uint64_t)ss) {
            r = pkg_fail(err, errlen, "'%s' (%zu bytes) is larger than partition '%s' (%llu)",
                         e->filename, len, e->label,
                         (unsigned long long)(e->num_sectors * (uint64_t)ss));
            goto fail;
        }
        if (!(img = pkg_image_list_add(&pkg->images))) {
            r = -ENOMEM;
            goto fail;
        }
        pkg_strlcpy(img->name, e->label[0] ? e->label : e->filename, sizeof(img->name));
        pkg_strlcpy(img->partition, e->label, sizeof(img->partition));
        pkg_strlcpy(img->type, "program", sizeof(img->type));
        pkg_strlcpy(img->file, path, sizeof(img->file));
        img->address = e->start_sector * (uint64_t)ss;
        img->size = len;
        img->data = d;
        programs++;
    }
    if (!programs) {
        r = pkg_fail(err, errlen, "'%s' programs no file", pkg->rawprogram);
        goto fail;
    }
    *ret = pkg;
    return 0;
fail:
    qualcomm_pkg_free(pkg);
    return r;
}

void qualcomm_pkg_free(struct qualcomm_pkg *pkg)
{
    if (!pkg)
        return;
    pkg_image_list_free(&pkg->images);
    free(pkg);
}

int qualcomm_pkg_hook_parse(const uint8_t *data, size_t len, void **ret_package, char *err,
                            size_t errlen)
{
    return pkg_proto_parse(PKG_PLATFORM_QUALCOMM, data, len, ret_package, err, errlen);
}

void qualcomm_pkg_hook_free(void *package)
{
    pkg_proto_free(package);
}
