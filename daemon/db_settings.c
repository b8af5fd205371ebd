/* Settings: small state set over the API that survives a restart (the job context). A handful
 * of writes per shift, one read at start-up, so statements are prepared per call. */
#include "db_priv.h"

#include <errno.h>
#include <string.h>

static int settings_prepare(struct db *db, const char *sql, sqlite3_stmt **ret)
{
    int rc = sqlite3_prepare_v2(db->conn, sql, -1, ret, NULL);
    if (rc != SQLITE_OK) {
        *ret = NULL;
        return db_fail(db, rc, "prepare settings query");
    }
    return 0;
}

static int check_key(struct db *db, const char *key)
{
    if (!key || !key[0] || strlen(key) >= DB_LABEL_SIZE)
        return db_failf(db, -EINVAL, "a setting key has 1 to %d bytes", DB_LABEL_SIZE - 1);
    return 0;
}

int db_setting_set(struct db *db, const char *key, const char *value_json, uint64_t now_ms)
{
    sqlite3_stmt *st;
    int r = check_key(db, key);
    if (r < 0)
        return r;
    if (!value_json || strlen(value_json) > DB_SETTING_MAX)
        return db_failf(db, -E2BIG, "setting %s: the value is over %d bytes", key, DB_SETTING_MAX);
    r = db_check_json(db, value_json, "setting value");
    if (r < 0)
        return r;
    r = settings_prepare(db,
                         "INSERT INTO settings (key, value, updated_unix_ms) VALUES (?1, ?2, ?3)"
                         " ON CONFLICT (key) DO UPDATE SET value = excluded.value,"
                         " updated_unix_ms = excluded.updated_unix_ms",
                         &st);
    if (r < 0)
        return r;
    r = db_bind_field(db, st, 1, key, DB_LABEL_SIZE, "setting key");
    if (r == 0)
        r = db_bind_field(db, st, 2, value_json, DB_SETTING_MAX + 1, "setting value");
    if (r == 0)
        r = db_bind_u64(db, st, 3, now_ms, "setting updated_unix_ms");
    if (r == 0)
        r = db_step_done(db, st, "save a setting");
    sqlite3_finalize(st);
    return r;
}

int db_setting_get(struct db *db, const char *key, char *value, size_t size,
                   uint64_t *ret_updated_ms)
{
    sqlite3_stmt *st;
    int r = check_key(db, key);
    if (r < 0)
        return r;
    r = settings_prepare(db, "SELECT value, updated_unix_ms FROM settings WHERE key = ?1", &st);
    if (r < 0)
        return r;
    r = db_bind_field(db, st, 1, key, DB_LABEL_SIZE, "setting key");
    if (r == 0) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) {
            r = -ENOENT;
        } else if (rc != SQLITE_ROW) {
            r = db_fail(db, rc, "read a setting");
        } else if ((size_t)sqlite3_column_bytes(st, 0) >= size) {
            r = db_failf(db, -E2BIG, "setting %s: %d bytes do not fit in %zu", key,
                         sqlite3_column_bytes(st, 0), size);
        } else {
            const unsigned char *text = sqlite3_column_text(st, 0);
            memcpy(value, text ? (const char *)text : "", (size_t)sqlite3_column_bytes(st, 0));
            value[sqlite3_column_bytes(st, 0)] = '\0';
            if (ret_updated_ms)
                *ret_updated_ms = db_column_u64(st, 1);
        }
    }
    sqlite3_finalize(st);
    return r;
}
