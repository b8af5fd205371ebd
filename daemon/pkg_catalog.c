/* The package catalogue and the API's recipes (see pkg_catalog.h). */
#include "pkg_catalog.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "db.h"
#include "db_packages.h"
#include "http.h"
#include "log.h"
#include "pkg_cache.h"
#include "pkg_upload.h"
#include "workflow.h"

struct pkg_catalog {
    struct station *st;
    char dir[PATH_MAX];
    struct pkg_api_recipe *recipes[CONFIG_MAX_RECIPES]; /* heap: loads point at them */
    size_t recipe_count;
    unsigned uploads;
    int stopped;
};

/* ---- pure helpers --------------------------------------------------------------------------- */

int pkg_catalog_is_sha256(const char *s)
{
    size_t n = 0;
    for (; s && s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return 0;
    return n == 64;
}

int pkg_catalog_check_recipe_name(const char *name, char *err, size_t errlen)
{
    size_t n = name ? strlen(name) : 0;
    const char *why = NULL;
    if (n == 0 || n >= CONFIG_LABEL_MAX)
        why = "has 1 to 31 bytes";
    else if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z') ||
               (name[0] >= '0' && name[0] <= '9')))
        why = "starts with a letter or a digit";
    for (size_t i = 0; !why && i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            why = "has only letters, digits, '-', '_' and '.'";
    }
    if (!why)
        return 0;
    snprintf(err, errlen, "a recipe name %s", why);
    return -EINVAL;
}

int pkg_catalog_check_options(const char *options, char *err, size_t errlen)
{
    size_t n = strlen(options);
    if (n >= sizeof(((struct config_recipe *)0)->options)) {
        snprintf(err, errlen, "'options' is longer than %zu bytes",
                 sizeof(((struct config_recipe *)0)->options) - 1);
        return -EINVAL;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)options[i] < 0x20 || (unsigned char)options[i] > 0x7e) {
            snprintf(err, errlen, "'options' has a byte that is not printable ASCII");
            return -EINVAL;
        }
    return 0;
}

void pkg_catalog_iso8601(uint64_t unix_ms, char out[32])
{
    time_t t = (time_t)(unix_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char date[24];
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 32, "%.20s.%03uZ", date, (unsigned)(unix_ms % 1000));
}

json_t *pkg_catalog_inspect_json(const struct pkg *p)
{
    json_t *warnings = json_array();
    for (unsigned i = 0; warnings && i < p->warnings.count && i < PKG_WARN_MAX; i++)
        json_array_append_new(warnings, http_json_string(p->warnings.text[i]));
    if (warnings && p->warnings.dropped) {
        char more[64];
        snprintf(more, sizeof(more), "... and %u more warnings", p->warnings.dropped);
        json_array_append_new(warnings, json_string(more));
    }
    return json_pack(
        "{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:o}", "platform",
        pkg_platform_to_string(p->platform), "layout", http_json_string(p->layout ? p->layout : ""),
        "firmware", http_json_string(p->name), "series", http_json_string(p->ident.series),
        "sub_model", http_json_string(p->ident.submodel), "version",
        http_json_string(p->ident.version), "flash_file", http_json_string(p->flash_file),
        "flash_size", (json_int_t)p->flash_len, "warnings", warnings ? warnings : json_array());
}

/* ---- the package object --------------------------------------------------------------------- */

json_t *pkg_catalog_recipes_using(struct pkg_catalog *c, const char *sha256)
{
    json_t *names = json_array();
    struct workflow *w = c->st->workflow;
    struct workflow_recipe_view v;
    for (size_t i = 0; w && workflow_recipe(w, i, &v) == 0; i++)
        if (!v.api && v.entry && strcmp(pkg_entry_sha256(v.entry), sha256) == 0)
            json_array_append_new(names, json_string(v.name));
    for (size_t i = 0; i < c->recipe_count; i++)
        if (strcmp(c->recipes[i]->sha256, sha256) == 0 &&
            !pkg_catalog_shadowed(c, c->recipes[i]->cfg.name))
            json_array_append_new(names, json_string(c->recipes[i]->cfg.name));
    return names;
}

