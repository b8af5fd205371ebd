/* The slot event timeline, the package catalogue and the audit log. */
#include "db_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- slot events ---- */

static const char sql_event_insert[] =
    "INSERT INTO slot_events (ts_unix_ms, station_id, slot, usb_path, event, vid, pid, detail)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

int db_slot_event_insert(struct db *db, const struct db_slot_event *ev, int64_t *ret_id)
{
    sqlite3_stmt *st;
    int r;

    if (!ev)
        return db_failf(db, -EINVAL, "no slot event");
    if (ev->ts_unix_ms == 0)
        return db_failf(db, -EINVAL, "slot_event.ts_unix_ms is not set");
    if (strnlen(ev->event, sizeof(ev->event)) == 0)
        return db_failf(db, -EINVAL, "slot_event.event is empty");
    if (strnlen(ev->detail, sizeof(ev->detail)) == sizeof(ev->detail))
        return db_failf(db, -E2BIG, "slot_event.detail is not terminated within %zu bytes",
                        sizeof(ev->detail));
    if (ev->detail[0]) {
        r = db_check_json(db, ev->detail, "slot_event.detail");
        if (r < 0)
            return r;
    }

    r = db_stmt(db, DB_STMT_SLOT_EVENT_INSERT, sql_event_insert, &st);
    if (r < 0)
        return r;
    r = db_bind_u64(db, st, 1, ev->ts_unix_ms, "slot_event.ts_unix_ms");
    if (r == 0)
        r = db_bind_field(db, st, 2, ev->station_id, sizeof(ev->station_id),
                          "slot_event.station_id");
    if (r == 0)
        r = db_bind_field(db, st, 3, ev->slot, sizeof(ev->slot), "slot_event.slot");
    if (r == 0)
        r = db_bind_field(db, st, 4, ev->usb_path, sizeof(ev->usb_path), "slot_event.usb_path");
    if (r == 0)
        r = db_bind_field(db, st, 5, ev->event, sizeof(ev->event), "slot_event.event");
    if (r == 0) {
        sqlite3_bind_int(st, 6, ev->vid);
        sqlite3_bind_int(st, 7, ev->pid);
        r = db_bind_text_or_null(db, st, 8, ev->detail, sizeof(ev->detail) - 1,
                                 "slot_event.detail");
    }
    if (r < 0) {
        db_stmt_done(st);
        return r;
    }
    r = db_step_done(db, st, "insert slot event");
    if (r == 0 && ret_id)
        *ret_id = sqlite3_last_insert_rowid(db->conn);
    return r;
}

static const char sql_events_list[] =
    "SELECT id, ts_unix_ms, station_id, slot, usb_path, event, vid, pid, detail"
    " FROM slot_events WHERE id > ?1 ORDER BY id LIMIT ?2";

struct event_list_ctx {
    int (*cb)(const struct db_slot_event *ev, void *userdata);
    void *userdata;
    struct db_slot_event row;
};

static int event_list_row(sqlite3_stmt *st, void *ctx)
{
    struct event_list_ctx *c = ctx;
    struct db_slot_event *ev = &c->row;

    ev->id = sqlite3_column_int64(st, 0);
    ev->ts_unix_ms = db_column_u64(st, 1);
    db_column_field(st, 2, ev->station_id, sizeof(ev->station_id));
    db_column_field(st, 3, ev->slot, sizeof(ev->slot));
    db_column_field(st, 4, ev->usb_path, sizeof(ev->usb_path));
    db_column_field(st, 5, ev->event, sizeof(ev->event));
    ev->vid = (uint16_t)sqlite3_column_int(st, 6);
    ev->pid = (uint16_t)sqlite3_column_int(st, 7);
    db_column_field(st, 8, ev->detail, sizeof(ev->detail));
    return c->cb(ev, c->userdata);
}

