/* Attempt records: one row per flashing try, begun 'running' and finished exactly once. */
#include "db_priv.h"
#include "uuid.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

static const char *const db_results[] = {
    [DB_RESULT_ANY] = "any",   [DB_RESULT_RUNNING] = "running", [DB_RESULT_PASS] = "pass",
    [DB_RESULT_FAIL] = "fail", [DB_RESULT_ABORTED] = "aborted",
};

const char *db_result_to_string(enum db_result r)
{
    if ((unsigned)r >= sizeof(db_results) / sizeof(db_results[0]))
        return NULL;
    return db_results[r];
}

int db_result_from_string(const char *s)
{
    for (int i = DB_RESULT_RUNNING; s && i <= DB_RESULT_ABORTED; i++)
        if (strcmp(s, db_results[i]) == 0)
            return i;
    return -EINVAL;
}

/* One column list for every query that returns attempts, read by attempt_from_row. */
#define ATTEMPT_COLUMNS                                                                            \
    "id, attempt_uuid, station_id, slot, usb_path, operator, work_order, lot, module_model, "      \
    "ordering_code, submodel, platform, imei, revision_before, revision_after, package_name, "     \
    "package_version, package_sha256, protocol, attempt_no, started_unix_ms, ended_unix_ms, "      \
    "duration_ms, bytes_written, result, fail_stage, fail_code, fail_message, log_ref, "           \
    "mes_state, finish_seq"

struct attempt_field {
    const char *name;
    size_t off, size;
};
/* clang-format off */
#define FIELD(m) {#m, offsetof(struct db_attempt, m), sizeof(((struct db_attempt *)0)->m)}
/* clang-format on */

/* Text columns of ATTEMPT_COLUMNS 1..18 in order (column 0 is id). */
static const struct attempt_field attempt_text_head[] = {
    FIELD(attempt_uuid),    FIELD(station_id),     FIELD(slot),         FIELD(usb_path),
    FIELD(operator_name),   FIELD(work_order),     FIELD(lot),          FIELD(module_model),
    FIELD(ordering_code),   FIELD(submodel),       FIELD(platform),     FIELD(imei),
    FIELD(revision_before), FIELD(revision_after), FIELD(package_name), FIELD(package_version),
    FIELD(package_sha256),  FIELD(protocol),
};
/* Text columns 25..29. */
static const struct attempt_field attempt_text_tail[] = {
    FIELD(fail_stage), FIELD(fail_code), FIELD(fail_message), FIELD(log_ref), FIELD(mes_state),
};

static void attempt_from_row(sqlite3_stmt *st, struct db_attempt *a)
{
    const size_t nhead = sizeof(attempt_text_head) / sizeof(attempt_text_head[0]);
    const size_t ntail = sizeof(attempt_text_tail) / sizeof(attempt_text_tail[0]);
    int r;

    memset(a, 0, sizeof(*a));
    a->id = sqlite3_column_int64(st, 0);
    for (size_t i = 0; i < nhead; i++)
        db_column_field(st, (int)i + 1, (char *)a + attempt_text_head[i].off,
                        attempt_text_head[i].size);
    a->attempt_no = sqlite3_column_int(st, 19);
    a->started_unix_ms = db_column_u64(st, 20);
    a->ended_unix_ms = db_column_u64(st, 21);
    a->duration_ms = db_column_u64(st, 22);
    a->bytes_written = db_column_u64(st, 23);
    r = db_result_from_string((const char *)sqlite3_column_text(st, 24));
    a->result = r < 0 ? DB_RESULT_ANY : (enum db_result)r; /* CHECK keeps this from happening */
    for (size_t i = 0; i < ntail; i++)
        db_column_field(st, (int)i + 25, (char *)a + attempt_text_tail[i].off,
                        attempt_text_tail[i].size);
    a->finish_seq = sqlite3_column_int64(st, 30);
}

static int bind_fields(struct db *db, sqlite3_stmt *st, int first_idx, const struct db_attempt *a,
                       const struct attempt_field *fields, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char what[48];
        int r;

        snprintf(what, sizeof(what), "attempt.%s", fields[i].name);
        r = db_bind_field(db, st, first_idx + (int)i, (const char *)a + fields[i].off,
                          fields[i].size, what);
        if (r < 0)
            return r;
    }
    return 0;
}

