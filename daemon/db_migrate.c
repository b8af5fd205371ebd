/* Schema and forward migrations. PRAGMA user_version is the schema version; step n takes a
 * file from n-1 to n. Adding version 2: append one entry to db_steps[] (SQL ending in
 * "PRAGMA user_version = 2"), bump DB_SCHEMA_VERSION in db.h, and add the version-2 fixture
 * in tests/unit/test_db_migrate.c. Never edit a step that has shipped: files in the field
 * are at that version already. */
#include "db_priv.h"

#include <errno.h>
#include <stdio.h>

/* Version 1. Text columns are NOT NULL DEFAULT '' so "unknown" has one spelling. Records are
 * append-only, and triggers hold that against anyone with the sqlite3 CLI as well:
 * finished attempts change only in mes_state, the audit log never changes. */
static const char db_schema_v1[] =
    "CREATE TABLE slot_events ("
    "  id INTEGER PRIMARY KEY,"
    "  ts_unix_ms INTEGER NOT NULL,"
    "  station_id TEXT NOT NULL DEFAULT '',"
    "  slot TEXT NOT NULL DEFAULT '',"
    "  usb_path TEXT NOT NULL DEFAULT '',"
    "  event TEXT NOT NULL CHECK (event <> ''),"
    "  vid INTEGER NOT NULL DEFAULT 0,"
    "  pid INTEGER NOT NULL DEFAULT 0,"
    "  detail TEXT"
    ");"
    "CREATE TRIGGER slot_events_append_only BEFORE UPDATE ON slot_events"
    " BEGIN SELECT RAISE(ABORT, 'slot_events is append-only'); END;"
    /* AUTOINCREMENT: an id is never handed out twice, even after the newest row was
     * deleted by hand, so API cursors (since_id) cannot skip or repeat a record. */
    "CREATE TABLE attempts ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  attempt_uuid TEXT NOT NULL UNIQUE CHECK (length(attempt_uuid) = 36),"
    "  station_id TEXT NOT NULL DEFAULT '',"
    "  slot TEXT NOT NULL DEFAULT '',"
    "  usb_path TEXT NOT NULL DEFAULT '',"
    "  operator TEXT NOT NULL DEFAULT '',"
    "  work_order TEXT NOT NULL DEFAULT '',"
    "  lot TEXT NOT NULL DEFAULT '',"
    "  module_model TEXT NOT NULL DEFAULT '',"
    "  ordering_code TEXT NOT NULL DEFAULT '',"
    "  submodel TEXT NOT NULL DEFAULT '',"
    "  platform TEXT NOT NULL DEFAULT '',"
    "  imei TEXT NOT NULL DEFAULT '',"
    "  revision_before TEXT NOT NULL DEFAULT '',"
    "  revision_after TEXT NOT NULL DEFAULT '',"
    "  package_name TEXT NOT NULL DEFAULT '',"
    "  package_version TEXT NOT NULL DEFAULT '',"
    "  package_sha256 TEXT NOT NULL DEFAULT '',"
    "  protocol TEXT NOT NULL DEFAULT '',"
    "  attempt_no INTEGER NOT NULL DEFAULT 1,"
    "  started_unix_ms INTEGER NOT NULL,"
    "  ended_unix_ms INTEGER,"
    "  duration_ms INTEGER,"
    "  bytes_written INTEGER NOT NULL DEFAULT 0,"
    "  result TEXT NOT NULL DEFAULT 'running'"
    "    CHECK (result IN ('running', 'pass', 'fail', 'aborted')),"
    "  fail_stage TEXT NOT NULL DEFAULT '',"
    "  fail_code TEXT NOT NULL DEFAULT '',"
    "  fail_message TEXT NOT NULL DEFAULT '',"
    "  log_ref TEXT NOT NULL DEFAULT '',"
    "  mes_state TEXT NOT NULL DEFAULT 'none',"
    "  finish_seq INTEGER UNIQUE,"
    "  CHECK ((result = 'running') = (finish_seq IS NULL))"
    ");"
    "CREATE INDEX attempts_imei ON attempts (imei);"
    "CREATE INDEX attempts_work_order ON attempts (work_order);"
    "CREATE INDEX attempts_ended ON attempts (ended_unix_ms);"
    "CREATE INDEX attempts_result ON attempts (result);"
    "CREATE TRIGGER attempts_final BEFORE UPDATE OF attempt_uuid, station_id, slot, usb_path,"
    "  operator, work_order, lot, module_model, ordering_code, submodel, platform, imei,"
    "  revision_before, revision_after, package_name, package_version, package_sha256,"
    "  protocol, attempt_no, started_unix_ms, ended_unix_ms, duration_ms, bytes_written,"
    "  result, fail_stage, fail_code, fail_message, log_ref, finish_seq ON attempts"
    "  WHEN OLD.result <> 'running'"
    " BEGIN SELECT RAISE(ABORT, 'a finished attempt is a record and cannot change'); END;"
    "CREATE TRIGGER attempts_append_only BEFORE DELETE ON attempts"
    " BEGIN SELECT RAISE(ABORT, 'attempts are append-only'); END;"
    "CREATE TABLE packages ("
    "  sha256 TEXT PRIMARY KEY NOT NULL"
    "    CHECK (length(sha256) = 64 AND sha256 NOT GLOB '*[^0-9a-f]*'),"
    "  name TEXT NOT NULL DEFAULT '',"
    "  platform TEXT NOT NULL DEFAULT '',"
    "  series TEXT NOT NULL DEFAULT '',"
    "  submodel TEXT NOT NULL DEFAULT '',"
    "  version TEXT NOT NULL DEFAULT '',"
    "  size INTEGER NOT NULL DEFAULT 0,"
    "  path TEXT NOT NULL DEFAULT '',"
    "  added_unix_ms INTEGER NOT NULL,"
    "  inspect_json TEXT"
    ");"
    "CREATE TABLE audit_log ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  ts_unix_ms INTEGER NOT NULL,"
    "  actor TEXT NOT NULL DEFAULT '',"
    "  role TEXT NOT NULL DEFAULT '',"
    "  action TEXT NOT NULL CHECK (action <> ''),"
    "  target TEXT NOT NULL DEFAULT '',"
    "  detail TEXT NOT NULL DEFAULT '',"
    "  remote_addr TEXT NOT NULL DEFAULT ''"
    ");"
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log"
    " BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;"
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log"
    " BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;"
    "PRAGMA application_id = 1179795787;" /* DB_APPLICATION_ID */
    "PRAGMA user_version = 1;";