/* recipes and in_use: what the line does with the package now. */
static json_t *add_usage(struct pkg_catalog *c, json_t *o, const char *sha256)
{
    char slots[8];
    size_t users = workflow_package_users(c->st->workflow, sha256, slots, sizeof(slots));
    if (o && json_object_update_new(o, json_pack("{s:o, s:I}", "recipes",
                                                 pkg_catalog_recipes_using(c, sha256), "in_use",
                                                 (json_int_t)users)) < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* A member of the stored inspect object, or its empty value. New reference. */
static json_t *member(json_t *inspect, const char *key, json_t *otherwise)
{
    json_t *v = json_object_get(inspect, key);
    if (v && json_typeof(v) == json_typeof(otherwise)) {
        json_decref(otherwise);
        return json_incref(v);
    }
    return otherwise;
}

json_t *pkg_catalog_package_json(struct pkg_catalog *c, const struct db_package *p)
{
    json_t *inspect = p->inspect_json ? json_loads(p->inspect_json, 0, NULL) : NULL;
    char at[32];
    pkg_catalog_iso8601(p->added_unix_ms, at);
    json_t *o = json_pack(
        "{s:s, s:o, s:I, s:s, s:I, s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
        "sha256", p->sha256, "name", http_json_string(p->name), "size", (json_int_t)p->size,
        "uploaded_at", at, "uploaded_unix_ms", (json_int_t)p->added_unix_ms, "uploaded_by",
        member(inspect, "uploaded_by", json_string("")), "source", "upload", "platform",
        http_json_string(p->platform), "layout", member(inspect, "layout", json_string("")),
        "firmware", member(inspect, "firmware", json_string("")), "series",
        http_json_string(p->series), "sub_model", http_json_string(p->submodel), "version",
        http_json_string(p->version), "flash_file", member(inspect, "flash_file", json_string("")),
        "flash_size", member(inspect, "flash_size", json_integer(0)), "warnings",
        member(inspect, "warnings", json_array()));
    json_decref(inspect);
    return add_usage(c, o, p->sha256);
}

json_t *pkg_catalog_entry_json(struct pkg_catalog *c, struct pkg_entry *e, const char *name)
{
    json_t *o = pkg_catalog_inspect_json(pkg_entry_pkg(e));
    if (o && json_object_update_new(
                 o, json_pack("{s:s, s:o, s:I, s:n, s:n, s:n, s:s}", "sha256", pkg_entry_sha256(e),
                              "name", http_json_string(name), "size", (json_int_t)pkg_entry_size(e),
                              "uploaded_at", "uploaded_unix_ms", "uploaded_by", "source",
                              "config")) < 0) {
        json_decref(o);
        return NULL;
    }
    return add_usage(c, o, pkg_entry_sha256(e));
}

/* The file or folder name a config path points at. */
static const char *base_name(const char *path, char *buf, size_t size)
{
    snprintf(buf, size, "%s", path);
    size_t n = strlen(buf);
    while (n > 1 && buf[n - 1] == '/')
        buf[--n] = '\0';
    const char *slash = strrchr(buf, '/');
    return slash ? slash + 1 : buf;
}

json_t *pkg_catalog_find_json(struct pkg_catalog *c, const char *sha256)
{
    struct db_package p;
    if (c->st->db && db_package_get(c->st->db, sha256, &p) == 0) {
        json_t *o = pkg_catalog_package_json(c, &p);
        db_package_clear(&p);
        return o;
    }
    struct workflow_recipe_view v;
    for (size_t i = 0; workflow_recipe(c->st->workflow, i, &v) == 0; i++) {
        if (v.api || !v.entry || strcmp(pkg_entry_sha256(v.entry), sha256) != 0)
            continue;
        const struct config_recipe *rc = NULL;
        for (size_t k = 0; k < c->st->cfg.recipe_count; k++)
            if (strcmp(c->st->cfg.recipes[k].name, v.name) == 0)
                rc = &c->st->cfg.recipes[k];
        char buf[PATH_MAX];
        return pkg_catalog_entry_json(c, v.entry,
                                      rc ? base_name(rc->package, buf, sizeof(buf))
                                         : pkg_entry_pkg(v.entry)->name);
    }
    return NULL;
}

/* ---- recipes of the API --------------------------------------------------------------------- */

int pkg_catalog_shadowed(const struct pkg_catalog *c, const char *name)
{
    for (size_t i = 0; i < c->st->cfg.recipe_count; i++)
        if (strcmp(c->st->cfg.recipes[i].name, name) == 0)
            return 1;
    return 0;
}

/* The workflow's table after the config's recipes: every recipe of the API, in order. */
static void push_table(struct pkg_catalog *c)
{
    struct workflow_recipe extra[CONFIG_MAX_RECIPES];
    for (size_t i = 0; i < c->recipe_count; i++)
        extra[i] = (struct workflow_recipe){&c->recipes[i]->cfg, c->recipes[i]->entry};
    if (c->st->workflow)
        workflow_recipes_set_extra(c->st->workflow, extra, c->recipe_count);
}

size_t pkg_catalog_recipe_count(const struct pkg_catalog *c)
{
    return c->recipe_count;
}

struct pkg_api_recipe *pkg_catalog_recipe(struct pkg_catalog *c, size_t i)
{
    return i < c->recipe_count ? c->recipes[i] : NULL;
}

struct pkg_api_recipe *pkg_catalog_recipe_find(struct pkg_catalog *c, const char *name)
{
    for (size_t i = 0; i < c->recipe_count; i++)
        if (strcmp(c->recipes[i]->cfg.name, name) == 0)
            return c->recipes[i];
    return NULL;
}

static void recipe_free(struct pkg_api_recipe *r)
{
    if (!r)
        return;
    if (r->entry)
        pkg_entry_unref(r->entry);
    free(r);
}

int pkg_catalog_recipe_set(struct pkg_catalog *c, const struct pkg_api_recipe *r,
                           struct pkg_entry *entry, int *ret_created)
{
    struct pkg_api_recipe *have = pkg_catalog_recipe_find(c, r->cfg.name);
    if (!have && c->recipe_count >= CONFIG_MAX_RECIPES)
        return -E2BIG;
    struct db_recipe row;
    memset(&row, 0, sizeof(row));
    snprintf(row.name, sizeof(row.name), "%s", r->cfg.name);
    snprintf(row.package_sha256, sizeof(row.package_sha256), "%s", r->sha256);
    snprintf(row.options, sizeof(row.options), "%s", r->cfg.options);
    row.created_unix_ms = r->created_unix_ms;
    db_field_set(row.created_by, sizeof(row.created_by), r->created_by);
    int e = db_recipe_put(c->st->db, &row, ret_created);
    if (e < 0)
        return e;
    struct pkg_api_recipe *n = malloc(sizeof(*n));
    if (!n)
        return -ENOMEM; /* saved: the next start loads it */
    *n = *r;
    n->entry = entry;
    n->loading = 0;
    n->error[0] = '\0';
    if (have) {
        for (size_t i = 0; i < c->recipe_count; i++)
            if (c->recipes[i] == have)
                c->recipes[i] = n;
        push_table(c); /* before the old one goes: the table points at its cfg */
        recipe_free(have);
    } else {
        c->recipes[c->recipe_count++] = n;
        push_table(c);
    }
    return 0;
}

int pkg_catalog_recipe_delete(struct pkg_catalog *c, const char *name)
{
    int e = db_recipe_delete(c->st->db, name);
    if (e < 0)
        return e;
    for (size_t i = 0; i < c->recipe_count; i++) {
        if (strcmp(c->recipes[i]->cfg.name, name) != 0)
            continue;
        struct pkg_api_recipe *r = c->recipes[i];
        memmove(&c->recipes[i], &c->recipes[i + 1],
                (c->recipe_count - i - 1) * sizeof(c->recipes[0]));
        c->recipe_count--;
        push_table(c);
        if (r->loading)
            r->cfg.name[0] = '\0'; /* its load callback frees it */
        else
            recipe_free(r);
        break;
    }
    return 0;
}

json_t *pkg_catalog_recipe_json(struct pkg_catalog *c, const struct pkg_api_recipe *r)
{
    char at[32];
    pkg_catalog_iso8601(r->created_unix_ms, at);
    const char *state = r->loading ? "loading" : r->entry ? "ready" : "failed";
    json_t *package = r->loading ? json_null() : pkg_catalog_find_json(c, r->sha256);
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:o, s:o, s:s, s:I, s:o, s:s}", "name", r->cfg.name, "source",
                  "api", "state", state, "options", http_json_string(r->cfg.options), "package",
                  package ? package : json_null(), "created_at", at, "created_unix_ms",
                  (json_int_t)r->created_unix_ms, "created_by", http_json_string(r->created_by),
                  "package_sha256", r->sha256);
    if (o && !r->loading && !r->entry)
        json_object_set_new(o, "error", http_json_string(r->error[0] ? r->error : "not loaded"));
    return o;
}

