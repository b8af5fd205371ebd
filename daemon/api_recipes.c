/* Recipes over the API (docs/http.md "Recipes"): the table the line picks from, and
 * activating a catalogue package as a recipe without a restart. A PUT loads the package first
 * (on the package cache's worker) and swaps the recipe in only once it is ready; the answer
 * waits for that (http_request_defer). */
#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "db.h"
#include "http_auth.h"
#include "log.h"
#include "pkg_cache.h"
#include "pkg_catalog.h"
#include "station.h"
#include "workflow.h"

#define API_RECIPE_BODY_MAX 4096

static bool have_catalogue(struct http_request *req)
{
    struct station *st = http_request_station(req);
    if (st->packages && st->db && st->workflow)
        return true;
    http_reply_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                     "the station has no recipe table here (no database or no workflow)");
    return false;
}

/* A config recipe as the API shows it. */
static json_t *config_recipe_json(struct pkg_catalog *c, const struct workflow_recipe_view *v)
{
    const char *state = v->loading ? "loading" : v->entry ? "ready" : "failed";
    json_t *package = v->entry ? pkg_catalog_find_json(c, pkg_entry_sha256(v->entry)) : NULL;
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:o, s:o, s:n, s:n, s:n}", "name", v->name, "source", "config",
                  "state", state, "options", http_json_string(v->options), "package",
                  package ? package : json_null(), "created_at", "created_unix_ms", "created_by");
    if (o && !v->loading && !v->entry)
        json_object_set_new(o, "error", http_json_string(v->error[0] ? v->error : "not loaded"));
    return o;
}

static void get_recipes(struct http_request *req)
{
    if (!have_catalogue(req))
        return;
    struct station *st = http_request_station(req);
    json_t *list = json_array();
    struct workflow_recipe_view v;
    for (size_t i = 0; workflow_recipe(st->workflow, i, &v) == 0; i++)
        if (!v.api)
            json_array_append_new(list, config_recipe_json(st->packages, &v));
    for (size_t i = 0; i < pkg_catalog_recipe_count(st->packages); i++) {
        const struct pkg_api_recipe *r = pkg_catalog_recipe(st->packages, i);
        if (!pkg_catalog_shadowed(st->packages, r->cfg.name))
            json_array_append_new(list, pkg_catalog_recipe_json(st->packages, r));
    }
    http_reply_json(req, MHD_HTTP_OK, json_pack("{s:o}", "recipes", list));
}

/* ---- checks of a PUT, before the package loads and again once it did ---------------------- */

/* 0, or answers 409 through reply (req now, d later) and returns -EEXIST. */
struct answer {
    struct http_request *req;
    struct http_deferred *d;
};

__attribute__((format(printf, 3, 4))) static void answer_error(struct answer *a, unsigned status,
                                                               const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    const char *code = status == MHD_HTTP_NOT_FOUND ? "not_found"
                       : status == 422              ? "package_invalid"
                                                    : "conflict";
    if (a->d)
        http_deferred_reply_error(a->d, status, code, "%s", msg);
    else
        http_reply_error(a->req, status, code, "%s", msg);
}

/* Whether other's package is for the same module (and then answers 409 naming it). */
static bool same_module(struct answer *a, const char *other, const struct pkg *p,
                        const char *series, const char *sub)
{
    if (!series[0] || strcasecmp(series, p->ident.series) != 0 ||
        strcasecmp(sub, p->ident.submodel) != 0)
        return false;
    answer_error(a, MHD_HTTP_CONFLICT,
                 "recipe %s already holds firmware for %s%s%s (%s): two recipes would fit the "
                 "same module equally well; change or delete that one first",
                 other, series, sub[0] ? " " : "", sub, p->name);
    return true;
}

/* The table would not fit, or another recipe's package fits the same modules equally well:
 * the guard would refuse to choose between them at pick time (flow_pick_recipe -EEXIST). */
