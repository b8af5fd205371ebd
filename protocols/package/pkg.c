/* Package front door (see pkg.h): walk, choose, parse, name. */
#include "package/pkg.h"

#include "asr/asr1803_pkg.h"
#include "asr/asr_pkg.h"
#include "beken/beken_pkg.h"
#include "eigencomm/eigencomm_pkg.h"
#include "eswin/eswin_pkg.h"
#include "qualcomm/qualcomm_pkg.h"
#include "unisoc/unisoc_pkg.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void pkg_sha256_hex(const uint8_t *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void merge_warnings(struct pkg_warnings *dst, const struct pkg_warnings *src)
{
    for (unsigned i = 0; i < src->count; i++)
        pkg_warn(dst, "%s", src->text[i]);
    dst->dropped += src->dropped;
}

static void free_parsed(struct pkg *p)
{
    switch (p->parsed_kind) {
    case PKG_PARSED_PAC:
        unisoc_pac_free(p->parsed);
        break;
    case PKG_PARSED_ASR:
        asr_pkg_free(p->parsed);
        break;
    case PKG_PARSED_BLF:
        asr1803_blf_free(p->parsed);
        break;
    case PKG_PARSED_FBF:
        asr1803_fbf_free(p->parsed);
        break;
    case PKG_PARSED_BINPKG:
        eigencomm_binpkg_free(p->parsed);
        break;
    case PKG_PARSED_QUALCOMM:
        qualcomm_pkg_free(p->parsed);
        break;
    case PKG_PARSED_BEKEN:
        beken_image_free(p->parsed);
        break;
    case PKG_PARSED_ESWIN:
        eswin_image_free(p->parsed);
        break;
    case PKG_PARSED_NONE:
        break;
    }
    p->parsed = NULL;
    p->parsed_kind = PKG_PARSED_NONE;
}

/* Runs the platform parser on the chosen payload; copies images and warnings out. */
static int parse_payload(struct pkg *p, char *err, size_t errlen)
{
    struct pkg_files files;
    pkg_walk_files(&p->walk, &files);
    const struct pkg_node *n = &p->walk.nodes[p->choice.payload_node];
    const uint8_t *d = n->data;
    size_t len = n->size;
    const struct pkg_image_list *imgs = NULL;
    const struct pkg_warnings *warns = NULL;
    int r = -EINVAL;
    switch (p->platform) {
    case PKG_PLATFORM_UNISOC: {
        struct unisoc_pac *pac = NULL;
        if ((r = unisoc_pac_parse(d, len, &pac, err, errlen)) == 0) {
            p->parsed_kind = PKG_PARSED_PAC;
            p->parsed = pac;
            imgs = &pac->images;
            warns = &pac->warnings;
        }
        break;
    }
    case PKG_PLATFORM_ASR: {
        struct asr_pkg *a = NULL;
        if ((r = asr_pkg_parse_files(&files, p->choice.payload_dir, &a, err, errlen)) == 0) {
            p->parsed_kind = PKG_PARSED_ASR;
            p->parsed = a;
            imgs = &a->images;
            warns = &a->warnings;
        }
        break;
    }
    case PKG_PLATFORM_ASR1803: {
        if (strcmp(p->layout, "asr1803-fbf") == 0) {
            struct asr1803_fbf *f = NULL;
            if ((r = asr1803_fbf_parse(d, len, &f, err, errlen)) == 0) {
                p->parsed_kind = PKG_PARSED_FBF;
                p->parsed = f;
                imgs = &f->images;
                warns = &f->warnings;
            }
            break;
        }
        struct asr1803_blf *b = NULL;
        if ((r = asr1803_blf_parse(d, len, &b, err, errlen)) == 0) {
            p->parsed_kind = PKG_PARSED_BLF;
            p->parsed = b;
            r = asr1803_blf_resolve(b, &files, p->choice.payload_dir, err, errlen);
            imgs = &b->images;
            warns = &b->warnings;
        }
        break;
    }
    case PKG_PLATFORM_EIGENCOMM: {
        struct eigencomm_binpkg *b = NULL;
        if ((r = eigencomm_binpkg_parse(d, len, &b, err, errlen)) == 0) {
            p->parsed_kind = PKG_PARSED_BINPKG;
            p->parsed = b;
            imgs = &b->images;
            warns = &b->warnings;
        }
        break;
    }
    case PKG_PLATFORM_QUALCOMM: {
        struct qualcomm_pkg *q = NULL;
        if ((r = qualcomm_pkg_parse_files(&files, p->choice.payload_dir, &q, err, errlen)) == 0) {
            p->parsed_kind = PKG_PARSED_QUALCOMM;
            p->parsed = q;
            imgs = &q->images;
            warns = &q->warnings;
        }
        break;
    }
    case PKG_PLATFORM_BEKEN: {
        struct beken_image *b = NULL;
        if ((r = beken_image_parse(d, len, n->name, &b, err, errlen)) == 0) {
            p->parsed_kind = PKG_PARSED_BEKEN;
            p->parsed = b;
            imgs = &b->images;
            warns = &b->warnings;
        }
        break;
    }
    case PKG_PLATFORM_ESWIN: {
        struct eswin_image *e = NULL;
        if ((r = eswin_image_parse(d, len, &e, err, errlen)) == 0) {
            p->parsed_kind = PKG_PARSED_ESWIN;
            p->parsed = e;
            imgs = &e->images;
            warns = &e->warnings;
        }
        break;
    }
    default:
        return pkg_fail(err, errlen, "no parser for platform %s",
                        pkg_platform_to_string(p->platform));
    }
    if (r < 0)
        return r;
    merge_warnings(&p->warnings, warns);
    return pkg_image_list_copy(&p->images, imgs);
}

