/* Layout detection and choice rules (see pkg_layout.h). */
#include "package/pkg_layout.h"

#include "asr/asr1803_pkg.h"
#include "beken/beken_pkg.h"
#include "eigencomm/eigencomm_pkg.h"
#include "eswin/eswin_pkg.h"
#include "qualcomm/qualcomm_pkg.h"
#include "unisoc/unisoc_pkg.h"

#include <errno.h>
#include <fnmatch.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_CAND 64

struct cand {
    enum pkg_platform platform;
    int payload; /* node, or -1 for a directory payload */
    int flash;   /* node the user flashes, before platform_config promotion */
    char dir[PKG_PATH_MAX];
    int dropped;
};

struct scan {
    const struct pkg_walk *w;
    struct cand c[MAX_CAND];
    size_t n;
    enum pkg_platform hint;
    char hint_text[32];
};

enum pkg_platform pkg_platform_from_config(const char *v)
{
    static const struct {
        const char *value;
        enum pkg_platform p;
    } map[] = {
        {"unisoc", PKG_PLATFORM_UNISOC},     {"unisoc8910", PKG_PLATFORM_UNISOC},
        {"unisoc8850", PKG_PLATFORM_UNISOC}, {"ASR", PKG_PLATFORM_ASR},
        {"ASR1601", PKG_PLATFORM_ASR},       {"ASR1603", PKG_PLATFORM_ASR},
        {"ASR1606", PKG_PLATFORM_ASR},       {"ASR1803S", PKG_PLATFORM_ASR1803},
        {"ASR1803", PKG_PLATFORM_ASR1803},   {"EIGEN", PKG_PLATFORM_EIGENCOMM},
        {"MDM9X05", PKG_PLATFORM_QUALCOMM},  {"FCM360W", PKG_PLATFORM_ESWIN},
        {"FC41D", PKG_PLATFORM_BEKEN},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcasecmp(map[i].value, v) == 0)
            return map[i].p;
    return PKG_PLATFORM_UNKNOWN;
}

static int child(const struct pkg_walk *w, int container, const char *name)
{
    char path[PKG_PATH_MAX];
    const char *base = w->nodes[container].path;
    pkg_path_join(path, sizeof(path), base, name);
    return pkg_walk_find(w, path);
}

static int add(struct scan *s, enum pkg_platform p, int payload, int flash, const char *dir,
               char *err, size_t errlen)
{
    if (s->n >= MAX_CAND)
        return pkg_fail(err, errlen, "package holds more than %d firmware candidates", MAX_CAND);
    struct cand *c = &s->c[s->n++];
    memset(c, 0, sizeof(*c));
    c->platform = p;
    c->payload = payload;
    c->flash = flash;
    pkg_strlcpy(c->dir, dir ? dir : "", sizeof(c->dir));
    return 0;
}

static int read_config(struct scan *s, const struct pkg_node *n, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = n->size <= 65536 ? json_loadb((const char *)n->data, n->size, 0, &jerr) : NULL;
    json_t *p = json_object_get(root, "platform");
    int r = 0;
    if (!json_is_string(p)) {
        r = pkg_fail(err, errlen, "'%s' has no \"platform\" string", n->path);
    } else {
        enum pkg_platform plat = pkg_platform_from_config(json_string_value(p));
        if (plat == PKG_PLATFORM_UNKNOWN)
            r = pkg_fail(err, errlen, "'%s': platform \"%.31s\" is not supported", n->path,
                         json_string_value(p));
        else if (s->hint != PKG_PLATFORM_UNKNOWN && s->hint != plat)
            r = pkg_fail(err, errlen, "platform_config.json files disagree (%s and %s)",
                         s->hint_text, json_string_value(p));
        s->hint = plat;
        pkg_strlcpy(s->hint_text, json_string_value(p), sizeof(s->hint_text));
    }
    json_decref(root);
    return r;
}

