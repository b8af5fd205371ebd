/* Helpers shared by the test_db_*.c programs: a private temporary directory per test and
 * raw SQLite access, which tests use to look behind the API (db.c stays the only daemon file
 * with SQL). Header-only so each test stays one program. */
#ifndef FLASHRACK_DB_TESTUTIL_H
#define FLASHRACK_DB_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"

struct tdir {
    char dir[256];
    char path[300]; /* dir/station.db */
};

static inline struct tdir *tdir_new(void)
{
    struct tdir *t = calloc(1, sizeof(*t));
    const char *base = getenv("TMPDIR");

    assert_non_null(t);
    snprintf(t->dir, sizeof(t->dir), "%s/flashrack-db-XXXXXX", base && *base ? base : "/tmp");
    assert_non_null(mkdtemp(t->dir));
    snprintf(t->path, sizeof(t->path), "%s/station.db", t->dir);
    return t;
}

static inline int tdir_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static inline void tdir_free(struct tdir *t)
{
    if (!t)
        return;
    nftw(t->dir, tdir_rm_one, 8, FTW_DEPTH | FTW_PHYS);
    free(t);
}

/* cmocka group-less fixtures: state is a struct tdir. */
static inline int tdir_setup(void **state)
{
    *state = tdir_new();
    return 0;
}

static inline int tdir_teardown(void **state)
{
    tdir_free(*state);
    return 0;
}

static inline struct db *open_ok(const char *path)
{
    char err[512] = "";
    struct db *db = NULL;
    int r = db_open(path, &db, err, sizeof(err));

    if (r != 0)
        fail_msg("db_open(%s) = %d: %s", path, r, err);
    return db;
}

static inline sqlite3 *raw_open(const char *path)
{
    sqlite3 *c = NULL;

    assert_int_equal(sqlite3_open_v2(path, &c, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(c, 5000);
    return c;
}

/* Runs fixed SQL on a raw connection; returns the sqlite code, message into err. */
static inline int raw_exec(sqlite3 *c, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    int rc = sqlite3_exec(c, sql, NULL, NULL, &msg);

    if (err && errlen)
        snprintf(err, errlen, "%s", msg ? msg : "");
    sqlite3_free(msg);
    return rc;
}

static inline void raw_exec_ok(sqlite3 *c, const char *sql)
{
    char err[512];

    if (raw_exec(c, sql, err, sizeof(err)) != SQLITE_OK)
        fail_msg("%s: %s", sql, err);
}

/* First column of the first row as an integer. */
static inline long long raw_int(sqlite3 *c, const char *sql)
{
    sqlite3_stmt *st = NULL;
    long long v;

    if (sqlite3_prepare_v2(c, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(c));
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* First column of the first row as text into buf. */
static inline void raw_text(sqlite3 *c, const char *sql, char *buf, size_t size)
{
    sqlite3_stmt *st = NULL;

    if (sqlite3_prepare_v2(c, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(c));
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    snprintf(buf, size, "%s",
             sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0) : "(null)");
    sqlite3_finalize(st);
}

#endif