/* attempt_no counts every earlier attempt with the IMEI, whatever its result: the MES wants
 * "how many times was this unit tried", retries and aborts included. */
static const char sql_begin[] =
    "INSERT INTO attempts (attempt_uuid, station_id, slot, usb_path, operator, work_order, lot,"
    " module_model, ordering_code, submodel, platform, imei, revision_before, package_name,"
    " package_version, package_sha256, protocol, started_unix_ms, log_ref, attempt_no)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,"
    " ?19, CASE WHEN ?12 = '' THEN 1"
    "  ELSE 1 + (SELECT count(*) FROM attempts WHERE imei = ?12) END)"
    " RETURNING id, attempt_no";

static const struct attempt_field begin_fields[] = {
    FIELD(attempt_uuid),
    FIELD(station_id),
    FIELD(slot),
    FIELD(usb_path),
    FIELD(operator_name),
    FIELD(work_order),
    FIELD(lot),
    FIELD(module_model),
    FIELD(ordering_code),
    FIELD(submodel),
    FIELD(platform),
    FIELD(imei),
    FIELD(revision_before),
    FIELD(package_name),
    FIELD(package_version),
    FIELD(package_sha256),
    FIELD(protocol),
};

int db_attempt_begin(struct db *db, struct db_attempt *a, int64_t *ret_id)
{
    char uuid[DB_UUID_SIZE];
    sqlite3_stmt *st;
    int64_t id;
    int attempt_no, r, rc;

    if (!a)
        return db_failf(db, -EINVAL, "no attempt");
    if (a->started_unix_ms == 0)
        return db_failf(db, -EINVAL, "attempt.started_unix_ms is not set");
    if (strnlen(a->attempt_uuid, sizeof(a->attempt_uuid)) == sizeof(a->attempt_uuid))
        return db_failf(db, -E2BIG, "attempt.attempt_uuid is not terminated");
    if (a->attempt_uuid[0] == '\0') {
        r = uuid_v4_generate(uuid);
        if (r < 0)
            return db_failf(db, r, "cannot generate an attempt UUID: %s", strerror(-r));
    } else {
        if (!uuid_is_valid(a->attempt_uuid))
            return db_failf(db, -EINVAL, "attempt.attempt_uuid '%s' is not a UUID",
                            a->attempt_uuid);
        /* One spelling per key, so the UNIQUE constraint catches every duplicate. */
        for (size_t i = 0; i < sizeof(uuid); i++)
            uuid[i] = (char)tolower((unsigned char)a->attempt_uuid[i]);
    }

    r = db_stmt(db, DB_STMT_ATTEMPT_BEGIN, sql_begin, &st);
    if (r < 0)
        return r;
    r = bind_fields(db, st, 1, a, begin_fields, sizeof(begin_fields) / sizeof(begin_fields[0]));
    if (r == 0)
        r = db_bind_field(db, st, 1, uuid, sizeof(uuid), "attempt.attempt_uuid");
    if (r == 0)
        r = db_bind_u64(db, st, 18, a->started_unix_ms, "attempt.started_unix_ms");
    if (r == 0)
        r = db_bind_field(db, st, 19, a->log_ref, sizeof(a->log_ref), "attempt.log_ref");
    if (r < 0) {
        db_stmt_done(st);
        return r;
    }
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        r = db_fail(db, rc, "begin attempt");
        db_stmt_done(st);
        return r == -EEXIST ? db_failf(db, r, "attempt %s exists already", uuid) : r;
    }
    id = sqlite3_column_int64(st, 0);
    attempt_no = sqlite3_column_int(st, 1);
    r = db_step_done(db, st, "begin attempt");
    if (r < 0)
        return r;

    a->id = id;
    memcpy(a->attempt_uuid, uuid, sizeof(uuid));
    a->attempt_no = attempt_no;
    a->result = DB_RESULT_RUNNING;
    snprintf(a->mes_state, sizeof(a->mes_state), "none");
    if (ret_id)
        *ret_id = id;
    return 0;
}

static const char sql_result[] = "SELECT result FROM attempts WHERE id = ?1";

