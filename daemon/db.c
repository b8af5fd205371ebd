/* The station database core: opening and configuring the connection, the one mapping of
 * SQLite codes to errno, the prepared-statement cache, binding/reading helpers and
 * transactions. Queries live in db_attempts.c and db_records.c, the schema in
 * db_migrate.c. */
#include "db_priv.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The one place SQLite codes become errno values (architecture.md §4). sys_errno refines
 * SQLITE_CANTOPEN: a missing directory is not a permission problem. */
static int db_map_rc(int rc, int sys_errno)
{
    switch (rc) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return 0;
    /* Extended constraint codes first: only a uniqueness clash means "exists". */
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_ROWID:
        return -EEXIST;
    case SQLITE_CONSTRAINT_TRIGGER:
        return -EPERM; /* our append-only triggers */
    case SQLITE_CONSTRAINT_CHECK:
    case SQLITE_CONSTRAINT_NOTNULL:
    case SQLITE_CONSTRAINT_FOREIGNKEY:
    case SQLITE_CONSTRAINT_DATATYPE:
        return -EINVAL;
    default:
        break;
    }
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return -EBUSY;
    case SQLITE_FULL:
        return -ENOSPC;
    case SQLITE_CONSTRAINT:
        return -EEXIST;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
        return -EBADMSG;
    case SQLITE_CANTOPEN:
        return sys_errno == ENOENT || sys_errno == ENOTDIR ? -ENOENT : -EACCES;
    case SQLITE_READONLY:
        return -EROFS;
    case SQLITE_NOMEM:
        return -ENOMEM;
    default:
        return -EIO;
    }
}

int db_errno_from_sqlite(int sqlite_rc)
{
    return db_map_rc(sqlite_rc, 0);
}

int db_fail(struct db *db, int rc, const char *what)
{
    int prim = rc & 0xff;
    /* The OS error is only about this failure for the codes that come from a system call. */
    int sys = prim == SQLITE_CANTOPEN || prim == SQLITE_IOERR || prim == SQLITE_FULL ||
                      prim == SQLITE_READONLY
                  ? sqlite3_system_errno(db->conn)
                  : 0;
    int err = db_map_rc(rc, sys);

    snprintf(db->last_error, sizeof(db->last_error), "%s: %s%s%s%s", what,
             rc == sqlite3_extended_errcode(db->conn) ? sqlite3_errmsg(db->conn)
                                                      : sqlite3_errstr(rc),
             sys ? " (" : "", sys ? strerror(sys) : "", sys ? ")" : "");
    return err ? err : -EIO;
}

int db_failf(struct db *db, int err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(db->last_error, sizeof(db->last_error), fmt, ap);
    va_end(ap);
    return err;
}

const char *db_last_error(const struct db *db)
{
    return db ? db->last_error : "no database";
}

/* ---- statement cache ---- */

int db_stmt_cached(struct db *db, sqlite3_stmt **slot, const char *sql, sqlite3_stmt **ret)
{
    if (!*slot) {
        /* PERSISTENT: these live as long as the handle, SQLite keeps them off its
         * lookaside allocator. */
        int rc = sqlite3_prepare_v3(db->conn, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL);
        if (rc != SQLITE_OK) {
            *slot = NULL;
            return db_fail(db, rc, "prepare");
        }
    } else if (sqlite3_stmt_busy(*slot)) {
        return db_failf(db, -EDEADLK, "query re-entered from its own list callback");
    }
    *ret = *slot;
    return 0;
}

int db_stmt(struct db *db, enum db_stmt_id id, const char *sql, sqlite3_stmt **ret)
{
    return db_stmt_cached(db, &db->stmt[id], sql, ret);
}

void db_stmt_done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

int db_step_done(struct db *db, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    int r = rc == SQLITE_DONE ? 0 : db_fail(db, rc, what);

    db_stmt_done(st);
    return r;
}

int db_rows(struct db *db, sqlite3_stmt *st, int (*row)(sqlite3_stmt *st, void *ctx), void *ctx,
            const char *what)
{
    int n = 0, r = 0;

    for (;;) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_ROW) {
            r = db_fail(db, rc, what);
            break;
        }
        n++;
        r = row(st, ctx);
        if (r != 0)
            break;
    }
    /* Always reset: a statement left mid-way pins a WAL snapshot and blocks checkpoints. */
    db_stmt_done(st);
    return r < 0 ? r : n;
}