static int scan_node(struct scan *s, int i, char *err, size_t errlen)
{
    const struct pkg_walk *w = s->w;
    const struct pkg_node *n = &w->nodes[i];
    char dir[PKG_PATH_MAX];
    if ((n->flags & (PKG_NODE_CONTAINER | PKG_NODE_DIR)) && child(w, i, "download.json") >= 0)
        return add(s, PKG_PLATFORM_ASR, i, i, n->path, err, errlen);
    if (!n->data || (n->flags & PKG_NODE_CONTAINER))
        return 0;
    if (strcasecmp(n->name, "platform_config.json") == 0)
        return 0;
    if (unisoc_pac_sniff(n->data, n->size) || pkg_str_ends_with_ci(n->name, ".pac"))
        return add(s, PKG_PLATFORM_UNISOC, i, i, NULL, err, errlen);
    if (pkg_str_ends_with_ci(n->name, ".binpkg"))
        return add(s, PKG_PLATFORM_EIGENCOMM, i, i, NULL, err, errlen);
    if (pkg_str_ends_with_ci(n->name, ".blf") || asr1803_blf_sniff(n->data, n->size)) {
        pkg_walk_dirname(n->path, dir, sizeof(dir));
        return add(s, PKG_PLATFORM_ASR1803, i, i, dir, err, errlen);
    }
    if (eswin_image_sniff(n->data, n->size))
        return add(s, PKG_PLATFORM_ESWIN, i, i, NULL, err, errlen);
    if (fnmatch("rawprogram*.xml", n->name, FNM_CASEFOLD) == 0 ||
        fnmatch("firehose-rawprogram*.xml", n->name, FNM_CASEFOLD) == 0) {
        /* The update/firehose tree: the user's handle is partition.mbn beside the XML. */
        pkg_walk_dirname(n->path, dir, sizeof(dir));
        for (size_t k = 0; k < s->n; k++)
            if (s->c[k].platform == PKG_PLATFORM_QUALCOMM && strcmp(s->c[k].dir, dir) == 0)
                return 0; /* a second rawprogram in the same folder */
        char mbn[PKG_PATH_MAX];
        pkg_path_join(mbn, sizeof(mbn), dir, "partition.mbn");
        int h = pkg_walk_find(w, mbn);
        return add(s, PKG_PLATFORM_QUALCOMM, i, h >= 0 ? h : i, dir, err, errlen);
    }
    if (pkg_str_ends_with_ci(n->name, ".bin") && !pkg_is_zip(n->data, n->size) &&
        (strcasestr(n->name, "FC41D") || s->hint == PKG_PLATFORM_BEKEN ||
         beken_image_sniff(n->data, n->size)))
        return add(s, PKG_PLATFORM_BEKEN, i, i, NULL, err, errlen);
    return 0;
}

/* Nonzero when node i sits below a folder called dirname (at any level of its path). */
static int under_dir(const struct pkg_walk *w, int i, const char *dirname)
{
    const char *p = w->nodes[i].path;
    size_t l = strlen(dirname);
    for (const char *q = p; (q = strcasestr(q, dirname)); q++)
        if ((q == p || q[-1] == '/') && q[l] == '/')
            return 1;
    return 0;
}

static size_t live(const struct scan *s, int *only)
{
    size_t n = 0;
    for (size_t k = 0; k < s->n; k++)
        if (!s->c[k].dropped) {
            n++;
            *only = (int)k;
        }
    return n;
}

/* Drops candidates matching pred when others remain; warns with why. */
static void drop_if(struct scan *s, struct pkg_warnings *warn,
                    int (*pred)(const struct scan *, int), const char *why)
{
    int only;
    size_t keep = 0;
    for (size_t k = 0; k < s->n; k++)
        if (!s->c[k].dropped && !pred(s, (int)k))
            keep++;
    if (!keep)
        return;
    for (size_t k = 0; k < s->n; k++)
        if (!s->c[k].dropped && pred(s, (int)k)) {
            s->c[k].dropped = 1;
            pkg_warn(warn, "ignored '%s': %s", s->w->nodes[s->c[k].payload].path, why);
        }
    (void)live(s, &only);
}

static const char *cname(const struct scan *s, int k)
{
    return s->w->nodes[s->c[k].payload].name;
}
static int is_op_pac(const struct scan *s, int k)
{
    return pkg_str_ends_with_ci(cname(s, k), "_flash_delete.pac") ||
           pkg_str_ends_with_ci(cname(s, k), "_pyfs_erase.pac");
}
static int not_merge(const struct scan *s, int k)
{
    return !pkg_str_ends_with_ci(cname(s, k), "_merge.pac");
}
static int in_app(const struct scan *s, int k)
{
    return under_dir(s->w, s->c[k].payload, "app");
}
static int is_release_pack(const struct scan *s, int k)
{
    return strcasestr(cname(s, k), "_release_pack") != NULL;
}
static int in_single_pkg(const struct scan *s, int k)
{
    return under_dir(s->w, s->c[k].payload, "single_pkg");
}
static int not_at_command(const struct scan *s, int k)
{
    return strcasecmp(cname(s, k), "at_command.binpkg") != 0;
}