/* Why an UPDATE ... WHERE result = 'running' touched nothing. */
static int db_attempt_not_running(struct db *db, int64_t id)
{
    sqlite3_stmt *st;
    int r = db_stmt(db, DB_STMT_ATTEMPT_RESULT, sql_result, &st);
    int rc;

    if (r < 0)
        return r;
    sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        r = db_failf(db, -EALREADY, "attempt %lld is finished already (%s)", (long long)id,
                     (const char *)sqlite3_column_text(st, 0));
    else if (rc == SQLITE_DONE)
        r = db_failf(db, -ENOENT, "no attempt %lld", (long long)id);
    else
        r = db_fail(db, rc, "attempt result");
    db_stmt_done(st);
    return r;
}

/* finish_seq = max + 1 inside the one UPDATE: the write lock makes it race-free. All SET
 * expressions see the row as it was, so "?15 <> imei" compares with the old IMEI. */
static const char sql_finish[] =
    "UPDATE attempts SET result = ?2, ended_unix_ms = ?3, duration_ms = ?4, bytes_written = ?5,"
    " revision_after = ?6, fail_stage = ?7, fail_code = ?8, fail_message = ?9,"
    " log_ref = CASE WHEN ?10 <> '' THEN ?10 ELSE log_ref END,"
    " module_model = CASE WHEN ?11 <> '' THEN ?11 ELSE module_model END,"
    " ordering_code = CASE WHEN ?12 <> '' THEN ?12 ELSE ordering_code END,"
    " submodel = CASE WHEN ?13 <> '' THEN ?13 ELSE submodel END,"
    " revision_before = CASE WHEN ?14 <> '' THEN ?14 ELSE revision_before END,"
    " attempt_no = CASE WHEN ?15 <> '' AND ?15 <> imei THEN 1 + (SELECT count(*) FROM attempts p"
    "  WHERE p.imei = ?15 AND p.id < attempts.id) ELSE attempt_no END,"
    " imei = CASE WHEN ?15 <> '' THEN ?15 ELSE imei END,"
    " platform = CASE WHEN ?16 <> '' THEN ?16 ELSE platform END,"
    " package_name = CASE WHEN ?17 <> '' THEN ?17 ELSE package_name END,"
    " package_version = CASE WHEN ?18 <> '' THEN ?18 ELSE package_version END,"
    " package_sha256 = CASE WHEN ?19 <> '' THEN ?19 ELSE package_sha256 END,"
    " protocol = CASE WHEN ?20 <> '' THEN ?20 ELSE protocol END,"
    " finish_seq = (SELECT coalesce(max(finish_seq), 0) + 1 FROM attempts)"
    " WHERE id = ?1 AND result = 'running'"
    " RETURNING attempt_no, finish_seq";

static const struct attempt_field finish_fields[] = {
    FIELD(revision_after),  FIELD(fail_stage),     FIELD(fail_code),     FIELD(fail_message),
    FIELD(log_ref),         FIELD(module_model),   FIELD(ordering_code), FIELD(submodel),
    FIELD(revision_before), FIELD(imei),           FIELD(platform),      FIELD(package_name),
    FIELD(package_version), FIELD(package_sha256), FIELD(protocol),
};

int db_attempt_finish(struct db *db, struct db_attempt *a)
{
    sqlite3_stmt *st;
    int r, rc;

    if (!a)
        return db_failf(db, -EINVAL, "no attempt");
    if (a->result != DB_RESULT_PASS && a->result != DB_RESULT_FAIL &&
        a->result != DB_RESULT_ABORTED)
        return db_failf(db, -EINVAL, "attempt %lld: finish needs pass, fail or aborted",
                        (long long)a->id);
    if (a->ended_unix_ms == 0)
        return db_failf(db, -EINVAL, "attempt.ended_unix_ms is not set");

    r = db_stmt(db, DB_STMT_ATTEMPT_FINISH, sql_finish, &st);
    if (r < 0)
        return r;
    sqlite3_bind_int64(st, 1, a->id);
    sqlite3_bind_text(st, 2, db_results[a->result], -1, SQLITE_STATIC);
    r = db_bind_u64(db, st, 3, a->ended_unix_ms, "attempt.ended_unix_ms");
    if (r == 0)
        r = db_bind_u64(db, st, 4, a->duration_ms, "attempt.duration_ms");
    if (r == 0)
        r = db_bind_u64(db, st, 5, a->bytes_written, "attempt.bytes_written");
    if (r == 0)
        r = bind_fields(db, st, 6, a, finish_fields,
                        sizeof(finish_fields) / sizeof(finish_fields[0]));
    if (r < 0) {
        db_stmt_done(st);
        return r;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        db_stmt_done(st);
        return db_attempt_not_running(db, a->id);
    }
    if (rc != SQLITE_ROW) {
        r = db_fail(db, rc, "finish attempt");
        db_stmt_done(st);
        return r;
    }
    a->attempt_no = sqlite3_column_int(st, 0);
    a->finish_seq = sqlite3_column_int64(st, 1);
    return db_step_done(db, st, "finish attempt");
}