/* Version 2: the MES outbox (docs/mes-integration.md). One row per finished attempt, written
 * by triggers in the same statement that makes the attempt final, so no path that finishes an
 * attempt (db_attempt_finish, db_attempts_abort_running after a crash, a hand-made INSERT)
 * can leave a record that is final but not queued, and no C caller has to remember it.
 * state: 'pending' (to send), 'delivered' (the MES acknowledged it), 'failed' (never set by
 * the daemon: an operator who gives a record up sets it by hand, and 'pending' requeues it).
 * Attempts finished before this version are not queued: the MES pulls those. */
static const char db_schema_v2[] =
    "CREATE TABLE mes_outbox ("
    "  attempt_id INTEGER PRIMARY KEY REFERENCES attempts (id),"
    "  state TEXT NOT NULL DEFAULT 'pending'"
    "    CHECK (state IN ('pending', 'delivered', 'failed')),"
    "  tries INTEGER NOT NULL DEFAULT 0,"
    "  queued_unix_ms INTEGER NOT NULL,"
    "  next_try_unix_ms INTEGER NOT NULL DEFAULT 0,"
    "  last_try_unix_ms INTEGER NOT NULL DEFAULT 0,"
    "  delivered_unix_ms INTEGER NOT NULL DEFAULT 0,"
    "  last_status INTEGER NOT NULL DEFAULT 0,"
    "  last_error TEXT NOT NULL DEFAULT ''"
    ");"
    "CREATE INDEX mes_outbox_due ON mes_outbox (next_try_unix_ms, attempt_id)"
    "  WHERE state = 'pending';"
    "CREATE TRIGGER attempts_outbox_finish AFTER UPDATE OF result ON attempts"
    "  WHEN OLD.result = 'running' AND NEW.result <> 'running'"
    " BEGIN"
    "  INSERT INTO mes_outbox (attempt_id, queued_unix_ms)"
    "   VALUES (NEW.id, coalesce(NEW.ended_unix_ms, 0));"
    "  UPDATE attempts SET mes_state = 'pending' WHERE id = NEW.id;"
    " END;"
    "CREATE TRIGGER attempts_outbox_insert AFTER INSERT ON attempts"
    "  WHEN NEW.result <> 'running'"
    " BEGIN"
    "  INSERT INTO mes_outbox (attempt_id, queued_unix_ms)"
    "   VALUES (NEW.id, coalesce(NEW.ended_unix_ms, 0));"
    "  UPDATE attempts SET mes_state = 'pending' WHERE id = NEW.id;"
    " END;"
    "PRAGMA user_version = 2;";