static bool put_allowed(struct station *st, struct answer *a, const char *name, const char *series,
                        const char *sub)
{
    struct pkg_catalog *c = st->packages;
    if (pkg_catalog_shadowed(c, name)) {
        answer_error(a, MHD_HTTP_CONFLICT,
                     "recipe %s is a [recipe] of the configuration file %s: edit the file and "
                     "reload (systemctl reload flashrack) to change it",
                     name, st->cfg.path);
        return false;
    }
    struct workflow_recipe_view v;
    for (size_t i = 0; workflow_recipe(st->workflow, i, &v) == 0; i++)
        if (!v.api && v.entry && same_module(a, v.name, pkg_entry_pkg(v.entry), series, sub))
            return false;
    for (size_t i = 0; i < pkg_catalog_recipe_count(c); i++) {
        const struct pkg_api_recipe *r = pkg_catalog_recipe(c, i);
        if (strcmp(r->cfg.name, name) != 0 && r->entry && !pkg_catalog_shadowed(c, r->cfg.name) &&
            same_module(a, r->cfg.name, pkg_entry_pkg(r->entry), series, sub))
            return false;
    }
    if (!pkg_catalog_recipe_find(c, name) &&
        st->cfg.recipe_count + pkg_catalog_recipe_count(c) >= CONFIG_MAX_RECIPES) {
        answer_error(a, MHD_HTTP_CONFLICT,
                     "the station holds at most %d recipes (%zu in the configuration file, %zu "
                     "from the API): delete one first",
                     CONFIG_MAX_RECIPES, st->cfg.recipe_count, pkg_catalog_recipe_count(c));
        return false;
    }
    return true;
}

/* ---- PUT ------------------------------------------------------------------------------------ */

struct put_ctx {
    struct station *st;
    struct http_deferred *d;
    struct pkg_api_recipe r;
    char series[DB_LABEL_SIZE], sub[DB_LABEL_SIZE];
};

static void on_put_loaded(void *user, int status, struct pkg_entry *entry, const char *err)
{
    struct put_ctx *x = user;
    struct station *st = x->st;
    struct answer a = {NULL, x->d};
    if (status < 0) {
        answer_error(&a, 422, "package %s of recipe %s does not load: %s", x->r.sha256,
                     x->r.cfg.name, err ? err : strerror(-status));
    } else if (st->stopping || pkg_catalog_stopped(st->packages)) {
        http_deferred_reply_error(x->d, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                                  "the station is stopping");
        pkg_entry_unref(entry);
    } else if (!put_allowed(st, &a, x->r.cfg.name, x->series, x->sub)) {
        pkg_entry_unref(entry); /* something changed while it loaded */
    } else {
        int created = 0;
        int r = pkg_catalog_recipe_set(st->packages, &x->r, entry, &created);
        if (r < 0) {
            pkg_entry_unref(entry);
            http_deferred_reply_error(x->d, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                                      "cannot save recipe %s: %s", x->r.cfg.name,
                                      r == -ENOMEM ? "out of memory" : db_last_error(st->db));
        } else {
            const struct pkg *p = pkg_entry_pkg(entry);
            log_notice("recipe %s (API) %s by %s: %s %s %s, version %s, sha256 %s", x->r.cfg.name,
                       created ? "added" : "replaced", x->r.created_by, p->name, p->ident.series,
                       p->ident.submodel, p->ident.version, x->r.sha256);
            http_deferred_audit(x->d, "recipe.set", x->r.cfg.name,
                                json_pack("{s:s, s:s, s:b}", "package", x->r.sha256, "options",
                                          x->r.cfg.options, "created", created));
            http_deferred_reply_json(
                x->d, created ? MHD_HTTP_CREATED : MHD_HTTP_OK,
                pkg_catalog_recipe_json(st->packages,
                                        pkg_catalog_recipe_find(st->packages, x->r.cfg.name)));
        }
    }
    free(x);
}