static const char sql_set_imei[] =
    "UPDATE attempts SET imei = ?2, attempt_no = 1 + (SELECT count(*) FROM attempts p"
    " WHERE p.imei = ?2 AND p.id < attempts.id)"
    " WHERE id = ?1 AND result = 'running' RETURNING attempt_no";

int db_attempt_set_imei(struct db *db, int64_t id, const char *imei, int *ret_attempt_no)
{
    sqlite3_stmt *st;
    int r, rc, no;

    if (!imei || !*imei)
        return db_failf(db, -EINVAL, "attempt %lld: empty IMEI", (long long)id);
    r = db_stmt(db, DB_STMT_ATTEMPT_SET_IMEI, sql_set_imei, &st);
    if (r < 0)
        return r;
    sqlite3_bind_int64(st, 1, id);
    r = db_bind_field(db, st, 2, imei, DB_IMEI_SIZE, "imei");
    if (r < 0) {
        db_stmt_done(st);
        return r;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        db_stmt_done(st);
        return db_attempt_not_running(db, id);
    }
    if (rc != SQLITE_ROW) {
        r = db_fail(db, rc, "set attempt IMEI");
        db_stmt_done(st);
        return r;
    }
    no = sqlite3_column_int(st, 0);
    r = db_step_done(db, st, "set attempt IMEI");
    if (r == 0 && ret_attempt_no)
        *ret_attempt_no = no;
    return r;
}

static const char sql_set_mes[] = "UPDATE attempts SET mes_state = ?2 WHERE id = ?1";

int db_attempt_set_mes_state(struct db *db, int64_t id, const char *mes_state)
{
    sqlite3_stmt *st;
    int r;

    if (!mes_state || !*mes_state)
        return db_failf(db, -EINVAL, "attempt %lld: empty MES state", (long long)id);
    r = db_stmt(db, DB_STMT_ATTEMPT_SET_MES, sql_set_mes, &st);
    if (r < 0)
        return r;
    sqlite3_bind_int64(st, 1, id);
    r = db_bind_field(db, st, 2, mes_state, DB_LABEL_SIZE, "mes_state");
    if (r < 0) {
        db_stmt_done(st);
        return r;
    }
    r = db_step_done(db, st, "set MES state");
    if (r == 0 && sqlite3_changes(db->conn) == 0)
        r = db_failf(db, -ENOENT, "no attempt %lld", (long long)id);
    return r;
}

/* One row per statement, the oldest first: each gets its own finish_seq from max + 1, which
 * a multi-row UPDATE could not promise (SQLite does not define whether a subquery sees the
 * rows the same statement already changed). */
static const char sql_abort_one[] =
    "UPDATE attempts SET result = 'aborted', fail_stage = 'daemon', fail_code = 'aborted',"
    " fail_message = ?1, ended_unix_ms = ?2, duration_ms = max(0, ?2 - started_unix_ms),"
    " finish_seq = (SELECT coalesce(max(finish_seq), 0) + 1 FROM attempts)"
    " WHERE id = (SELECT min(id) FROM attempts WHERE result = 'running')";