/* Version 3: indexes for the records API (docs/performance.md has the plans and figures).
 * attempts_window covers every column the stats of a time window read (and the id and
 * finish_seq ranges a windowed list walks), so they scan one index instead of looking up
 * each row; attempts_unit covers the first/latest verdict of a unit in id order. They start
 * with the columns of attempts_ended and attempts_imei, which they replace. attempts_slot
 * serves the slot filter, the one filter of the list that had no index. */
static const char db_schema_v3[] =
    "CREATE INDEX attempts_window ON attempts"
    "  (ended_unix_ms, result, duration_ms, slot, fail_code, imei, finish_seq);"
    "CREATE INDEX attempts_unit ON attempts (imei, id, result, ended_unix_ms);"
    "CREATE INDEX attempts_slot ON attempts (slot);"
    "DROP INDEX attempts_ended;"
    "DROP INDEX attempts_imei;"
    "PRAGMA user_version = 3;";

/* Version 4: settings, small state set over the API that must survive a restart (the job
 * context, docs/http.md "Context"): one row per key, the value JSON text. */
static const char db_schema_v4[] = "CREATE TABLE settings ("
                                   "  key TEXT PRIMARY KEY,"
                                   "  value TEXT NOT NULL CHECK (json_valid(value)),"
                                   "  updated_unix_ms INTEGER NOT NULL"
                                   ");"
                                   "PRAGMA user_version = 4;";

/* Version 5: recipes activated over the API (docs/http.md "Recipes"), after the config file's
 * own. A recipe names an uploaded package: the foreign key keeps a package in the catalogue
 * while a recipe uses it, whoever deletes rows. */
static const char db_schema_v5[] =
    "CREATE TABLE recipes ("
    "  name TEXT PRIMARY KEY NOT NULL CHECK (length(name) BETWEEN 1 AND 31),"
    "  package_sha256 TEXT NOT NULL REFERENCES packages (sha256),"
    "  options TEXT NOT NULL DEFAULT '',"
    "  created_unix_ms INTEGER NOT NULL,"
    "  created_by TEXT NOT NULL DEFAULT ''"
    ");"
    "CREATE INDEX recipes_package ON recipes (package_sha256);"
    "PRAGMA user_version = 5;";

static const struct db_migration db_steps[] = {
    {1, db_schema_v1, NULL}, {2, db_schema_v2, NULL}, {3, db_schema_v3, NULL},
    {4, db_schema_v4, NULL}, {5, db_schema_v5, NULL},
};

_Static_assert(sizeof(db_steps) / sizeof(db_steps[0]) == DB_SCHEMA_VERSION,
               "one migration step per schema version");

static int db_pragma_int(struct db *db, const char *sql, int64_t *ret)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db->conn, sql, -1, &st, NULL);

    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        int r = db_fail(db, rc, sql);
        sqlite3_finalize(st);
        return r;
    }
    *ret = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return 0;
}

int db_read_header(struct db *db, int *ret_version, int64_t *ret_app_id)
{
    int64_t version, app_id;
    int r;

    r = db_pragma_int(db, "PRAGMA user_version", &version);
    if (r == -EBADMSG)
        return db_failf(db, r, "not a SQLite database, or a damaged one (%s)",
                        sqlite3_errmsg(db->conn));
    if (r < 0)
        return r;
    r = db_pragma_int(db, "PRAGMA application_id", &app_id);
    if (r < 0)
        return r;
    if (version < 0 || version > INT32_MAX)
        return db_failf(db, -EBADMSG, "not a flashrack database (user_version %lld)",
                        (long long)version);
    /* Version 1 and later carry our application_id; version 0 is a new, empty file. */
    if ((version > 0 && app_id != DB_APPLICATION_ID) ||
        (version == 0 && app_id != 0 && app_id != DB_APPLICATION_ID))
        return db_failf(db, -EBADMSG,
                        "a SQLite database of another application (application_id 0x%llx, "
                        "user_version %lld), not a flashrack database",
                        (unsigned long long)app_id, (long long)version);
    if (version == 0) {
        /* user_version 0 with tables in it: some other program's database. */
        int64_t objects;
        r = db_pragma_int(db, "SELECT count(*) FROM sqlite_schema", &objects);
        if (r < 0)
            return r;
        if (objects > 0)
            return db_failf(db, -EBADMSG,
                            "holds %lld schema objects of another application (user_version "
                            "0), not a flashrack database",
                            (long long)objects);
    }
    *ret_version = (int)version;
    *ret_app_id = app_id;
    return 0;
}