int db_check_list_args(struct db *db, int limit, bool has_cb)
{
    if (limit <= 0 || !has_cb)
        return db_failf(db, -EINVAL, "list needs a callback and a limit > 0 (got %d)", limit);
    return 0;
}

/* ---- strings ---- */

size_t db_utf8_len(const unsigned char *s)
{
    unsigned char c = s[0];

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        return (s[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        /* No overlongs (E0 80..9F) and no UTF-16 surrogates (ED A0..BF). */
        if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
            return 0;
        if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f))
            return 0;
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
            return 0;
        if ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] > 0x8f))
            return 0;
        return 4;
    }
    return 0;
}

static bool utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p) {
        size_t n = db_utf8_len(p);
        if (!n)
            return false;
        p += n;
    }
    return true;
}

int db_field_set(char *dst, size_t size, const char *src)
{
    const unsigned char *p = (const unsigned char *)(src ? src : "");
    size_t o = 0;

    if (!size)
        return -EINVAL;
    while (*p) {
        size_t n = db_utf8_len(p);
        if (!n || *p < 0x20 || *p == 0x7f) {
            n = 1;
            if (o + 1 >= size)
                goto cut;
            dst[o++] = '?';
        } else {
            if (o + n >= size)
                goto cut;
            memcpy(dst + o, p, n);
            o += n;
        }
        p += n;
    }
    dst[o] = '\0';
    return 0;
cut:
    dst[o] = '\0';
    return -E2BIG;
}

int db_bind_field(struct db *db, sqlite3_stmt *st, int idx, const char *s, size_t size,
                  const char *field)
{
    size_t len = strnlen(s, size);
    int rc;

    if (len == size)
        return db_failf(db, -E2BIG, "%s is not terminated within its %zu bytes", field, size);
    if (!utf8_valid(s))
        return db_failf(db, -EILSEQ, "%s is not valid UTF-8", field);
    rc = sqlite3_bind_text(st, idx, s, (int)len, SQLITE_STATIC);
    return rc == SQLITE_OK ? 0 : db_fail(db, rc, field);
}

int db_bind_text_or_null(struct db *db, sqlite3_stmt *st, int idx, const char *s, size_t max,
                         const char *field)
{
    size_t len;
    int rc;

    if (!s || !*s) {
        rc = sqlite3_bind_null(st, idx);
        return rc == SQLITE_OK ? 0 : db_fail(db, rc, field);
    }
    len = strnlen(s, max + 1);
    if (len > max)
        return db_failf(db, -E2BIG, "%s is longer than %zu bytes", field, max);
    if (!utf8_valid(s))
        return db_failf(db, -EILSEQ, "%s is not valid UTF-8", field);
    rc = sqlite3_bind_text(st, idx, s, (int)len, SQLITE_STATIC);
    return rc == SQLITE_OK ? 0 : db_fail(db, rc, field);
}

int db_bind_u64(struct db *db, sqlite3_stmt *st, int idx, uint64_t v, const char *field)
{
    int rc;

    if (v > INT64_MAX)
        return db_failf(db, -ERANGE, "%s %" PRIu64 " is out of range", field, v);
    rc = sqlite3_bind_int64(st, idx, (sqlite3_int64)v);
    return rc == SQLITE_OK ? 0 : db_fail(db, rc, field);
}

int db_check_json(struct db *db, const char *text, const char *field)
{
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);

    if (!j)
        return db_failf(db, -EINVAL, "%s is not valid JSON: %s (line %d, column %d)", field,
                        jerr.text, jerr.line, jerr.column);
    json_decref(j);
    return 0;
}

void db_column_field(sqlite3_stmt *st, int col, char *dst, size_t size)
{
    const unsigned char *text = sqlite3_column_text(st, col);
    size_t n = (size_t)sqlite3_column_bytes(st, col);

    if (!text)
        n = 0;
    if (n >= size) {
        /* Too long for the array (written by another tool): cut at a character start. */
        n = size - 1;
        while (n > 0 && (text[n] & 0xc0) == 0x80)
            n--;
    }
    if (n)
        memcpy(dst, text, n);
    dst[n] = '\0';
}