int db_attempts_abort_running(struct db *db, const char *message, uint64_t now_ms)
{
    sqlite3_stmt *st = NULL;
    int n = 0, r;

    if (!message)
        message = "";
    r = db_savepoint(db);
    if (r < 0)
        return r;
    r = db_stmt(db, DB_STMT_ATTEMPT_ABORT_ONE, sql_abort_one, &st);
    if (r == 0)
        r = db_bind_field(db, st, 1, message, DB_MESSAGE_SIZE, "message");
    if (r == 0)
        r = db_bind_u64(db, st, 2, now_ms, "now_ms");
    while (r == 0) {
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            r = db_fail(db, rc, "abort running attempts");
        else if (sqlite3_changes(db->conn) == 0)
            break;
        else
            n++;
    }
    if (st)
        db_stmt_done(st);
    if (r < 0) {
        db_rollback_to(db);
        return r;
    }
    r = db_release(db);
    return r < 0 ? r : n;
}

static const char sql_get[] = "SELECT " ATTEMPT_COLUMNS " FROM attempts WHERE id = ?1";
static const char sql_get_uuid[] =
    "SELECT " ATTEMPT_COLUMNS " FROM attempts WHERE attempt_uuid = lower(?1)";

static int attempt_get_row(struct db *db, sqlite3_stmt *st, struct db_attempt *ret,
                           const char *what)
{
    int rc = sqlite3_step(st);
    int r = 0;

    if (rc == SQLITE_ROW)
        attempt_from_row(st, ret);
    else if (rc == SQLITE_DONE)
        r = db_failf(db, -ENOENT, "no attempt %s", what);
    else
        r = db_fail(db, rc, "get attempt");
    db_stmt_done(st);
    return r;
}

int db_attempt_get(struct db *db, int64_t id, struct db_attempt *ret)
{
    char what[32];
    sqlite3_stmt *st;
    int r = db_stmt(db, DB_STMT_ATTEMPT_GET, sql_get, &st);

    if (r < 0)
        return r;
    sqlite3_bind_int64(st, 1, id);
    snprintf(what, sizeof(what), "%lld", (long long)id);
    return attempt_get_row(db, st, ret, what);
}

int db_attempt_get_by_uuid(struct db *db, const char *attempt_uuid, struct db_attempt *ret)
{
    sqlite3_stmt *st;
    int r;

    if (!uuid_is_valid(attempt_uuid))
        return db_failf(db, -ENOENT, "no attempt with that UUID (not a UUID)");
    r = db_stmt(db, DB_STMT_ATTEMPT_GET_UUID, sql_get_uuid, &st);
    if (r < 0)
        return r;
    sqlite3_bind_text(st, 1, attempt_uuid, UUID_STR_SIZE - 1, SQLITE_STATIC);
    return attempt_get_row(db, st, ret, attempt_uuid);
}

/* ---- list ---- */

enum {
    LIST_IMEI = 1 << 0,
    LIST_WORK_ORDER = 1 << 1,
    LIST_SLOT = 1 << 2,
    LIST_RESULT = 1 << 3,
    LIST_FROM = 1 << 4,
    LIST_TO = 1 << 5,
    LIST_ORDER_SHIFT = 6,
};

/* The query is composed from these fixed fragments only; values always go through ?N
 * parameters, whose numbers are the same in every shape. */
static const char *const list_cursor[] = {
    [DB_ORDER_ID_ASC] = " WHERE id > ?1",
    [DB_ORDER_ID_DESC] = " WHERE id < ?1",
    [DB_ORDER_FINISH_ASC] = " WHERE finish_seq > ?1",
    [DB_ORDER_FINISH_DESC] = " WHERE finish_seq < ?1",
};
static const char *const list_order[] = {
    [DB_ORDER_ID_ASC] = " ORDER BY id",
    [DB_ORDER_ID_DESC] = " ORDER BY id DESC",
    [DB_ORDER_FINISH_ASC] = " ORDER BY finish_seq",
    [DB_ORDER_FINISH_DESC] = " ORDER BY finish_seq DESC",
};
static const char *const list_filter[] = {
    " AND imei = ?3",   " AND work_order = ?4",     " AND slot = ?5",
    " AND result = ?6", " AND ended_unix_ms >= ?7", " AND ended_unix_ms < ?8",
};

