/* The station database: attempts (one record per flashing try), the slot event timeline,
 * the package catalogue and the audit log, in one SQLite file (product.md "Records").
 *
 * db.c and its db_*.c siblings are the only files with SQL. Callers see plain structs with
 * fixed-size, NUL-terminated strings.
 *
 * Errors: every function returns 0 (or a count / id where documented) on success and a
 * negative errno on failure; db_last_error() then tells what went wrong. SQLite codes are
 * mapped in one place (db_errno_from_sqlite):
 *   BUSY, LOCKED -> -EBUSY        FULL -> -ENOSPC          NOMEM -> -ENOMEM
 *   CONSTRAINT (unique, primary key) -> -EEXIST; other constraints (CHECK, NOT NULL,
 *   foreign key) -> -EINVAL; a trigger refusal (append-only tables) -> -EPERM
 *   NOTADB, CORRUPT -> -EBADMSG   CANTOPEN -> -ENOENT or -EACCES (from the OS error)
 *   READONLY -> -EROFS            anything else -> -EIO
 * Own checks: -EINVAL (bad argument), -E2BIG (a string field without a NUL inside its array,
 * or a variable-length text over its limit), -EILSEQ (a string that is not UTF-8),
 * -ENOENT (no such row), -EALREADY (attempt already finished), -ENOTSUP (schema too new),
 * -EDEADLK (a list callback re-entered the same list query), -ERANGE (a time or size
 * above INT64_MAX).
 *
 * Strings: writes REJECT a field whose array holds no NUL (-E2BIG) or that is not valid
 * UTF-8 (-EILSEQ), naming the field in db_last_error(). Reads TRUNCATE (at a UTF-8 character
 * boundary) a stored value longer than the array, e.g. one written with the sqlite3 CLI.
 * Use db_field_set() to fill a field from untrusted text (device replies, HTTP): it
 * truncates and replaces invalid UTF-8, so the write never fails for that reason.
 *
 * Concurrency: one struct db belongs to one thread (the event loop). The file is in WAL
 * mode, so readers in other processes (sqlite3 CLI, an export worker with its own handle)
 * never block the daemon and the daemon never blocks them; a second writer makes a write
 * wait up to the busy timeout and then fail with -EBUSY.
 *
 * Lists page with a cursor and call a callback per row: the callback returns 0 to go on,
 * > 0 to stop (the list then returns the rows delivered so far, this one included), < 0 to
 * stop and make the list return that value. The row is a copy valid during the call. A
 * callback may call other db functions, but not the same list with the same filter shape
 * (-EDEADLK). Page on with the id (or finish_seq) of the last row seen.
 *
 * Time is UTC milliseconds since the epoch (uint64_t, *_unix_ms); 0 means "not set"; values
 * above INT64_MAX are refused (-ERANGE).
 *
 * Calls are synchronous. A commit costs 50-100 us on the CI machine (tests/bench/bench_db); a
 * write blocks for up to DB_BUSY_TIMEOUT_MS only while another process holds the write lock
 * (a sqlite3 CLI user writing by hand), never because of readers.
 *
 * Typical use:
 *   main.c   db_open(cfg.db_path, &db, err, sizeof err)   -> refuse to start on failure
 *            db_attempts_abort_running(db, "flashrackd restarted", now)   (after a crash)
 *            ... db_close(db) at shutdown
 *   rack.c   struct db_slot_event ev = {.ts_unix_ms = now, ...};
 *            db_field_set(ev.usb_path, sizeof ev.usb_path, port); db_slot_event_insert(...)
 *   workflow struct db_attempt a = {...}; db_attempt_begin(db, &a, NULL);  ... later
 *            a.result = DB_RESULT_PASS; a.ended_unix_ms = now; db_attempt_finish(db, &a);
 *   MES      db_attempts_list(db, &(struct db_attempt_filter){.order = DB_ORDER_FINISH_ASC},
 *            last_finish_seq, 100, cb, ctx)
 */
