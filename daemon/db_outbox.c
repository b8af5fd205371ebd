/* The MES outbox table (schema version 2, db_migrate.c): reads and state changes. The rows
 * themselves are created by the attempts_outbox_* triggers, never here. */
#include "db_outbox.h"

#include "db_priv.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const outbox_states[] = {
    [DB_OUTBOX_PENDING] = "pending",
    [DB_OUTBOX_DELIVERED] = "delivered",
    [DB_OUTBOX_FAILED] = "failed",
};

const char *db_outbox_state_to_string(enum db_outbox_state s)
{
    if ((unsigned)s >= sizeof(outbox_states) / sizeof(outbox_states[0]) || !outbox_states[s])
        return NULL;
    return outbox_states[s];
}

static enum db_outbox_state outbox_state_from_string(const char *s)
{
    for (int i = DB_OUTBOX_PENDING; s && i <= DB_OUTBOX_FAILED; i++)
        if (strcmp(s, outbox_states[i]) == 0)
            return (enum db_outbox_state)i;
    return DB_OUTBOX_FAILED; /* the CHECK constraint keeps other values out */
}

/* Statements are prepared per call: the outbox is touched a few times per delivery, and a
 * statement that is not cached cannot be left half-stepped by an early return. */
static int outbox_prepare(struct db *db, const char *sql, sqlite3_stmt **ret)
{
    int rc = sqlite3_prepare_v2(db->conn, sql, -1, ret, NULL);

    if (rc != SQLITE_OK) {
        *ret = NULL;
        return db_fail(db, rc, "prepare outbox query");
    }
    return 0;
}

#define OUTBOX_COLUMNS                                                                             \
    "attempt_id, state, tries, queued_unix_ms, next_try_unix_ms, last_try_unix_ms,"                \
    " delivered_unix_ms, last_status, last_error"

static void outbox_from_row(sqlite3_stmt *st, struct db_outbox_entry *e)
{
    memset(e, 0, sizeof(*e));
    e->attempt_id = sqlite3_column_int64(st, 0);
    e->state = outbox_state_from_string((const char *)sqlite3_column_text(st, 1));
    e->tries = (uint32_t)db_column_u64(st, 2);
    e->queued_unix_ms = db_column_u64(st, 3);
    e->next_try_unix_ms = db_column_u64(st, 4);
    e->last_try_unix_ms = db_column_u64(st, 5);
    e->delivered_unix_ms = db_column_u64(st, 6);
    e->last_status = sqlite3_column_int(st, 7);
    db_column_field(st, 8, e->last_error, sizeof(e->last_error));
}

struct outbox_list_ctx {
    int (*cb)(const struct db_outbox_entry *e, void *userdata);
    void *userdata;
    struct db_outbox_entry row;
};

static int outbox_list_row(sqlite3_stmt *st, void *ctx)
{
    struct outbox_list_ctx *c = ctx;

    outbox_from_row(st, &c->row);
    return c->cb(&c->row, c->userdata);
}

/* Walks the partial index mes_outbox_due: only pending rows are in it. */
static const char sql_due[] = "SELECT " OUTBOX_COLUMNS " FROM mes_outbox"
                              " WHERE state = 'pending' AND next_try_unix_ms <= ?1"
                              " ORDER BY next_try_unix_ms, attempt_id LIMIT ?2";

int db_outbox_due(struct db *db, uint64_t now_ms, int limit,
                  int (*cb)(const struct db_outbox_entry *e, void *userdata), void *userdata)
{
    struct outbox_list_ctx ctx = {.cb = cb, .userdata = userdata};
    sqlite3_stmt *st;
    int r = db_check_list_args(db, limit, cb != NULL);

    if (r == 0)
        r = outbox_prepare(db, sql_due, &st);
    if (r < 0)
        return r;
    r = db_bind_u64(db, st, 1, now_ms, "now_ms");
    sqlite3_bind_int(st, 2, limit);
    if (r == 0)
        r = db_rows(db, st, outbox_list_row, &ctx, "list due outbox rows");
    sqlite3_finalize(st);
    return r;
}

static const char sql_next_due[] = "SELECT min(next_try_unix_ms) FROM mes_outbox"
                                   " WHERE state = 'pending' AND next_try_unix_ms > ?1";

int db_outbox_next_due(struct db *db, uint64_t now_ms, uint64_t *ret)
{
    sqlite3_stmt *st;
    int r = outbox_prepare(db, sql_next_due, &st);
    int rc;

    if (r < 0)
        return r;
    r = db_bind_u64(db, st, 1, now_ms, "now_ms");
    if (r == 0) {
        rc = sqlite3_step(st);
        if (rc != SQLITE_ROW)
            r = db_fail(db, rc, "next due outbox row");
        else if (sqlite3_column_type(st, 0) == SQLITE_NULL)
            r = -ENOENT; /* nothing waiting: not an error worth a message */
        else
            *ret = db_column_u64(st, 0);
    }
    sqlite3_finalize(st);
    return r;
}

static const char sql_counts[] = "SELECT"
                                 " coalesce(sum(state = 'pending'), 0),"
                                 " coalesce(sum(state = 'delivered'), 0),"
                                 " coalesce(sum(state = 'failed'), 0) FROM mes_outbox";

