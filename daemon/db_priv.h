/* Internals shared by db.c, db_migrate.c, db_attempts.c and db_records.c. Not for other
 * modules: everything outside the db_*.c files goes through db.h. Tests include it to run
 * the migration machinery on fake step lists. */
#ifndef FLASHRACK_DB_PRIV_H
#define FLASHRACK_DB_PRIV_H

#include <sqlite3.h>

#include "db.h"

/* One cached prepared statement per query of the fixed kind. */
enum db_stmt_id {
    DB_STMT_BEGIN,
    DB_STMT_COMMIT,
    DB_STMT_ROLLBACK,
    DB_STMT_SAVEPOINT,
    DB_STMT_RELEASE,
    DB_STMT_ROLLBACK_TO,
    DB_STMT_USER_VERSION,
    DB_STMT_SLOT_EVENT_INSERT,
    DB_STMT_SLOT_EVENTS_LIST,
    DB_STMT_ATTEMPT_BEGIN,
    DB_STMT_ATTEMPT_FINISH,
    DB_STMT_ATTEMPT_GET,
    DB_STMT_ATTEMPT_GET_UUID,
    DB_STMT_ATTEMPT_RESULT,
    DB_STMT_ATTEMPT_SET_IMEI,
    DB_STMT_ATTEMPT_SET_MES,
    DB_STMT_ATTEMPT_ABORT_ONE,
    DB_STMT_PACKAGE_UPSERT,
    DB_STMT_PACKAGE_GET,
    DB_STMT_PACKAGE_DELETE,
    DB_STMT_PACKAGES_LIST,
    DB_STMT_AUDIT_INSERT,
    DB_STMT_AUDIT_LIST,
    DB_STMT__COUNT
};

/* db_attempts_list composes its query from fixed fragments: one bit per filter member in
 * use (6) and 2 bits of order, so 256 shapes, each prepared on first use and cached. */
#define DB_ATTEMPT_LIST_SHAPES 256

struct db {
    sqlite3 *conn;
    bool readonly;
    sqlite3_stmt *stmt[DB_STMT__COUNT];
    sqlite3_stmt *attempt_list[DB_ATTEMPT_LIST_SHAPES];
    char last_error[512];
};

/* db_open / db_open_readonly, migrating a writable file only up to version `target`
 * (db_migrate_to_version; tests of the migration machinery). */
int db_open_at(const char *path, bool readonly, int target, struct db **ret, char *err,
               size_t errlen);

/* The cached statement id, prepared from sql on first use (sql must always be the same text
 * for one id). -EDEADLK if it is running already (a list callback re-entered it). */
int db_stmt(struct db *db, enum db_stmt_id id, const char *sql, sqlite3_stmt **ret);
/* Same for a caller-owned cache slot. */
int db_stmt_cached(struct db *db, sqlite3_stmt **slot, const char *sql, sqlite3_stmt **ret);
/* Resets a statement after use and drops its bindings (they point at caller memory). */
void db_stmt_done(sqlite3_stmt *st);

/* Records "what: <sqlite message>" as the last error; returns the mapped errno. */
int db_fail(struct db *db, int rc, const char *what);
/* Records a message of our own; returns err (negative). */
int db_failf(struct db *db, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Steps a statement that returns no rows to completion; resets it. */
int db_step_done(struct db *db, sqlite3_stmt *st, const char *what);

/* Steps a query and calls row(st, ctx) for each result row until it returns non-zero
 * (< 0 is returned as the error, > 0 stops), then resets st. Returns the number of rows
 * handed to row, or -errno. */
int db_rows(struct db *db, sqlite3_stmt *st, int (*row)(sqlite3_stmt *st, void *ctx), void *ctx,
            const char *what);
/* -EINVAL unless limit > 0 and cb is set (shared check of the list functions). */
int db_check_list_args(struct db *db, int limit, bool has_cb);

/* Binds a string after checking it (NUL within size bytes, UTF-8): a fixed-size field, or
 * any C string with size = its limit + 1. The field name goes into the error message.
 * Bound without copying: reset before s goes away. */
int db_bind_field(struct db *db, sqlite3_stmt *st, int idx, const char *s, size_t size,
                  const char *field);
/* Binds a NUL-terminated text of at most max bytes (UTF-8 checked), NULL or "" as NULL. */
int db_bind_text_or_null(struct db *db, sqlite3_stmt *st, int idx, const char *s, size_t max,
                         const char *field);
/* Binds an unsigned value; -ERANGE above INT64_MAX. */
int db_bind_u64(struct db *db, sqlite3_stmt *st, int idx, uint64_t v, const char *field);
/* Validates JSON text (any value) for a field; -EINVAL naming the field and the error. */
int db_check_json(struct db *db, const char *text, const char *field);

/* Copies a text column into dst, truncating at a UTF-8 boundary; NULL reads as "". */
void db_column_field(sqlite3_stmt *st, int col, char *dst, size_t size);
/* An integer column as unsigned (negative or NULL reads as 0). */
uint64_t db_column_u64(sqlite3_stmt *st, int col);

/* SAVEPOINT db_sp / RELEASE db_sp / ROLLBACK TO db_sp + RELEASE: an all-or-nothing group
 * that works inside or outside a caller's db_begin. Not nestable with itself. */
int db_savepoint(struct db *db);
int db_release(struct db *db);
void db_rollback_to(struct db *db);

/* Length of the valid UTF-8 sequence at s (1..4), 0 if s does not start one. */
size_t db_utf8_len(const unsigned char *s);

/* ---- migrations (db_migrate.c) ---- */

/* Step n takes a file from version n-1 to n. sql (fixed text, may hold several statements)
 * must end by setting PRAGMA user_version to n; fn (optional) runs after sql for data
 * changes that need C. */
struct db_migration {
    int version;
    const char *sql;
    int (*fn)(struct db *db);
};

/* Validates the file (no foreign schema at version 0) and applies steps up to version `to`
 * in one IMMEDIATE transaction, re-reading the version inside it (another process may have
 * migrated meanwhile). Foreign keys are off during the steps and checked before commit. On
 * failure nothing changes and db_last_error() names the step. */
int db_migrate_steps(struct db *db, const struct db_migration *steps, int nsteps, int to);
/* The same with the real steps of this binary. */
int db_migrate(struct db *db, int to);
/* Reads PRAGMA user_version and application_id. -EBADMSG for a file that is not a SQLite
 * database or belongs to another application (application_id not ours at version > 0, or
 * tables in it at version 0). Reads only: runs before anything writes to the file. */
int db_read_header(struct db *db, int *ret_version, int64_t *ret_app_id);

#endif