/* ---- start-up ------------------------------------------------------------------------------- */

static void on_startup_loaded(struct pkg_api_recipe *r, int status, struct pkg_entry *entry,
                              const char *err)
{
    r->loading = 0;
    r->entry = NULL;
    if (status < 0) {
        snprintf(r->error, sizeof(r->error), "%s", err ? err : strerror(-status));
        log_err("recipe %s (API): %s: %s", r->cfg.name, r->cfg.package, r->error);
    } else {
        r->entry = entry;
    }
}

struct startup_load {
    struct pkg_catalog *c;
    struct pkg_api_recipe *r;
};

static void on_startup(void *user, int status, struct pkg_entry *entry, const char *err)
{
    struct startup_load *sl = user;
    struct pkg_catalog *c = sl->c;
    struct pkg_api_recipe *r = sl->r;
    free(sl);
    on_startup_loaded(r, status, entry, err);
    if (!r->cfg.name[0] || c->stopped) { /* deleted while it loaded, or stopping */
        int listed = 0;
        for (size_t i = 0; i < c->recipe_count; i++)
            listed |= c->recipes[i] == r;
        if (!listed)
            recipe_free(r);
    } else if (r->entry) {
        const struct pkg *p = pkg_entry_pkg(r->entry);
        log_notice("recipe %s (API): %s package %s, series %s %s, version %s, sha256 %s",
                   r->cfg.name, pkg_platform_to_string(p->platform), p->name, p->ident.series,
                   p->ident.submodel, p->ident.version, r->sha256);
    }
    push_table(c);
    if (c->st->workflow)
        workflow_release(c->st->workflow);
}