static void apply_rules(struct scan *s, enum pkg_platform p, struct pkg_warnings *warn)
{
    switch (p) {
    case PKG_PLATFORM_UNISOC:
        drop_if(s, warn, is_op_pac, "operation-only PAC (erases, flashes no firmware)");
        drop_if(s, warn, not_merge, "a _merge.pac is the QuecPython firmware");
        drop_if(s, warn, in_app, "application-only PAC of the build output");
        break;
    case PKG_PLATFORM_ASR:
        drop_if(s, warn, is_release_pack, "release pack, not the directly flashable zip");
        break;
    case PKG_PLATFORM_EIGENCOMM:
        drop_if(s, warn, in_single_pkg, "single-image copy");
        drop_if(s, warn, not_at_command, "at_command.binpkg is the firmware");
        break;
    default:
        break;
    }
}

/* The new official packages wrap the firmware in a .bin zip with platform_config.json: that
 * .bin is what QPYcom flashes, so it is the flash file. */
static int promote(const struct pkg_walk *w, int node)
{
    for (int c = w->nodes[node].parent; c >= 0; c = w->nodes[c].parent)
        if ((w->nodes[c].flags & PKG_NODE_CONTAINER) && child(w, c, "platform_config.json") >= 0)
            return c;
    return node;
}

static const char *layout_name(const struct pkg_walk *w, enum pkg_platform p, int payload,
                               int flash)
{
    const char *name = w->nodes[payload].name;
    int wrapped = flash != payload && p != PKG_PLATFORM_QUALCOMM;
    switch (p) {
    case PKG_PLATFORM_ASR:
        if (pkg_str_ends_with_ci(name, ".bin"))
            return "asr-official";
        return payload == 0 ? "asr-temporary-zip" : "asr-compile-result";
    case PKG_PLATFORM_UNISOC:
        if (wrapped)
            return "unisoc-official-new";
        return pkg_str_ends_with_ci(name, "_merge.pac") ? "unisoc-temporary"
                                                        : "unisoc-official-old";
    case PKG_PLATFORM_EIGENCOMM:
        return wrapped ? "eigencomm-new" : "eigencomm-old";
    case PKG_PLATFORM_ASR1803:
        return "asr1803-blf";
    case PKG_PLATFORM_QUALCOMM:
        return "qualcomm-mbn";
    case PKG_PLATFORM_BEKEN:
        return "beken-bin";
    case PKG_PLATFORM_ESWIN:
        return "eswin-bin";
    default:
        return "unknown";
    }
}

/* A root that is one non-zip file with no recognised content: the bare-file forms. */
static int scan_bare_root(struct scan *s, char *err, size_t errlen)
{
    const struct pkg_node *n = &s->w->nodes[0];
    if (!n->data || (n->flags & PKG_NODE_CONTAINER))
        return 0;
    if (asr1803_fbf_sniff(n->data, n->size))
        return add(s, PKG_PLATFORM_ASR1803, 0, 0, "fbf", err, errlen);
    if (eigencomm_binpkg_sniff(n->data, n->size))
        return add(s, PKG_PLATFORM_EIGENCOMM, 0, 0, NULL, err, errlen);
    if (pkg_str_ends_with_ci(n->name, ".mbn"))
        return pkg_fail(err, errlen,
                        "%s: a .mbn is only the handle of a BG95 update tree; give the package "
                        "zip or its folder (with update/firehose/)",
                        n->name);
    if (strcasestr(n->name, "FC41D") || beken_image_sniff(n->data, n->size))
        return add(s, PKG_PLATFORM_BEKEN, 0, 0, NULL, err, errlen);
    return 0;
}