#ifndef FLASHRACK_DB_H
#define FLASHRACK_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Schema version this binary writes; PRAGMA user_version of the file. */
#define DB_SCHEMA_VERSION 5
/* PRAGMA application_id: marks the file as a flashrack database ("FRAK"). */
#define DB_APPLICATION_ID 0x4652414B
/* A write waits this long for another process's write lock before -EBUSY. */
#define DB_BUSY_TIMEOUT_MS 5000

/* Array sizes, terminating NUL included. */
#define DB_LABEL_SIZE    64   /* station, slot, operator, work order, codes, states, ... */
#define DB_IMEI_SIZE     20   /* 15 digits (16 for IMEISV) */
#define DB_UUID_SIZE     37   /* canonical text form, 36 characters */
#define DB_SHA256_SIZE   65   /* lowercase hex */
#define DB_REVISION_SIZE 128  /* firmware revision strings ("EC800MCNGAR06A01M08_OCPU_QPY") */
#define DB_VERSION_SIZE  128  /* package version */
#define DB_NAME_SIZE     256  /* package and file names, audit targets */
#define DB_REF_SIZE      256  /* log reference (relative path of the attempt's log) */
#define DB_MESSAGE_SIZE  512  /* fail messages */
#define DB_DETAIL_SIZE   2048 /* slot event JSON detail, audit detail */
#define DB_PATH_SIZE     1024 /* package file path */
/* inspect_json of a package is heap text of at most this many bytes. */
#define DB_INSPECT_JSON_MAX (1024 * 1024)

struct db;

/* ---- opening ---------------------------------------------------------------------------- */

/* Opens (creating if missing) the database at path for the daemon: WAL journal,
 * synchronous=NORMAL, foreign keys on, busy timeout DB_BUSY_TIMEOUT_MS. A file at an older
 * schema version is migrated forward in one transaction (all steps or none). Refused:
 *   - a file that is not a SQLite database, or a SQLite database of another application
 *     (-EBADMSG);
 *   - a file whose schema version is newer than DB_SCHEMA_VERSION (-ENOTSUP; the message
 *     names both versions: the file was written by a newer flashrackd);
 *   - a file the process cannot write (-EROFS, -EACCES), a missing directory (-ENOENT).
 * On failure *ret is untouched and err (if not NULL) holds a message naming the file. */
int db_open(const char *path, struct db **ret, char *err, size_t errlen);

/* Opens an existing database read-only (CLI, export workers). Never creates, never
 * migrates: a file that is not at DB_SCHEMA_VERSION is refused (-ENOTSUP). Writes through
 * this handle fail with -EROFS. */
int db_open_readonly(const char *path, struct db **ret, char *err, size_t errlen);

/* Finalizes cached statements and closes. NULL is fine. An open transaction rolls back. */
void db_close(struct db *db);

/* PRAGMA user_version of the open file (DB_SCHEMA_VERSION after db_open), or -errno. */
int db_schema_version(struct db *db);

/* For tests and tools: creates the file if missing and applies migration steps up to
 * exactly `version` (0..DB_SCHEMA_VERSION), then closes it. Tests use it to build a file as
 * an older flashrackd left it, put rows in with that version's SQL, then db_open() it.
 * -EEXIST if the file is past `version` already (it is left alone). */
int db_migrate_to_version(const char *path, int version, char *err, size_t errlen);

/* Message of the last failure on this handle (SQLite's text or our own check); "" if none
 * yet. Valid until the next call on the handle. */
const char *db_last_error(const struct db *db);

/* Changes the busy timeout (milliseconds; 0 = fail at once with -EBUSY). */
int db_set_busy_timeout(struct db *db, unsigned timeout_ms);

/* Maps a SQLite result code (primary or extended) to a negative errno (table above).
 * SQLITE_OK and the row/done codes map to 0. */
int db_errno_from_sqlite(int sqlite_rc);

/* ---- transactions ----------------------------------------------------------------------- */