uint64_t db_column_u64(sqlite3_stmt *st, int col)
{
    sqlite3_int64 v = sqlite3_column_int64(st, col);

    return v > 0 ? (uint64_t)v : 0;
}

/* ---- transactions ---- */

static int db_exec_cached(struct db *db, enum db_stmt_id id, const char *sql)
{
    sqlite3_stmt *st;
    int r = db_stmt(db, id, sql, &st);

    return r < 0 ? r : db_step_done(db, st, sql);
}

bool db_in_transaction(struct db *db)
{
    return sqlite3_get_autocommit(db->conn) == 0;
}

int db_begin(struct db *db)
{
    if (db_in_transaction(db))
        return db_failf(db, -EINPROGRESS, "a transaction is already open");
    return db_exec_cached(db, DB_STMT_BEGIN, "BEGIN IMMEDIATE");
}

int db_commit(struct db *db)
{
    int r;

    if (!db_in_transaction(db))
        return db_failf(db, -EINVAL, "commit without a transaction");
    r = db_exec_cached(db, DB_STMT_COMMIT, "COMMIT");
    /* A failed COMMIT may leave the transaction open (BUSY); never leave it dangling. */
    if (r < 0 && db_in_transaction(db)) {
        char keep[sizeof(db->last_error)];
        memcpy(keep, db->last_error, sizeof(keep));
        db_rollback(db);
        memcpy(db->last_error, keep, sizeof(keep));
    }
    return r;
}

int db_rollback(struct db *db)
{
    if (!db_in_transaction(db))
        return db_failf(db, -EINVAL, "rollback without a transaction");
    return db_exec_cached(db, DB_STMT_ROLLBACK, "ROLLBACK");
}

int db_savepoint(struct db *db)
{
    return db_exec_cached(db, DB_STMT_SAVEPOINT, "SAVEPOINT db_sp");
}

int db_release(struct db *db)
{
    return db_exec_cached(db, DB_STMT_RELEASE, "RELEASE db_sp");
}

void db_rollback_to(struct db *db)
{
    char keep[sizeof(db->last_error)];

    /* Keep the message of the failure that made us roll back. */
    memcpy(keep, db->last_error, sizeof(keep));
    if (db_exec_cached(db, DB_STMT_ROLLBACK_TO, "ROLLBACK TO db_sp") == 0)
        db_release(db);
    memcpy(db->last_error, keep, sizeof(keep));
}

/* ---- open / close ---- */

static int db_exec_pragma(struct db *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db->conn, sql, NULL, NULL, &msg);

    if (rc != SQLITE_OK) {
        int err = db_map_rc(rc, sqlite3_system_errno(db->conn));
        db_failf(db, err ? err : -EIO, "%s: %s", sql, msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return err ? err : -EIO;
    }
    return 0;
}

/* journal_mode answers with the mode it ended up in; anything but WAL would make sqlite3 CLI
 * readers block the daemon, so it is an error. */
static int db_set_wal(struct db *db)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db->conn, "PRAGMA journal_mode=WAL", -1, &st, NULL);
    int r = 0;

    if (rc != SQLITE_OK)
        return db_fail(db, rc, "journal_mode");
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        r = db_fail(db, rc, "journal_mode=WAL");
    } else {
        const char *mode = (const char *)sqlite3_column_text(st, 0);
        if (!mode || strcmp(mode, "wal") != 0)
            r = db_failf(db, -ENOTSUP, "cannot use WAL journal (journal_mode is %s)",
                         mode ? mode : "?");
    }
    sqlite3_finalize(st);
    return r;
}