int db_slot_events_list(struct db *db, int64_t after_id, int limit,
                        int (*cb)(const struct db_slot_event *ev, void *userdata), void *userdata)
{
    struct event_list_ctx ctx = {.cb = cb, .userdata = userdata};
    sqlite3_stmt *st;
    int r = db_check_list_args(db, limit, cb != NULL);

    if (r == 0)
        r = db_stmt(db, DB_STMT_SLOT_EVENTS_LIST, sql_events_list, &st);
    if (r < 0)
        return r;
    sqlite3_bind_int64(st, 1, after_id);
    sqlite3_bind_int(st, 2, limit);
    return db_rows(db, st, event_list_row, &ctx, "list slot events");
}

/* ---- packages ---- */

static bool sha256_valid(const char *s)
{
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return s[64] == '\0';
}

static int check_sha256(struct db *db, const char *sha256)
{
    if (!sha256 || !sha256_valid(sha256))
        return db_failf(db, -EINVAL, "package sha256 must be 64 lowercase hex digits");
    return 0;
}

/* A re-upload of the same bytes refreshes what we know about them but keeps the date they
 * first arrived. */
static const char sql_package_upsert[] =
    "INSERT INTO packages (sha256, name, platform, series, submodel, version, size, path,"
    " added_unix_ms, inspect_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
    " ON CONFLICT (sha256) DO UPDATE SET name = excluded.name, platform = excluded.platform,"
    " series = excluded.series, submodel = excluded.submodel, version = excluded.version,"
    " size = excluded.size, path = excluded.path, inspect_json = excluded.inspect_json";

int db_package_upsert(struct db *db, const struct db_package *p)
{
    sqlite3_stmt *st;
    int r;

    if (!p)
        return db_failf(db, -EINVAL, "no package");
    r = check_sha256(db, p->sha256);
    if (r < 0)
        return r;
    if (p->added_unix_ms == 0)
        return db_failf(db, -EINVAL, "package.added_unix_ms is not set");
    if (p->inspect_json) {
        if (strnlen(p->inspect_json, DB_INSPECT_JSON_MAX + 1) > DB_INSPECT_JSON_MAX)
            return db_failf(db, -E2BIG, "package.inspect_json is longer than %d bytes",
                            DB_INSPECT_JSON_MAX);
        if (p->inspect_json[0]) {
            r = db_check_json(db, p->inspect_json, "package.inspect_json");
            if (r < 0)
                return r;
        }
    }

    r = db_stmt(db, DB_STMT_PACKAGE_UPSERT, sql_package_upsert, &st);
    if (r < 0)
        return r;
    r = db_bind_field(db, st, 1, p->sha256, sizeof(p->sha256), "package.sha256");
    if (r == 0)
        r = db_bind_field(db, st, 2, p->name, sizeof(p->name), "package.name");
    if (r == 0)
        r = db_bind_field(db, st, 3, p->platform, sizeof(p->platform), "package.platform");
    if (r == 0)
        r = db_bind_field(db, st, 4, p->series, sizeof(p->series), "package.series");
    if (r == 0)
        r = db_bind_field(db, st, 5, p->submodel, sizeof(p->submodel), "package.submodel");
    if (r == 0)
        r = db_bind_field(db, st, 6, p->version, sizeof(p->version), "package.version");
    if (r == 0)
        r = db_bind_u64(db, st, 7, p->size, "package.size");
    if (r == 0)
        r = db_bind_field(db, st, 8, p->path, sizeof(p->path), "package.path");
    if (r == 0)
        r = db_bind_u64(db, st, 9, p->added_unix_ms, "package.added_unix_ms");
    if (r == 0)
        r = db_bind_text_or_null(db, st, 10, p->inspect_json, DB_INSPECT_JSON_MAX,
                                 "package.inspect_json");
    if (r < 0) {
        db_stmt_done(st);
        return r;
    }
    return db_step_done(db, st, "upsert package");
}