static int add_startup_recipe(const struct db_recipe *row, void *ud)
{
    struct pkg_catalog *c = ud;
    if (c->recipe_count >= CONFIG_MAX_RECIPES) {
        log_warning("recipe %s (API): left out, more than %d recipes", row->name,
                    CONFIG_MAX_RECIPES);
        return 0;
    }
    struct db_package p;
    struct pkg_api_recipe *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    snprintf(r->cfg.name, sizeof(r->cfg.name), "%s", row->name);
    snprintf(r->cfg.options, sizeof(r->cfg.options), "%s", row->options);
    snprintf(r->sha256, sizeof(r->sha256), "%s", row->package_sha256);
    r->created_unix_ms = row->created_unix_ms;
    snprintf(r->created_by, sizeof(r->created_by), "%s", row->created_by);
    if (db_package_get(c->st->db, row->package_sha256, &p) == 0) {
        snprintf(r->cfg.package, sizeof(r->cfg.package), "%s", p.path);
        db_package_clear(&p);
    }
    c->recipes[c->recipe_count++] = r;
    return 0;
}

int pkg_catalog_new(struct station *st, struct pkg_catalog **ret)
{
    struct pkg_catalog *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->st = st;
    if ((size_t)snprintf(c->dir, sizeof(c->dir), "%.4000s/packages", st->cfg.data_dir) >=
        sizeof(c->dir)) {
        free(c);
        return -ENAMETOOLONG;
    }
    if (mkdir(c->dir, 0750) != 0 && errno != EEXIST) {
        int e = -errno;
        log_err("packages: cannot create %s: %s", c->dir, strerror(-e));
        free(c);
        return e;
    }
    int swept = pkg_upload_sweep(c->dir);
    if (swept > 0)
        log_notice("packages: removed %d unfinished uploads of an earlier run", swept);
    *ret = c;
    if (!st->db)
        return 0;
    int e = db_recipes_list(st->db, add_startup_recipe, c);
    if (e < 0) {
        log_err("recipes: cannot read the API's recipes: %s", db_last_error(st->db));
        return 0; /* the config's recipes run; the API ones show up after a restart */
    }
    for (size_t i = 0; i < c->recipe_count; i++) {
        struct pkg_api_recipe *r = c->recipes[i];
        if (pkg_catalog_shadowed(c, r->cfg.name))
            log_warning("recipe %s: [recipe %s] of the configuration file wins over the API's "
                        "recipe %s (package %s): delete one of them",
                        r->cfg.name, r->cfg.name, r->cfg.name, r->sha256);
        if (!r->cfg.package[0]) {
            snprintf(r->error, sizeof(r->error), "package %s is not in the catalogue", r->sha256);
            continue;
        }
        struct startup_load *sl = malloc(sizeof(*sl));
        r->loading = 1;
        if (sl) {
            *sl = (struct startup_load){c, r};
            workflow_hold(st->workflow);
        }
        if (!sl || pkg_cache_load_in_place(workflow_cache(st->workflow), r->cfg.package, on_startup,
                                           sl) < 0) {
            if (sl)
                workflow_release(st->workflow);
            free(sl);
            r->loading = 0;
            snprintf(r->error, sizeof(r->error), "%.400s: cannot start loading it", r->cfg.package);
        }
    }
    push_table(c);
    log_notice("recipes: %zu from the configuration file, %zu from the API", st->cfg.recipe_count,
               c->recipe_count);
    return 0;
}

void pkg_catalog_stop(struct pkg_catalog *c)
{
    if (c)
        c->stopped = 1;
}

void pkg_catalog_free(struct pkg_catalog *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->recipe_count; i++)
        recipe_free(c->recipes[i]);
    free(c);
}

const char *pkg_catalog_dir(const struct pkg_catalog *c)
{
    return c->dir;
}

int pkg_catalog_stopped(const struct pkg_catalog *c)
{
    return c->stopped;
}

unsigned *pkg_catalog_uploads(struct pkg_catalog *c)
{
    return &c->uploads;
}