static void attempt_list_sql(unsigned shape, char *buf, size_t size)
{
    unsigned order = shape >> LIST_ORDER_SHIFT;
    size_t o;

    o = (size_t)snprintf(buf, size, "SELECT " ATTEMPT_COLUMNS " FROM attempts%s",
                         list_cursor[order]);
    for (unsigned i = 0; i < sizeof(list_filter) / sizeof(list_filter[0]); i++)
        if (shape & (1u << i))
            o += (size_t)snprintf(buf + o, size - o, "%s", list_filter[i]);
    snprintf(buf + o, size - o, "%s LIMIT ?2", list_order[order]);
}

struct attempt_list_ctx {
    int (*cb)(const struct db_attempt *a, void *userdata);
    void *userdata;
    struct db_attempt row;
};

static int attempt_list_row(sqlite3_stmt *st, void *ctx)
{
    struct attempt_list_ctx *c = ctx;

    attempt_from_row(st, &c->row);
    return c->cb(&c->row, c->userdata);
}

static bool is_set(const char *s)
{
    return s && *s;
}

int db_attempts_list(struct db *db, const struct db_attempt_filter *filter, int64_t cursor,
                     int limit, int (*cb)(const struct db_attempt *a, void *userdata),
                     void *userdata)
{
    static const struct db_attempt_filter all = {0};
    const struct db_attempt_filter *f = filter ? filter : &all;
    struct attempt_list_ctx ctx = {.cb = cb, .userdata = userdata};
    char sql[sizeof(ATTEMPT_COLUMNS) + 512];
    unsigned shape = 0;
    sqlite3_stmt *st;
    int r;

    r = db_check_list_args(db, limit, cb != NULL);
    if (r < 0)
        return r;
    if ((unsigned)f->order > DB_ORDER_FINISH_DESC || cursor < 0 ||
        (unsigned)f->result > DB_RESULT_ABORTED)
        return db_failf(db, -EINVAL, "bad attempt filter (order %d, result %d, cursor %lld)",
                        (int)f->order, (int)f->result, (long long)cursor);
    shape |= is_set(f->imei) ? LIST_IMEI : 0;
    shape |= is_set(f->work_order) ? LIST_WORK_ORDER : 0;
    shape |= is_set(f->slot) ? LIST_SLOT : 0;
    shape |= f->result != DB_RESULT_ANY ? LIST_RESULT : 0;
    shape |= f->from_unix_ms ? LIST_FROM : 0;
    shape |= f->to_unix_ms ? LIST_TO : 0;
    shape |= (unsigned)f->order << LIST_ORDER_SHIFT;

    if (!db->attempt_list[shape])
        attempt_list_sql(shape, sql, sizeof(sql));
    r = db_stmt_cached(db, &db->attempt_list[shape], sql, &st);
    if (r < 0)
        return r;
    /* Descending from "the start" means from the newest. */
    if (cursor == 0 && (f->order == DB_ORDER_ID_DESC || f->order == DB_ORDER_FINISH_DESC))
        cursor = INT64_MAX;
    sqlite3_bind_int64(st, 1, cursor);
    sqlite3_bind_int(st, 2, limit);
    if (shape & LIST_IMEI)
        r = db_bind_text_or_null(db, st, 3, f->imei, DB_DETAIL_SIZE, "filter.imei");
    if (r == 0 && (shape & LIST_WORK_ORDER))
        r = db_bind_text_or_null(db, st, 4, f->work_order, DB_DETAIL_SIZE, "filter.work_order");
    if (r == 0 && (shape & LIST_SLOT))
        r = db_bind_text_or_null(db, st, 5, f->slot, DB_DETAIL_SIZE, "filter.slot");
    if (r == 0 && (shape & LIST_RESULT))
        sqlite3_bind_text(st, 6, db_results[f->result], -1, SQLITE_STATIC);
    if (r == 0 && (shape & LIST_FROM))
        r = db_bind_u64(db, st, 7, f->from_unix_ms, "filter.from_unix_ms");
    if (r == 0 && (shape & LIST_TO))
        r = db_bind_u64(db, st, 8, f->to_unix_ms, "filter.to_unix_ms");
    if (r < 0) {
        db_stmt_done(st);
        return r;
    }
    return db_rows(db, st, attempt_list_row, &ctx, "list attempts");
}
