/* The SQL of the package catalogue's API side (daemon/api_packages.c, pkg_catalog.c): recipes
 * activated over the API (schema v5) and the package list with what inspect found. The
 * packages table itself and db_package_upsert/get/delete are db.h's. A handful of calls per
 * shift, so statements are prepared per call. */
#ifndef FLASHRACK_DB_PACKAGES_H
#define FLASHRACK_DB_PACKAGES_H

#include <stdint.h>

#include "config.h"
#include "db.h"

struct db_recipe {
    char name[CONFIG_LABEL_MAX];
    char package_sha256[DB_SHA256_SIZE];
    char options[256];
    uint64_t created_unix_ms; /* when this version of the recipe was set */
    char created_by[DB_LABEL_SIZE];
};

/* Inserts or replaces the recipe of this name; *ret_created (may be NULL) says which. An
 * unknown package is -ENOENT (the foreign key). */
int db_recipe_put(struct db *db, const struct db_recipe *r, int *ret_created);
/* -ENOENT if there is none. */
int db_recipe_delete(struct db *db, const char *name);
/* Every recipe in the order they were set. Returns how many, or -errno. */
int db_recipes_list(struct db *db, int (*cb)(const struct db_recipe *r, void *ud), void *ud);
/* Recipes naming the package. */
int db_package_recipe_count(struct db *db, const char *sha256);

/* Every package, newest first (added_unix_ms, then sha256), inspect_json included (borrowed:
 * valid during the callback). A callback's non-zero return stops: < 0 is returned. */
int db_catalog_list(struct db *db, int (*cb)(const struct db_package *p, void *ud), void *ud);

#endif