#define PACKAGE_COLUMNS                                                                            \
    "sha256, name, platform, series, submodel, version, size, path, added_unix_ms"

static void package_from_row(sqlite3_stmt *st, struct db_package *p)
{
    memset(p, 0, sizeof(*p));
    db_column_field(st, 0, p->sha256, sizeof(p->sha256));
    db_column_field(st, 1, p->name, sizeof(p->name));
    db_column_field(st, 2, p->platform, sizeof(p->platform));
    db_column_field(st, 3, p->series, sizeof(p->series));
    db_column_field(st, 4, p->submodel, sizeof(p->submodel));
    db_column_field(st, 5, p->version, sizeof(p->version));
    p->size = db_column_u64(st, 6);
    db_column_field(st, 7, p->path, sizeof(p->path));
    p->added_unix_ms = db_column_u64(st, 8);
}

static const char sql_package_get[] =
    "SELECT " PACKAGE_COLUMNS ", inspect_json FROM packages WHERE sha256 = ?1";

int db_package_get(struct db *db, const char *sha256, struct db_package *ret)
{
    struct db_package p;
    sqlite3_stmt *st;
    int r, rc;

    r = check_sha256(db, sha256);
    if (r == 0)
        r = db_stmt(db, DB_STMT_PACKAGE_GET, sql_package_get, &st);
    if (r < 0)
        return r;
    sqlite3_bind_text(st, 1, sha256, 64, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *json = (const char *)sqlite3_column_text(st, 9);
        package_from_row(st, &p);
        if (json) {
            size_t n = (size_t)sqlite3_column_bytes(st, 9);
            p.inspect_json = malloc(n + 1);
            if (!p.inspect_json) {
                r = db_failf(db, -ENOMEM, "package %s: no memory for inspect_json", sha256);
            } else {
                memcpy(p.inspect_json, json, n);
                p.inspect_json[n] = '\0';
            }
        }
    } else if (rc == SQLITE_DONE) {
        r = db_failf(db, -ENOENT, "no package %s", sha256);
    } else {
        r = db_fail(db, rc, "get package");
    }
    db_stmt_done(st);
    if (r == 0)
        *ret = p;
    return r;
}

void db_package_clear(struct db_package *p)
{
    if (!p)
        return;
    free(p->inspect_json);
    p->inspect_json = NULL;
}

static const char sql_package_delete[] = "DELETE FROM packages WHERE sha256 = ?1";

int db_package_delete(struct db *db, const char *sha256)
{
    sqlite3_stmt *st;
    int r = check_sha256(db, sha256);

    if (r == 0)
        r = db_stmt(db, DB_STMT_PACKAGE_DELETE, sql_package_delete, &st);
    if (r < 0)
        return r;
    sqlite3_bind_text(st, 1, sha256, 64, SQLITE_STATIC);
    r = db_step_done(db, st, "delete package");
    if (r == 0 && sqlite3_changes(db->conn) == 0)
        r = db_failf(db, -ENOENT, "no package %s", sha256);
    return r;
}

static const char sql_packages_list[] =
    "SELECT " PACKAGE_COLUMNS " FROM packages ORDER BY added_unix_ms, sha256";

struct package_list_ctx {
    int (*cb)(const struct db_package *p, void *userdata);
    void *userdata;
    struct db_package row;
};

static int package_list_row(sqlite3_stmt *st, void *ctx)
{
    struct package_list_ctx *c = ctx;

    package_from_row(st, &c->row);
    return c->cb(&c->row, c->userdata);
}

int db_packages_list(struct db *db, int (*cb)(const struct db_package *p, void *userdata),
                     void *userdata)
{
    struct package_list_ctx ctx = {.cb = cb, .userdata = userdata};
    sqlite3_stmt *st;
    int r = db_check_list_args(db, 1, cb != NULL);

    if (r == 0)
        r = db_stmt(db, DB_STMT_PACKAGES_LIST, sql_packages_list, &st);
    if (r < 0)
        return r;
    return db_rows(db, st, package_list_row, &ctx, "list packages");
}