int pkg_choose(const struct pkg_walk *w, const char *prefer, struct pkg_choice *ret,
               struct pkg_warnings *warn, char *err, size_t errlen)
{
    struct scan *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->w = w;
    int r = 0, only = -1;
    const char *root = w->root_name && *w->root_name ? w->root_name : "package";
    /* platform_config.json first: it decides what a bare .bin beside it is. */
    for (size_t i = 0; i < w->count && r == 0; i++)
        if (w->nodes[i].data && strcasecmp(w->nodes[i].name, "platform_config.json") == 0)
            r = read_config(s, &w->nodes[i], err, errlen);
    for (size_t i = 0; i < w->count && r == 0; i++)
        r = scan_node(s, (int)i, err, errlen);
    if (r == 0 && s->n == 0 && !(w->nodes[0].flags & PKG_NODE_DIR))
        r = scan_bare_root(s, err, errlen);
    if (r < 0)
        goto out;
    if (prefer) {
        for (size_t k = 0; k < s->n; k++) {
            const struct cand *c = &s->c[k];
            s->c[k].dropped = strcmp(w->nodes[c->flash].path, prefer) != 0 &&
                              strcmp(w->nodes[c->payload].path, prefer) != 0;
        }
        if (!live(s, &only)) {
            r = pkg_fail(err, errlen, "'%s' is not the flashable file of a known layout", prefer);
            goto out;
        }
    }
    if (s->hint != PKG_PLATFORM_UNKNOWN) {
        for (size_t k = 0; k < s->n; k++)
            if (s->c[k].platform != s->hint)
                s->c[k].dropped = 1;
        if (!live(s, &only)) {
            r = pkg_fail(err, errlen,
                         "%s: platform_config.json says \"%s\" but the package holds no %s "
                         "firmware",
                         root, s->hint_text, pkg_platform_to_string(s->hint));
            goto out;
        }
    }
    enum pkg_platform plat = PKG_PLATFORM_UNKNOWN;
    for (size_t k = 0; k < s->n; k++) {
        if (s->c[k].dropped)
            continue;
        if (plat != PKG_PLATFORM_UNKNOWN && s->c[k].platform != plat) {
            r = pkg_fail(err, errlen, "%s: holds firmware of two platforms (%s '%s' and %s '%s')",
                         root, pkg_platform_to_string(plat), w->nodes[s->c[only].payload].path,
                         pkg_platform_to_string(s->c[k].platform), w->nodes[s->c[k].payload].path);
            goto out;
        }
        plat = s->c[k].platform;
        only = (int)k;
    }
    if (plat == PKG_PLATFORM_UNKNOWN) {
        r = pkg_failc(-ENOENT, err, errlen,
                      "%s: no flashable firmware found (no download.json zip, .pac, .binpkg, "
                      ".blf, update/firehose tree or Wi-Fi image)",
                      root);
        goto out;
    }
    apply_rules(s, plat, warn);
    size_t left = live(s, &only);
    if (left != 1) {
        char list[400] = "";
        size_t used = 0;
        for (size_t k = 0; k < s->n && used + 2 < sizeof(list); k++)
            if (!s->c[k].dropped) {
                int n = snprintf(list + used, sizeof(list) - used, "%s'%s'", used ? ", " : "",
                                 w->nodes[s->c[k].payload].path);
                used += n > 0 ? (size_t)n : 0;
                if (used >= sizeof(list))
                    used = sizeof(list) - 1;
            }
        r = pkg_fail(err, errlen, "%s: cannot tell which %s firmware to flash: %s", root,
                     pkg_platform_to_string(plat), list);
        goto out;
    }
    const struct cand *c = &s->c[only];
    memset(ret, 0, sizeof(*ret));
    ret->platform = plat;
    ret->payload_node = c->payload;
    ret->flash_node = plat == PKG_PLATFORM_QUALCOMM ? c->flash : promote(w, c->payload);
    if (plat == PKG_PLATFORM_QUALCOMM && c->flash == c->payload)
        pkg_warn(warn, "no partition.mbn beside '%s'", w->nodes[c->payload].path);
    ret->layout = strcmp(c->dir, "fbf") == 0 ? "asr1803-fbf"
                                             : layout_name(w, plat, c->payload, ret->flash_node);
    pkg_strlcpy(ret->payload_dir, strcmp(c->dir, "fbf") == 0 ? "" : c->dir,
                sizeof(ret->payload_dir));
    pkg_strlcpy(ret->platform_config, s->hint_text, sizeof(ret->platform_config));
out:
    free(s);
    return r;
}
