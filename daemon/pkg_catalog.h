/* The package catalogue and the recipes of the API (docs/http.md "Packages", "Recipes").
 *
 * Uploaded packages live in <data_dir>/packages/<sha256>/<file name> (durable, read-only;
 * the cache directory holds only the copies of config packages) and in the packages table,
 * with what inspect found. Recipes set over the API are rows of the recipes table (schema v5);
 * at start-up their packages are loaded where they are (pkg_cache_load_in_place) while the
 * workflow holds new attempts back, and the workflow's table becomes the config file's
 * recipes followed by these (workflow_recipes_set_extra, kept across every reload). A recipe
 * set later is loaded first and swapped in only once its package is ready, so the line never
 * sees a recipe without its package. Loop thread only. */
#ifndef FLASHRACK_PKG_CATALOG_H
#define FLASHRACK_PKG_CATALOG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "package/pkg.h"
#include "station.h"

struct pkg_catalog;
struct pkg_entry;
struct db_package;

/* One recipe of the API as the catalogue holds it. */
struct pkg_api_recipe {
    struct config_recipe cfg; /* name, package path in the catalogue, options */
    char sha256[65];
    uint64_t created_unix_ms;
    char created_by[64];
    struct pkg_entry *entry; /* NULL while loading or after a failure */
    int loading;
    char error[512];
};

/* Creates <data_dir>/packages, removes temp folders of uploads an earlier run left, and
 * starts loading the API's recipes (needs st->db and st->workflow; without a database the
 * catalogue is empty and the API answers 503). */
int pkg_catalog_new(struct station *st, struct pkg_catalog **ret);
/* No new load starts; loads in flight finish into nothing. */
void pkg_catalog_stop(struct pkg_catalog *c);
/* After the loop ran dry. */
void pkg_catalog_free(struct pkg_catalog *c);

const char *pkg_catalog_dir(const struct pkg_catalog *c);
int pkg_catalog_stopped(const struct pkg_catalog *c);
/* Uploads in progress (the API counts them against [packages] max_uploads). */
unsigned *pkg_catalog_uploads(struct pkg_catalog *c);

/* ---- pure helpers (unit-tested) ---- */
/* 64 lowercase hex digits. */
int pkg_catalog_is_sha256(const char *s);
/* A recipe name as a config label: 1..31 bytes of letters, digits, '-', '_', '.', starting
 * with a letter or digit. 0 or -EINVAL with err naming the problem. */
int pkg_catalog_check_recipe_name(const char *name, char *err, size_t errlen);
/* Options as the config file takes them: at most 255 bytes of printable ASCII. */
int pkg_catalog_check_options(const char *options, char *err, size_t errlen);
/* "2026-11-21T10:43:39.123Z" */
void pkg_catalog_iso8601(uint64_t unix_ms, char out[32]);

/* What inspect found, as the package object's members {"platform","layout","firmware",
 * "series","sub_model","version","flash_file","flash_size","warnings"}. */
json_t *pkg_catalog_inspect_json(const struct pkg *p);

/* ---- the package object ---- */
/* Of a catalogue row (source "upload"). */
json_t *pkg_catalog_package_json(struct pkg_catalog *c, const struct db_package *p);
/* Of a loaded config package not in the catalogue (source "config"); name: its file name. */
json_t *pkg_catalog_entry_json(struct pkg_catalog *c, struct pkg_entry *e, const char *name);
/* The object of sha256 from the catalogue or the config's recipes; NULL: unknown. */
json_t *pkg_catalog_find_json(struct pkg_catalog *c, const char *sha256);
/* Names of the recipes (config and API) whose package this is, as a JSON array. */
json_t *pkg_catalog_recipes_using(struct pkg_catalog *c, const char *sha256);

/* ---- recipes of the API ---- */
size_t pkg_catalog_recipe_count(const struct pkg_catalog *c);
struct pkg_api_recipe *pkg_catalog_recipe(struct pkg_catalog *c, size_t i);
struct pkg_api_recipe *pkg_catalog_recipe_find(struct pkg_catalog *c, const char *name);
/* Whether a config recipe of this name wins over the API's. */
int pkg_catalog_shadowed(const struct pkg_catalog *c, const char *name);
/* Sets (adds or replaces) the recipe, whose package entry is loaded: takes the reference,
 * saves the row first (-errno and nothing changed when it cannot), then swaps the table. */
int pkg_catalog_recipe_set(struct pkg_catalog *c, const struct pkg_api_recipe *r,
                           struct pkg_entry *entry, int *ret_created);
/* Deletes the row and takes the recipe out of the table; -ENOENT. */
int pkg_catalog_recipe_delete(struct pkg_catalog *c, const char *name);
/* The recipe object {"name","source","state","error"?,"options","package","created_at",...}. */
json_t *pkg_catalog_recipe_json(struct pkg_catalog *c, const struct pkg_api_recipe *r);

#endif