/* ---- audit log ---- */

static const char sql_audit_insert[] =
    "INSERT INTO audit_log (ts_unix_ms, actor, role, action, target, detail, remote_addr)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

int db_audit_insert(struct db *db, const struct db_audit *a, int64_t *ret_id)
{
    sqlite3_stmt *st;
    int r;

    if (!a)
        return db_failf(db, -EINVAL, "no audit entry");
    if (a->ts_unix_ms == 0)
        return db_failf(db, -EINVAL, "audit.ts_unix_ms is not set");
    if (strnlen(a->action, sizeof(a->action)) == 0)
        return db_failf(db, -EINVAL, "audit.action is empty");
    r = db_stmt(db, DB_STMT_AUDIT_INSERT, sql_audit_insert, &st);
    if (r < 0)
        return r;
    r = db_bind_u64(db, st, 1, a->ts_unix_ms, "audit.ts_unix_ms");
    if (r == 0)
        r = db_bind_field(db, st, 2, a->actor, sizeof(a->actor), "audit.actor");
    if (r == 0)
        r = db_bind_field(db, st, 3, a->role, sizeof(a->role), "audit.role");
    if (r == 0)
        r = db_bind_field(db, st, 4, a->action, sizeof(a->action), "audit.action");
    if (r == 0)
        r = db_bind_field(db, st, 5, a->target, sizeof(a->target), "audit.target");
    if (r == 0)
        r = db_bind_field(db, st, 6, a->detail, sizeof(a->detail), "audit.detail");
    if (r == 0)
        r = db_bind_field(db, st, 7, a->remote_addr, sizeof(a->remote_addr), "audit.remote_addr");
    if (r < 0) {
        db_stmt_done(st);
        return r;
    }
    r = db_step_done(db, st, "insert audit entry");
    if (r == 0 && ret_id)
        *ret_id = sqlite3_last_insert_rowid(db->conn);
    return r;
}

static const char sql_audit_list[] =
    "SELECT id, ts_unix_ms, actor, role, action, target, detail, remote_addr"
    " FROM audit_log WHERE id > ?1 ORDER BY id LIMIT ?2";

struct audit_list_ctx {
    int (*cb)(const struct db_audit *a, void *userdata);
    void *userdata;
    struct db_audit row;
};

static int audit_list_row(sqlite3_stmt *st, void *ctx)
{
    struct audit_list_ctx *c = ctx;
    struct db_audit *a = &c->row;

    a->id = sqlite3_column_int64(st, 0);
    a->ts_unix_ms = db_column_u64(st, 1);
    db_column_field(st, 2, a->actor, sizeof(a->actor));
    db_column_field(st, 3, a->role, sizeof(a->role));
    db_column_field(st, 4, a->action, sizeof(a->action));
    db_column_field(st, 5, a->target, sizeof(a->target));
    db_column_field(st, 6, a->detail, sizeof(a->detail));
    db_column_field(st, 7, a->remote_addr, sizeof(a->remote_addr));
    return c->cb(a, c->userdata);
}

int db_audit_list(struct db *db, int64_t after_id, int limit,
                  int (*cb)(const struct db_audit *a, void *userdata), void *userdata)
{
    struct audit_list_ctx ctx = {.cb = cb, .userdata = userdata};
    sqlite3_stmt *st;
    int r = db_check_list_args(db, limit, cb != NULL);

    if (r == 0)
        r = db_stmt(db, DB_STMT_AUDIT_LIST, sql_audit_list, &st);
    if (r < 0)
        return r;
    sqlite3_bind_int64(st, 1, after_id);
    sqlite3_bind_int(st, 2, limit);
    return db_rows(db, st, audit_list_row, &ctx, "list audit log");
}