/* Groups several writes so they land together or not at all (e.g. finishing an attempt and
 * queueing its MES delivery). db_begin takes the write lock at once (BEGIN IMMEDIATE), so a
 * later write in the transaction never fails with -EBUSY. No nesting: db_begin inside a
 * transaction is -EINPROGRESS; db_commit / db_rollback without one is -EINVAL. Every other
 * function works both inside and outside a transaction. */
int db_begin(struct db *db);
int db_commit(struct db *db);
int db_rollback(struct db *db);
bool db_in_transaction(struct db *db);

/* ---- strings ---------------------------------------------------------------------------- */

/* Copies untrusted text into a field: invalid UTF-8 bytes and control characters become
 * '?', and text that does not fit is cut at a character boundary. Returns 0, or -E2BIG if it
 * had to cut (dst is still filled and terminated). src NULL stores "". Use as
 * db_field_set(a.imei, sizeof(a.imei), text). */
int db_field_set(char *dst, size_t size, const char *src);

/* ---- slot events (append-only timeline) --------------------------------------------------- */

struct db_slot_event {
    int64_t id;          /* set by insert */
    uint64_t ts_unix_ms; /* required (not 0) */
    char station_id[DB_LABEL_SIZE];
    char slot[DB_LABEL_SIZE];     /* slot label; "" for ignored ports */
    char usb_path[DB_LABEL_SIZE]; /* physical port, "1-4.2.3" */
    char event[DB_LABEL_SIZE];    /* required: "attach", "detach", "ignored", "state", ... */
    uint16_t vid, pid;
    char detail[DB_DETAIL_SIZE]; /* JSON text, or "" for none (stored as NULL) */
};

/* Appends ev; *ret_id (optional) gets its id. -EINVAL when event is empty, ts is 0 or detail
 * is not valid JSON. */
int db_slot_event_insert(struct db *db, const struct db_slot_event *ev, int64_t *ret_id);

/* Calls cb for at most limit (> 0) events with id > after_id, in id order. Returns the
 * number of events delivered, or -errno. Page on with the id of the last event seen. */
int db_slot_events_list(struct db *db, int64_t after_id, int limit,
                        int (*cb)(const struct db_slot_event *ev, void *userdata), void *userdata);

/* ---- attempts ----------------------------------------------------------------------------- */

enum db_result {
    DB_RESULT_ANY = 0, /* only in filters */
    DB_RESULT_RUNNING,
    DB_RESULT_PASS,
    DB_RESULT_FAIL,
    DB_RESULT_ABORTED,
};
/* "running", "pass", "fail", "aborted" ("any" for DB_RESULT_ANY); NULL if out of range. */
const char *db_result_to_string(enum db_result r);
/* Returns -EINVAL for an unknown string (including "any"), else the enum value. */
int db_result_from_string(const char *s);

struct db_attempt {
    int64_t id;                      /* set by db_attempt_begin */
    char attempt_uuid[DB_UUID_SIZE]; /* idempotency key; "" at begin = generate one */
    char station_id[DB_LABEL_SIZE];
    char slot[DB_LABEL_SIZE];
    char usb_path[DB_LABEL_SIZE];
    char operator_name[DB_LABEL_SIZE]; /* column "operator" */
    char work_order[DB_LABEL_SIZE];
    char lot[DB_LABEL_SIZE];
    char module_model[DB_LABEL_SIZE];  /* "EC800M" */
    char ordering_code[DB_LABEL_SIZE]; /* "EC800MCNGA-I05-SGNSA" */
    char submodel[DB_LABEL_SIZE];      /* "CNGA" */
    char platform[DB_LABEL_SIZE];      /* "asr", "unisoc", ... */
    char imei[DB_IMEI_SIZE];           /* "" while unknown */
    char revision_before[DB_REVISION_SIZE];
    char revision_after[DB_REVISION_SIZE];
    char package_name[DB_NAME_SIZE];
    char package_version[DB_VERSION_SIZE];
    char package_sha256[DB_SHA256_SIZE];
    char protocol[DB_LABEL_SIZE];
    int attempt_no;           /* computed: 1 + earlier attempts with this IMEI */
    uint64_t started_unix_ms; /* required at begin */
    uint64_t ended_unix_ms;   /* 0 while running */
    uint64_t duration_ms;
    uint64_t bytes_written;
    enum db_result result;          /* DB_RESULT_RUNNING until finished */
    char fail_stage[DB_LABEL_SIZE]; /* workflow stage: "identify", "flash", ... */
    char fail_code[DB_LABEL_SIZE];  /* fail_code_to_string() taxonomy */
    char fail_message[DB_MESSAGE_SIZE];
    char log_ref[DB_REF_SIZE];
    char mes_state[DB_LABEL_SIZE]; /* "none" until the MES outbox changes it */
    /* Finish order: 1, 2, 3, ... in the order attempts became final; 0 while running.
     * An MES cursor must page on this, not on id: ids are handed out at begin, so a long
     * attempt with a small id can finish after a pager has passed bigger ids. */
    int64_t finish_seq;
};

