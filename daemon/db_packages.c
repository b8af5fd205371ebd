/* Recipes of the API and the catalogue list (see db_packages.h). */
#include "db_packages.h"

#include <errno.h>
#include <string.h>

#include "db_priv.h"

static int prepare(struct db *db, const char *sql, sqlite3_stmt **ret, const char *what)
{
    int rc = sqlite3_prepare_v2(db->conn, sql, -1, ret, NULL);
    if (rc != SQLITE_OK) {
        *ret = NULL;
        return db_fail(db, rc, what);
    }
    return 0;
}

static int check_name(struct db *db, const char *name)
{
    if (!name || !name[0] || strlen(name) >= CONFIG_LABEL_MAX)
        return db_failf(db, -EINVAL, "a recipe name has 1 to %d bytes", CONFIG_LABEL_MAX - 1);
    return 0;
}

static int exists(struct db *db, const char *name, int *ret)
{
    sqlite3_stmt *st;
    int r = prepare(db, "SELECT 1 FROM recipes WHERE name = ?1", &st, "find a recipe");
    if (r < 0)
        return r;
    r = db_bind_field(db, st, 1, name, CONFIG_LABEL_MAX, "recipe.name");
    if (r == 0) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW || rc == SQLITE_DONE)
            *ret = rc == SQLITE_ROW;
        else
            r = db_fail(db, rc, "find a recipe");
    }
    sqlite3_finalize(st);
    return r;
}

int db_recipe_put(struct db *db, const struct db_recipe *rc, int *ret_created)
{
    int had = 0;
    int r = check_name(db, rc->name);
    if (r == 0)
        r = exists(db, rc->name, &had);
    if (r < 0)
        return r;
    sqlite3_stmt *st;
    r = prepare(db,
                "INSERT INTO recipes (name, package_sha256, options, created_unix_ms, created_by)"
                " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (name) DO UPDATE SET"
                " package_sha256 = excluded.package_sha256, options = excluded.options,"
                " created_unix_ms = excluded.created_unix_ms, created_by = excluded.created_by",
                &st, "save a recipe");
    if (r < 0)
        return r;
    r = db_bind_field(db, st, 1, rc->name, sizeof(rc->name), "recipe.name");
    if (r == 0)
        r = db_bind_field(db, st, 2, rc->package_sha256, sizeof(rc->package_sha256),
                          "recipe.package_sha256");
    if (r == 0)
        r = db_bind_field(db, st, 3, rc->options, sizeof(rc->options), "recipe.options");
    if (r == 0)
        r = db_bind_u64(db, st, 4, rc->created_unix_ms, "recipe.created_unix_ms");
    if (r == 0)
        r = db_bind_field(db, st, 5, rc->created_by, sizeof(rc->created_by), "recipe.created_by");
    if (r == 0) {
        int step = sqlite3_step(st);
        if (step == SQLITE_CONSTRAINT_FOREIGNKEY ||
            (step == SQLITE_CONSTRAINT &&
             sqlite3_extended_errcode(db->conn) == SQLITE_CONSTRAINT_FOREIGNKEY))
            r = db_failf(db, -ENOENT, "recipe %s: no package %s", rc->name, rc->package_sha256);
        else if (step != SQLITE_DONE)
            r = db_fail(db, step, "save a recipe");
    }
    sqlite3_finalize(st);
    if (r == 0 && ret_created)
        *ret_created = !had;
    return r;
}

int db_recipe_delete(struct db *db, const char *name)
{
    sqlite3_stmt *st;
    int r = check_name(db, name);
    if (r == 0)
        r = prepare(db, "DELETE FROM recipes WHERE name = ?1", &st, "delete a recipe");
    if (r < 0)
        return r;
    r = db_bind_field(db, st, 1, name, CONFIG_LABEL_MAX, "recipe.name");
    if (r == 0)
        r = db_step_done(db, st, "delete a recipe");
    if (r == 0 && sqlite3_changes(db->conn) == 0)
        r = db_failf(db, -ENOENT, "no recipe %s", name);
    sqlite3_finalize(st);
    return r;
}

struct recipe_rows {
    int (*cb)(const struct db_recipe *r, void *ud);
    void *ud;
};

static int recipe_row(sqlite3_stmt *st, void *ctx)
{
    struct recipe_rows *rr = ctx;
    struct db_recipe r;
    memset(&r, 0, sizeof(r));
    db_column_field(st, 0, r.name, sizeof(r.name));
    db_column_field(st, 1, r.package_sha256, sizeof(r.package_sha256));
    db_column_field(st, 2, r.options, sizeof(r.options));
    r.created_unix_ms = db_column_u64(st, 3);
    db_column_field(st, 4, r.created_by, sizeof(r.created_by));
    return rr->cb(&r, rr->ud);
}

int db_recipes_list(struct db *db, int (*cb)(const struct db_recipe *r, void *ud), void *ud)
{
    sqlite3_stmt *st;
    int r = prepare(db,
                    "SELECT name, package_sha256, options, created_unix_ms, created_by"
                    " FROM recipes ORDER BY created_unix_ms, name",
                    &st, "list recipes");
    if (r < 0)
        return r;
    struct recipe_rows rr = {cb, ud};
    r = db_rows(db, st, recipe_row, &rr, "list recipes");
    sqlite3_finalize(st);
    return r;
}

int db_package_recipe_count(struct db *db, const char *sha256)
{
    sqlite3_stmt *st;
    int r = prepare(db, "SELECT count(*) FROM recipes WHERE package_sha256 = ?1", &st,
                    "count recipes of a package");
    if (r < 0)
        return r;
    r = db_bind_field(db, st, 1, sha256, DB_SHA256_SIZE, "package.sha256");
    if (r == 0) {
        int rc = sqlite3_step(st);
        r = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : db_fail(db, rc, "count recipes");
    }
    sqlite3_finalize(st);
    return r;
}

struct package_rows {
    int (*cb)(const struct db_package *p, void *ud);
    void *ud;
};

static int package_row(sqlite3_stmt *st, void *ctx)
{
    struct package_rows *pr = ctx;
    struct db_package p;
    memset(&p, 0, sizeof(p));
    db_column_field(st, 0, p.sha256, sizeof(p.sha256));
    db_column_field(st, 1, p.name, sizeof(p.name));
    db_column_field(st, 2, p.platform, sizeof(p.platform));
    db_column_field(st, 3, p.series, sizeof(p.series));
    db_column_field(st, 4, p.submodel, sizeof(p.submodel));
    db_column_field(st, 5, p.version, sizeof(p.version));
    p.size = db_column_u64(st, 6);
    db_column_field(st, 7, p.path, sizeof(p.path));
    p.added_unix_ms = db_column_u64(st, 8);
    p.inspect_json = (char *)sqlite3_column_text(st, 9);
    return pr->cb(&p, pr->ud);
}

int db_catalog_list(struct db *db, int (*cb)(const struct db_package *p, void *ud), void *ud)
{
    sqlite3_stmt *st;
    int r = prepare(db,
                    "SELECT sha256, name, platform, series, submodel, version, size, path,"
                    " added_unix_ms, inspect_json FROM packages"
                    " ORDER BY added_unix_ms DESC, sha256",
                    &st, "list packages");
    if (r < 0)
        return r;
    struct package_rows pr = {cb, ud};
    r = db_rows(db, st, package_row, &pr, "list packages");
    sqlite3_finalize(st);
    return r;
}