static void strip_ext(char *s)
{
    static const char *const exts[] = {".zip", ".bin", ".pac", ".binpkg", ".blf", ".mbn", NULL};
    for (const char *const *e = exts; *e; e++)
        if (pkg_str_ends_with_ci(s, *e)) {
            s[strlen(s) - strlen(*e)] = '\0';
            return;
        }
}

static int same_module(const struct pkg_ident *a, const struct pkg_ident *b)
{
    return strcasecmp(a->series, b->series) == 0 && strcasecmp(a->submodel, b->submodel) == 0;
}

/* Identity from names: the flash file, the payload, then every folder/container above the
 * payload, then the name the user gave. The first name that says which module wins; later
 * ones that disagree are reported (a renamed package is suspicious, not fatal). */
static void identify(struct pkg *p)
{
    const struct pkg_walk *w = &p->walk;
    char names[24][160];
    size_t nn = 0;
    pkg_strlcpy(names[nn++], w->nodes[p->choice.flash_node].name, sizeof(names[0]));
    pkg_strlcpy(names[nn++], w->nodes[p->choice.payload_node].name, sizeof(names[0]));
    char path[PKG_PATH_MAX];
    pkg_strlcpy(path, w->nodes[p->choice.payload_node].path, sizeof(path));
    char *slash;
    while ((slash = strrchr(path, '/')) && nn < 23) {
        *slash = '\0';
        pkg_strlcpy(names[nn++], pkg_basename(path), sizeof(names[0]));
    }
    pkg_strlcpy(names[nn++], w->root_name ? w->root_name : "", sizeof(names[0]));
    if (w->context_name)
        pkg_strlcpy(names[nn++], w->context_name, sizeof(names[0]));
    int found = 0;
    for (size_t i = 0; i < nn; i++) {
        struct pkg_ident id;
        if (pkg_name_parse(names[i], &id) < 0)
            continue;
        if (!found) {
            p->ident = id;
            pkg_strlcpy(p->name, names[i], sizeof(p->name));
            strip_ext(p->name);
            found = 1;
        } else if (!same_module(&id, &p->ident)) {
            pkg_warn(&p->warnings, "names disagree: '%s' says %s_%s, '%s' says %s_%s", p->name,
                     p->ident.series, p->ident.submodel, names[i], id.series, id.submodel);
        }
    }
    if (!found) {
        pkg_strlcpy(p->name, w->nodes[p->choice.flash_node].name, sizeof(p->name));
        strip_ext(p->name);
        pkg_warn(&p->warnings, "no name in the package says which module it is for");
    } else if (p->ident.platform != PKG_PLATFORM_UNKNOWN && p->ident.platform != p->platform) {
        pkg_warn(&p->warnings, "name says %s (a %s module) but the firmware is for %s",
                 p->ident.series, pkg_platform_to_string(p->ident.platform),
                 pkg_platform_to_string(p->platform));
    }
}