/* Starts an attempt: inserts a 'running' row from a's identity fields (station .. protocol,
 * started_unix_ms, log_ref; the terminal fields are ignored). Generates attempt_uuid when
 * it is "" (a caller-provided one must be a canonical UUID; a duplicate is -EEXIST).
 * attempt_no = 1 + the number of attempts already recorded with the same IMEI, 1 when the
 * IMEI is "". On success writes back a->id, a->attempt_uuid, a->attempt_no, a->result,
 * a->mes_state and *ret_id (optional). */
int db_attempt_begin(struct db *db, struct db_attempt *a, int64_t *ret_id);

/* Ends attempt a->id exactly once: result (pass, fail or aborted, else -EINVAL),
 * ended_unix_ms (required), duration_ms, bytes_written, revision_after, fail_stage,
 * fail_code, fail_message, log_ref. Identity learnt late (a module that arrived in download
 * mode is identified after reboot; the package is chosen after identification): a non-empty
 * imei, module_model, ordering_code, submodel, revision_before, platform, package_name,
 * package_version, package_sha256 or protocol in a replaces the stored one; a changed IMEI recomputes
 * attempt_no as db_attempt_set_imei does. Writes back a->attempt_no and a->finish_seq.
 * -ENOENT: no such attempt; -EALREADY: it was already finished (nothing changes). */
int db_attempt_finish(struct db *db, struct db_attempt *a);

/* Records the IMEI of a running attempt (it may only become known after flashing) and
 * recomputes attempt_no = 1 + attempts with this IMEI and a smaller id. Later attempts are
 * not renumbered (finished records never change). *ret_attempt_no is optional.
 * -ENOENT: no such attempt; -EALREADY: it is finished; -EINVAL: imei "" . */
int db_attempt_set_imei(struct db *db, int64_t id, const char *imei, int *ret_attempt_no);

/* Sets the MES delivery state of an attempt (any state, running or finished). */
int db_attempt_set_mes_state(struct db *db, int64_t id, const char *mes_state);

/* After a crash: every attempt still 'running' becomes 'aborted' with fail_stage "daemon",
 * fail_code "aborted", fail_message message, ended_unix_ms now_ms and duration from its
 * start. Returns how many were aborted (0..), or -errno (then none changed). */
int db_attempts_abort_running(struct db *db, const char *message, uint64_t now_ms);

/* Fills *ret; -ENOENT if there is no such attempt. */
int db_attempt_get(struct db *db, int64_t id, struct db_attempt *ret);
int db_attempt_get_by_uuid(struct db *db, const char *attempt_uuid, struct db_attempt *ret);

enum db_attempt_order {
    DB_ORDER_ID_ASC = 0,  /* oldest first, cursor = id of the last row seen */
    DB_ORDER_ID_DESC,     /* newest first, cursor = id of the last row seen (0 = newest) */
    DB_ORDER_FINISH_ASC,  /* finished attempts only, in finish order, cursor = finish_seq */
    DB_ORDER_FINISH_DESC, /* finished attempts only, latest finish first (cursor 0 = latest) */
};