int db_outbox_counts(struct db *db, int64_t *pending, int64_t *delivered, int64_t *failed)
{
    sqlite3_stmt *st;
    int r = outbox_prepare(db, sql_counts, &st);
    int rc;

    if (r < 0)
        return r;
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        r = db_fail(db, rc, "count outbox rows");
    } else {
        if (pending)
            *pending = sqlite3_column_int64(st, 0);
        if (delivered)
            *delivered = sqlite3_column_int64(st, 1);
        if (failed)
            *failed = sqlite3_column_int64(st, 2);
    }
    sqlite3_finalize(st);
    return r;
}

static const char sql_get[] = "SELECT " OUTBOX_COLUMNS " FROM mes_outbox WHERE attempt_id = ?1";

int db_outbox_get(struct db *db, int64_t attempt_id, struct db_outbox_entry *ret)
{
    sqlite3_stmt *st;
    int r = outbox_prepare(db, sql_get, &st);
    int rc;

    if (r < 0)
        return r;
    sqlite3_bind_int64(st, 1, attempt_id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        outbox_from_row(st, ret);
    else if (rc == SQLITE_DONE)
        r = db_failf(db, -ENOENT, "attempt %lld is not in the MES outbox", (long long)attempt_id);
    else
        r = db_fail(db, rc, "get outbox row");
    sqlite3_finalize(st);
    return r;
}

/* Why an UPDATE ... WHERE state = 'pending' changed nothing. */
static int outbox_not_pending(struct db *db, int64_t attempt_id)
{
    struct db_outbox_entry e;
    int r = db_outbox_get(db, attempt_id, &e);

    if (r < 0)
        return r;
    return db_failf(db, -EALREADY, "MES outbox row of attempt %lld is %s, not pending",
                    (long long)attempt_id, db_outbox_state_to_string(e.state));
}

/* Runs a prepared UPDATE with its values bound; 1 if it changed a row, 0 if not. */
static int outbox_update(struct db *db, sqlite3_stmt *st, const char *what)
{
    int r = db_step_done(db, st, what);

    sqlite3_finalize(st);
    if (r < 0)
        return r;
    return sqlite3_changes(db->conn) > 0;
}

static const char sql_delivered[] =
    "UPDATE mes_outbox SET state = 'delivered', tries = tries + 1, last_status = ?3,"
    " last_try_unix_ms = ?2, delivered_unix_ms = ?2, last_error = ''"
    " WHERE attempt_id = ?1 AND state = 'pending'";

int db_outbox_delivered(struct db *db, int64_t attempt_id, uint64_t now_ms, int http_status)
{
    sqlite3_stmt *st;
    int r = db_savepoint(db);

    if (r < 0)
        return r;
    r = outbox_prepare(db, sql_delivered, &st);
    if (r == 0) {
        sqlite3_bind_int64(st, 1, attempt_id);
        sqlite3_bind_int(st, 3, http_status);
        r = db_bind_u64(db, st, 2, now_ms, "now_ms");
        if (r < 0)
            sqlite3_finalize(st);
        else
            r = outbox_update(db, st, "mark outbox row delivered");
    }
    if (r == 0)
        r = outbox_not_pending(db, attempt_id);
    if (r > 0)
        r = db_attempt_set_mes_state(db, attempt_id, "delivered");
    if (r < 0) {
        db_rollback_to(db);
        return r;
    }
    return db_release(db);
}

static const char sql_retry[] =
    "UPDATE mes_outbox SET tries = tries + 1, last_try_unix_ms = ?2, next_try_unix_ms = ?3,"
    " last_status = ?4, last_error = ?5"
    " WHERE attempt_id = ?1 AND state = 'pending' RETURNING tries";

int db_outbox_retry_later(struct db *db, int64_t attempt_id, uint64_t now_ms, uint64_t next_try_ms,
                          int http_status, const char *error, uint32_t *ret_tries)
{
    char msg[DB_MESSAGE_SIZE];
    sqlite3_stmt *st;
    uint32_t tries = 0;
    int r, rc;

    db_field_set(msg, sizeof(msg), error); /* server text: cut and cleaned, never refused */
    r = outbox_prepare(db, sql_retry, &st);
    if (r < 0)
        return r;
    sqlite3_bind_int64(st, 1, attempt_id);
    sqlite3_bind_int(st, 4, http_status);
    sqlite3_bind_text(st, 5, msg, -1, SQLITE_STATIC);
    r = db_bind_u64(db, st, 2, now_ms, "now_ms");
    if (r == 0)
        r = db_bind_u64(db, st, 3, next_try_ms, "next_try_ms");
    if (r == 0) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            tries = (uint32_t)db_column_u64(st, 0);
            r = db_step_done(db, st, "reschedule outbox row");
        } else if (rc == SQLITE_DONE) {
            r = 1; /* nothing changed: find out why below */
        } else {
            r = db_fail(db, rc, "reschedule outbox row");
        }
    }
    sqlite3_finalize(st);
    if (r == 1)
        return outbox_not_pending(db, attempt_id);
    if (r == 0 && ret_tries)
        *ret_tries = tries;
    return r;
}