int pkg_open_walk(struct pkg_walk *walk, const char *prefer, struct pkg **ret, char *err,
                  size_t errlen)
{
    struct pkg *p = calloc(1, sizeof(*p));
    if (!p) {
        pkg_walk_free(walk);
        return -ENOMEM;
    }
    p->walk = *walk;
    memset(walk, 0, sizeof(*walk));
    merge_warnings(&p->warnings, &p->walk.warnings);
    int r = pkg_choose(&p->walk, prefer, &p->choice, &p->warnings, err, errlen);
    if (r < 0)
        goto fail;
    p->platform = p->choice.platform;
    p->layout = p->choice.layout;
    const struct pkg_node *fl = &p->walk.nodes[p->choice.flash_node];
    const struct pkg_node *pl = &p->walk.nodes[p->choice.payload_node];
    pkg_strlcpy(p->flash_file, *fl->path ? fl->path : p->walk.root_name, sizeof(p->flash_file));
    pkg_strlcpy(p->payload_file, *pl->path ? pl->path : p->walk.root_name, sizeof(p->payload_file));
    p->flash_data = fl->data;
    p->flash_len = fl->size;
    p->payload_data = pl->data;
    p->payload_len = pl->size;
    if (fl->data)
        pkg_sha256_hex(fl->data, fl->size, p->flash_sha256);
    if ((r = parse_payload(p, err, errlen)) < 0) {
        /* Say where: "pkg.zip: 'X/X.pac': PAC: data CRC mismatch ...". */
        if (err && errlen) {
            char inner[512];
            pkg_strlcpy(inner, err, sizeof(inner));
            if (strcmp(p->payload_file, p->walk.root_name) == 0)
                snprintf(err, errlen, "%s: %s", p->walk.root_name, inner);
            else
                snprintf(err, errlen, "%s: '%s': %s", p->walk.root_name, p->payload_file, inner);
        }
        goto fail;
    }
    identify(p);
    *ret = p;
    return 0;
fail:
    pkg_free(p);
    return r;
}

int pkg_open_buffer(const uint8_t *data, size_t len, const char *name, const struct pkg_limits *lim,
                    struct pkg **ret, char *err, size_t errlen)
{
    struct pkg_walk w;
    int r = pkg_walk_init(&w, name, lim);
    if (r < 0)
        return r;
    if ((r = pkg_walk_file(&w, data, len, err, errlen)) < 0) {
        pkg_walk_free(&w);
        return r;
    }
    return pkg_open_walk(&w, NULL, ret, err, errlen);
}

void pkg_free(struct pkg *p)
{
    if (!p)
        return;
    free_parsed(p);
    pkg_image_list_free(&p->images);
    pkg_walk_free(&p->walk);
    free(p);
}

int pkg_proto_parse(enum pkg_platform want, const uint8_t *data, size_t len, void **ret_package,
                    char *err, size_t errlen)
{
    struct pkg *p = NULL;
    int r = pkg_open_buffer(data, len, "", NULL, &p, err, errlen);
    if (r < 0)
        return r;
    if (p->platform != want) {
        r = pkg_fail(err, errlen, "package holds %s firmware, not %s",
                     pkg_platform_to_string(p->platform), pkg_platform_to_string(want));
        pkg_free(p);
        return r;
    }
    *ret_package = p;
    return 0;
}

void pkg_proto_free(void *package)
{
    pkg_free(package);
}