/* Every set member must match; NULL strings and "" match anything. */
struct db_attempt_filter {
    const char *imei;
    const char *work_order;
    const char *slot;
    enum db_result result; /* DB_RESULT_ANY = any */
    uint64_t from_unix_ms; /* ended_unix_ms >= from (0 = no bound; excludes running) */
    uint64_t to_unix_ms;   /* ended_unix_ms < to (0 = no bound; excludes running) */
    enum db_attempt_order order;
};

/* Calls cb for at most limit (> 0) attempts matching filter (NULL = all, id order) after
 * cursor (see enum db_attempt_order; 0 = from the start). Returns the number delivered.
 * Queries by imei, work_order and result page through an index; a time window with id
 * order sorts the window's rows per page, so keep windows to what a page view needs. */
int db_attempts_list(struct db *db, const struct db_attempt_filter *filter, int64_t cursor,
                     int limit, int (*cb)(const struct db_attempt *a, void *userdata),
                     void *userdata);

/* ---- packages (catalogue) ------------------------------------------------------------------ */

struct db_package {
    char sha256[DB_SHA256_SIZE]; /* key: 64 lowercase hex digits */
    char name[DB_NAME_SIZE];
    char platform[DB_LABEL_SIZE];
    char series[DB_LABEL_SIZE];
    char submodel[DB_LABEL_SIZE];
    char version[DB_VERSION_SIZE];
    uint64_t size;
    char path[DB_PATH_SIZE];
    uint64_t added_unix_ms; /* required; an upsert of a known sha256 keeps the first one */
    /* JSON text from inspect, NULL for none. db_package_upsert reads it (at most
     * DB_INSPECT_JSON_MAX bytes, valid JSON); db_package_get sets it to a malloc'd copy the
     * caller frees (db_package_clear); list callbacks get NULL. */
    char *inspect_json;
};

/* Inserts, or updates everything but added_unix_ms of the package with this sha256. */
int db_package_upsert(struct db *db, const struct db_package *p);
/* -ENOENT if unknown. On success the caller owns ret->inspect_json. */
int db_package_get(struct db *db, const char *sha256, struct db_package *ret);
/* Frees p->inspect_json and sets it to NULL. */
void db_package_clear(struct db_package *p);
/* -ENOENT if unknown. */
int db_package_delete(struct db *db, const char *sha256);

/* All packages, oldest added first. Returns the number delivered. */
int db_packages_list(struct db *db, int (*cb)(const struct db_package *p, void *userdata),
                     void *userdata);

/* ---- audit log (append-only) -------------------------------------------------------------- */

struct db_audit {
    int64_t id;                 /* set by insert */
    uint64_t ts_unix_ms;        /* required */
    char actor[DB_LABEL_SIZE];  /* token name or user */
    char role[DB_LABEL_SIZE];   /* operator, supervisor, admin, mes */
    char action[DB_LABEL_SIZE]; /* required: "package.upload", "job.set", ... */
    char target[DB_NAME_SIZE];
    char detail[DB_DETAIL_SIZE];
    char remote_addr[DB_LABEL_SIZE];
};

int db_audit_insert(struct db *db, const struct db_audit *a, int64_t *ret_id);

/* At most limit (> 0) entries with id > after_id, in id order. Returns the number. */
int db_audit_list(struct db *db, int64_t after_id, int limit,
                  int (*cb)(const struct db_audit *a, void *userdata), void *userdata);

/* ---- settings (state set over the API that survives a restart) -------------------------- */

#define DB_SETTING_MAX 4096 /* bytes of one value */

/* Sets key (1 to DB_LABEL_SIZE - 1 bytes) to value_json (valid JSON, at most DB_SETTING_MAX
 * bytes: -E2BIG), replacing what was there. */
int db_setting_set(struct db *db, const char *key, const char *value_json, uint64_t now_ms);
/* Copies key's value into value (size bytes, NUL-terminated) and, when ret_updated_ms is set,
 * when it was saved. -ENOENT: never set; -E2BIG: it does not fit (value untouched). */
int db_setting_get(struct db *db, const char *key, char *value, size_t size,
                   uint64_t *ret_updated_ms);

#endif