int db_open_at(const char *path, bool readonly, int target, struct db **ret, char *err,
               size_t errlen)
{
    int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    struct db *db;
    int64_t app_id = 0;
    int version = 0;
    int rc, r;

    if (!path || !*path || !ret || target < 0 || target > DB_SCHEMA_VERSION) {
        if (err && errlen)
            snprintf(err, errlen, "invalid arguments to open a database");
        return -EINVAL;
    }
    db = calloc(1, sizeof(*db));
    if (!db)
        return -ENOMEM;
    db->readonly = readonly;

    rc = sqlite3_open_v2(path, &db->conn, flags, NULL);
    if (rc != SQLITE_OK) {
        r = db->conn ? db_fail(db, rc, "open") : -ENOMEM;
        goto fail;
    }
    sqlite3_extended_result_codes(db->conn, 1);
    sqlite3_busy_timeout(db->conn, DB_BUSY_TIMEOUT_MS);
    /* SQLite falls back to read-only when the file is write-protected; the daemon would
     * then fail on its first record instead of at startup. */
    if (!readonly && sqlite3_db_readonly(db->conn, "main") == 1) {
        r = db_failf(db, -EROFS, "file is read-only (no write permission)");
        goto fail;
    }
    r = db_read_header(db, &version, &app_id);
    if (r < 0)
        goto fail;
    if (version > DB_SCHEMA_VERSION) {
        r = db_failf(db, -ENOTSUP,
                     "schema version %d is newer than version %d that this flashrack "
                     "knows: written by a newer flashrack, downgrade is not supported",
                     version, DB_SCHEMA_VERSION);
        goto fail;
    }
    if (readonly && version != target) {
        r = db_failf(db, -ENOTSUP,
                     "schema version %d, this flashrack needs %d: start flashrackd once to "
                     "migrate it",
                     version, target);
        goto fail;
    }
    if (!readonly) {
        r = db_set_wal(db);
        if (r < 0)
            goto fail;
        r = db_exec_pragma(db, "PRAGMA synchronous=NORMAL; PRAGMA journal_size_limit=67108864");
        if (r < 0)
            goto fail;
    }
    r = db_exec_pragma(db, "PRAGMA foreign_keys=ON");
    if (r < 0)
        goto fail;
    if (!readonly && version < target) {
        r = db_migrate(db, target);
        if (r < 0)
            goto fail;
    }
    db->last_error[0] = '\0';
    *ret = db;
    return 0;

fail:
    if (err && errlen)
        snprintf(err, errlen, "database %s: %s", path, db->last_error);
    db_close(db);
    return r;
}

int db_open(const char *path, struct db **ret, char *err, size_t errlen)
{
    return db_open_at(path, false, DB_SCHEMA_VERSION, ret, err, errlen);
}

int db_open_readonly(const char *path, struct db **ret, char *err, size_t errlen)
{
    return db_open_at(path, true, DB_SCHEMA_VERSION, ret, err, errlen);
}

int db_migrate_to_version(const char *path, int version, char *err, size_t errlen)
{
    struct db *db = NULL;
    int r = db_open_at(path, false, version, &db, err, errlen);

    if (r < 0)
        return r;
    r = db_schema_version(db);
    if (r >= 0 && r != version) {
        if (err && errlen)
            snprintf(err, errlen, "database %s is at version %d, past %d", path, r, version);
        r = -EEXIST;
    }
    db_close(db);
    return r < 0 ? r : 0;
}

void db_close(struct db *db)
{
    if (!db)
        return;
    for (size_t i = 0; i < DB_STMT__COUNT; i++)
        sqlite3_finalize(db->stmt[i]);
    for (size_t i = 0; i < DB_ATTEMPT_LIST_SHAPES; i++)
        sqlite3_finalize(db->attempt_list[i]);
    if (db->conn) {
        /* Lets the planner refresh statistics the queries of this run needed; cheap. Not
         * worth holding up a shutdown for when another process has the write lock. */
        if (!db->readonly) {
            sqlite3_busy_timeout(db->conn, 100);
            sqlite3_exec(db->conn, "PRAGMA optimize", NULL, NULL, NULL);
        }
        sqlite3_close_v2(db->conn);
    }
    free(db);
}

int db_schema_version(struct db *db)
{
    int64_t app_id;
    int version;
    int r = db_read_header(db, &version, &app_id);

    return r < 0 ? r : version;
}

int db_set_busy_timeout(struct db *db, unsigned timeout_ms)
{
    int rc = sqlite3_busy_timeout(db->conn, timeout_ms > INT32_MAX ? INT32_MAX : (int)timeout_ms);

    return rc == SQLITE_OK ? 0 : db_fail(db, rc, "busy_timeout");
}