static void put_recipe(struct http_request *req)
{
    if (!have_catalogue(req))
        return;
    struct station *st = http_request_station(req);
    const char *name = http_request_param(req, "name");
    char err[256];
    if (pkg_catalog_check_recipe_name(name, err, sizeof(err)) < 0) {
        http_reply_error(req, MHD_HTTP_BAD_REQUEST, "bad_request", "%s", err);
        return;
    }
    http_request_audit(req, "recipe.set", name, NULL);
    json_t *body = http_request_body(req), *v;
    const char *key;
    json_object_foreach(body, key, v)
    {
        if (strcmp(key, "package") != 0 && strcmp(key, "options") != 0) {
            http_reply_error(req, MHD_HTTP_BAD_REQUEST, "bad_request",
                             "unknown field '%.64s' (a recipe has 'package' and 'options')", key);
            return;
        }
    }
    const char *sha = json_string_value(json_object_get(body, "package"));
    json_t *jo = json_object_get(body, "options");
    if (!pkg_catalog_is_sha256(sha)) {
        http_reply_error(req, MHD_HTTP_BAD_REQUEST, "bad_request",
                         "'package' must be the package's sha256 (64 lowercase hex digits)");
        return;
    }
    if (jo && !json_is_string(jo)) {
        http_reply_error(req, MHD_HTTP_BAD_REQUEST, "bad_request", "'options' must be a string");
        return;
    }
    const char *options = jo ? json_string_value(jo) : "";
    if (pkg_catalog_check_options(options, err, sizeof(err)) < 0) {
        http_reply_error(req, MHD_HTTP_BAD_REQUEST, "bad_request", "%s", err);
        return;
    }
    struct db_package p;
    if (db_package_get(st->db, sha, &p) < 0) {
        http_reply_error(req, MHD_HTTP_NOT_FOUND, "not_found",
                         "no package %s in the catalogue (upload it: POST /api/v1/packages)", sha);
        return;
    }
    struct put_ctx *x = calloc(1, sizeof(*x));
    if (!x) {
        db_package_clear(&p);
        http_reply_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "out of memory");
        return;
    }
    x->st = st;
    snprintf(x->r.cfg.name, sizeof(x->r.cfg.name), "%s", name);
    snprintf(x->r.cfg.package, sizeof(x->r.cfg.package), "%s", p.path);
    snprintf(x->r.cfg.options, sizeof(x->r.cfg.options), "%s", options);
    snprintf(x->r.sha256, sizeof(x->r.sha256), "%s", sha);
    x->r.created_unix_ms = station_now_unix_ms();
    const struct http_auth_who *who = http_request_who(req);
    snprintf(x->r.created_by, sizeof(x->r.created_by), "%s", who->name ? who->name : "");
    snprintf(x->series, sizeof(x->series), "%s", p.series);
    snprintf(x->sub, sizeof(x->sub), "%s", p.submodel);
    db_package_clear(&p);
    struct answer a = {req, NULL};
    if (!put_allowed(st, &a, name, x->series, x->sub)) {
        free(x);
        return;
    }
    if (!(x->d = http_request_defer(req))) {
        free(x);
        http_reply_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "out of memory");
        return;
    }
    int r =
        pkg_cache_load_in_place(workflow_cache(st->workflow), x->r.cfg.package, on_put_loaded, x);
    if (r < 0) {
        http_deferred_reply_error(x->d, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                                  "cannot load package %s: %s", sha, strerror(-r));
        free(x);
    }
}

static void delete_recipe(struct http_request *req)
{
    if (!have_catalogue(req))
        return;
    struct station *st = http_request_station(req);
    const char *name = http_request_param(req, "name");
    http_request_audit(req, "recipe.delete", name, NULL);
    if (pkg_catalog_shadowed(st->packages, name)) {
        http_reply_error(req, MHD_HTTP_CONFLICT, "conflict",
                         "recipe %s is a [recipe] of the configuration file %s: edit the file and "
                         "reload (systemctl reload flashrack) to remove it",
                         name, st->cfg.path);
        return;
    }
    if (!pkg_catalog_recipe_find(st->packages, name)) {
        http_reply_error(req, MHD_HTTP_NOT_FOUND, "not_found", "no recipe %s", name);
        return;
    }
    if (pkg_catalog_recipe_delete(st->packages, name) < 0) {
        http_reply_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                         "cannot delete recipe %s: %s", name, db_last_error(st->db));
        return;
    }
    log_notice("recipe %s (API) deleted by %s", name, http_request_who(req)->name);
    http_reply_no_content(req);
}

const struct http_route api_recipes_routes[] = {
    {.methods = HTTP_GET, .pattern = "/api/v1/recipes", .handler = get_recipes},
    {.methods = HTTP_PUT,
     .pattern = "/api/v1/recipes/{name}",
     .handler = put_recipe,
     .role = HTTP_ROLE_SUPERVISOR,
     .max_body = API_RECIPE_BODY_MAX},
    {.methods = HTTP_DELETE,
     .pattern = "/api/v1/recipes/{name}",
     .handler = delete_recipe,
     .role = HTTP_ROLE_SUPERVISOR},
    {0},
};