/* Runs fixed script text (schema steps, pragmas); never text with values in it. */
static int db_exec_script(struct db *db, const char *sql, const char *what)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db->conn, sql, NULL, NULL, &msg);
    int r = 0;

    if (rc != SQLITE_OK) {
        r = db_fail(db, rc, what);
        if (msg)
            db_failf(db, r, "%s: %s", what, msg);
    }
    sqlite3_free(msg);
    return r;
}

static int db_migrate_locked(struct db *db, const struct db_migration *steps, int nsteps, int to)
{
    sqlite3_stmt *st = NULL;
    int64_t app_id;
    int version, r, rc;

    r = db_read_header(db, &version, &app_id);
    if (r < 0)
        return r;
    if (version > nsteps)
        return db_failf(db, -ENOTSUP, "schema version %d is newer than version %d", version,
                        nsteps);
    for (int v = version + 1; v <= to; v++) {
        const struct db_migration *m = &steps[v - 1];
        char what[64];
        int64_t now;

        snprintf(what, sizeof(what), "migration to schema version %d", v);
        if (m->version != v)
            return db_failf(db, -EINVAL, "%s: step table out of order (%d)", what, m->version);
        r = db_exec_script(db, m->sql, what);
        if (r == 0 && m->fn)
            r = m->fn(db);
        if (r < 0)
            return r;
        r = db_pragma_int(db, "PRAGMA user_version", &now);
        if (r < 0)
            return r;
        if (now != v)
            return db_failf(db, -EINVAL, "%s: the step left user_version at %lld", what,
                            (long long)now);
    }
    /* Table rebuilds in later steps run with foreign keys off; prove they kept them. */
    rc = sqlite3_prepare_v2(db->conn, "PRAGMA foreign_key_check", -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        r = db_failf(db, -EINVAL, "migration left a broken foreign key in table %s",
                     (const char *)sqlite3_column_text(st, 0));
    else if (rc != SQLITE_DONE)
        r = db_fail(db, rc, "foreign_key_check");
    sqlite3_finalize(st);
    return r;
}

int db_migrate_steps(struct db *db, const struct db_migration *steps, int nsteps, int to)
{
    int r;

    if (to < 0 || to > nsteps)
        return db_failf(db, -EINVAL, "no migration to version %d", to);
    if (db_in_transaction(db))
        return db_failf(db, -EINPROGRESS, "cannot migrate inside a transaction");
    /* foreign_keys cannot change inside a transaction, so it is switched around it. */
    r = db_exec_script(db, "PRAGMA foreign_keys=OFF", "foreign_keys");
    if (r < 0)
        return r;
    r = db_exec_script(db, "BEGIN IMMEDIATE", "begin migration");
    if (r == 0) {
        r = db_migrate_locked(db, steps, nsteps, to);
        if (r == 0)
            r = db_exec_script(db, "COMMIT", "commit migration");
        if (r < 0 && db_in_transaction(db)) {
            char keep[sizeof(db->last_error)];
            snprintf(keep, sizeof(keep), "%s", db->last_error);
            sqlite3_exec(db->conn, "ROLLBACK", NULL, NULL, NULL);
            snprintf(db->last_error, sizeof(db->last_error), "%s", keep);
        }
    }
    if (db_exec_script(db, "PRAGMA foreign_keys=ON", "foreign_keys") < 0 && r == 0)
        r = -EIO;
    return r;
}

int db_migrate(struct db *db, int to)
{
    return db_migrate_steps(db, db_steps, DB_SCHEMA_VERSION, to);
}
