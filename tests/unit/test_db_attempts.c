/* Attempt records: lifecycle, exactly-once finish, crash recovery, attempt numbering per
 * IMEI, filters and cursors (checked against a brute-force oracle), string limits. */
#include "db_testutil.h"

#include "uuid.h"

#include <errno.h>

static struct db *setup_db(void **state)
{
    struct tdir *t = *state;

    return open_ok(t->path);
}

static void attempt_init(struct db_attempt *a, const char *slot, const char *imei, uint64_t t)
{
    memset(a, 0, sizeof(*a));
    snprintf(a->station_id, sizeof(a->station_id), "st1");
    snprintf(a->slot, sizeof(a->slot), "%s", slot);
    snprintf(a->usb_path, sizeof(a->usb_path), "1-4.%s", slot);
    snprintf(a->imei, sizeof(a->imei), "%s", imei);
    snprintf(a->module_model, sizeof(a->module_model), "EC800M");
    snprintf(a->package_name, sizeof(a->package_name), "fw.zip");
    a->started_unix_ms = t;
}

static int64_t begin_ok(struct db *db, struct db_attempt *a)
{
    int64_t id = 0;
    int r = db_attempt_begin(db, a, &id);

    if (r != 0)
        fail_msg("db_attempt_begin = %d: %s", r, db_last_error(db));
    assert_true(id > 0);
    assert_int_equal(a->id, id);
    return id;
}

static void finish_ok(struct db *db, struct db_attempt *a, enum db_result res, uint64_t end)
{
    int r;

    a->result = res;
    a->ended_unix_ms = end;
    a->duration_ms = end - a->started_unix_ms;
    r = db_attempt_finish(db, a);
    if (r != 0)
        fail_msg("db_attempt_finish(%lld) = %d: %s", (long long)a->id, r, db_last_error(db));
}

static void test_lifecycle(void **state)
{
    struct db *db = setup_db(state);
    struct db_attempt a, b, got;

    attempt_init(&a, "A1", "", 1000);
    snprintf(a.revision_before, sizeof(a.revision_before), "EC800MCNGAR01A01");
    snprintf(a.log_ref, sizeof(a.log_ref), "logs/1.log");
    begin_ok(db, &a);
    assert_true(uuid_is_valid(a.attempt_uuid));
    assert_int_equal(a.attempt_uuid[14], '4');
    assert_int_equal(a.attempt_no, 1);
    assert_int_equal(a.result, DB_RESULT_RUNNING);

    assert_int_equal(db_attempt_get(db, a.id, &got), 0);
    assert_string_equal(got.attempt_uuid, a.attempt_uuid);
    assert_int_equal(got.result, DB_RESULT_RUNNING);
    assert_int_equal(got.ended_unix_ms, 0);
    assert_int_equal(got.finish_seq, 0);
    assert_string_equal(got.mes_state, "none");
    assert_string_equal(got.revision_before, "EC800MCNGAR01A01");
    assert_string_equal(got.usb_path, "1-4.A1");

    /* Late identity arrives with the finish; an empty field keeps the stored value. */
    snprintf(a.imei, sizeof(a.imei), "861234567890123");
    snprintf(a.ordering_code, sizeof(a.ordering_code), "EC800MCNGA-I05-SGNSA");
    snprintf(a.revision_after, sizeof(a.revision_after), "EC800MCNGAR06A01");
    a.module_model[0] = '\0';
    a.log_ref[0] = '\0';
    a.bytes_written = 7340032;
    finish_ok(db, &a, DB_RESULT_PASS, 61000);
    assert_int_equal(a.finish_seq, 1);
    assert_int_equal(a.attempt_no, 1);

    assert_int_equal(db_attempt_get(db, a.id, &got), 0);
    assert_int_equal(got.result, DB_RESULT_PASS);
    assert_int_equal(got.ended_unix_ms, 61000);
    assert_int_equal(got.duration_ms, 60000);
    assert_int_equal(got.bytes_written, 7340032);
    assert_string_equal(got.imei, "861234567890123");
    assert_string_equal(got.ordering_code, "EC800MCNGA-I05-SGNSA");
    assert_string_equal(got.module_model, "EC800M");
    assert_string_equal(got.log_ref, "logs/1.log");
    assert_string_equal(got.revision_after, "EC800MCNGAR06A01");
    assert_int_equal(got.finish_seq, 1);

    /* Exactly once: a second finish fails and changes nothing. */
    b = a;
    b.result = DB_RESULT_FAIL;
    snprintf(b.fail_code, sizeof(b.fail_code), "timeout");
    assert_int_equal(db_attempt_finish(db, &b), -EALREADY);
    assert_non_null(strstr(db_last_error(db), "finished already (pass)"));
    assert_int_equal(db_attempt_get(db, a.id, &got), 0);
    assert_int_equal(got.result, DB_RESULT_PASS);
    assert_string_equal(got.fail_code, "");

    b.id = 999;
    assert_int_equal(db_attempt_finish(db, &b), -ENOENT);
    b.id = a.id;
    b.result = DB_RESULT_RUNNING;
    assert_int_equal(db_attempt_finish(db, &b), -EINVAL);
    b.result = DB_RESULT_ANY;
    assert_int_equal(db_attempt_finish(db, &b), -EINVAL);
    b.result = DB_RESULT_PASS;
    b.ended_unix_ms = 0;
    assert_int_equal(db_attempt_finish(db, &b), -EINVAL);
    assert_int_equal(db_attempt_get(db, 4242, &got), -ENOENT);

    /* The MES state may change on a finished record; nothing else may. */
    assert_int_equal(db_attempt_set_mes_state(db, a.id, "sent"), 0);
    assert_int_equal(db_attempt_get(db, a.id, &got), 0);
    assert_string_equal(got.mes_state, "sent");
    assert_int_equal(db_attempt_set_mes_state(db, 4242, "sent"), -ENOENT);
    assert_int_equal(db_attempt_set_mes_state(db, a.id, ""), -EINVAL);
    db_close(db);
}

static void test_uuid_given(void **state)
{
    struct db *db = setup_db(state);
    struct db_attempt a, b, got;

    attempt_init(&a, "A1", "", 10);
    snprintf(a.attempt_uuid, sizeof(a.attempt_uuid), "6F1C1E54-9D7E-4A51-8B1E-2D2B7F6A9C01");
    begin_ok(db, &a);
    assert_string_equal(a.attempt_uuid, "6f1c1e54-9d7e-4a51-8b1e-2d2b7f6a9c01");
    assert_int_equal(db_attempt_get_by_uuid(db, "6f1c1e54-9d7e-4a51-8b1e-2d2b7f6a9c01", &got), 0);
    assert_int_equal(got.id, a.id);
    assert_int_equal(db_attempt_get_by_uuid(db, "6F1C1E54-9D7E-4A51-8B1E-2D2B7F6A9C01", &got), 0);
    assert_int_equal(db_attempt_get_by_uuid(db, "6f1c1e54-9d7e-4a51-8b1e-2d2b7f6a9c02", &got),
                     -ENOENT);
    assert_int_equal(db_attempt_get_by_uuid(db, "nope", &got), -ENOENT);

    /* The same key twice (either spelling) is a duplicate. */
    attempt_init(&b, "A2", "", 20);
    snprintf(b.attempt_uuid, sizeof(b.attempt_uuid), "6f1c1e54-9d7e-4a51-8b1e-2d2b7f6a9c01");
    assert_int_equal(db_attempt_begin(db, &b, NULL), -EEXIST);
    assert_non_null(strstr(db_last_error(db), "exists already"));
    snprintf(b.attempt_uuid, sizeof(b.attempt_uuid), "not-a-uuid");
    assert_int_equal(db_attempt_begin(db, &b, NULL), -EINVAL);
    b.attempt_uuid[0] = '\0';
    b.started_unix_ms = 0;
    assert_int_equal(db_attempt_begin(db, &b, NULL), -EINVAL);
    db_close(db);
}

static void test_attempt_no_per_imei(void **state)
{
    struct db *db = setup_db(state);
    struct db_attempt a[6], got;
    int no = 0;

    for (int i = 0; i < 3; i++) {
        attempt_init(&a[i], "A1", "861234567890123", 100 + (uint64_t)i);
        begin_ok(db, &a[i]);
        assert_int_equal(a[i].attempt_no, i + 1);
        finish_ok(db, &a[i], i == 2 ? DB_RESULT_PASS : DB_RESULT_FAIL, 200 + (uint64_t)i);
    }
    attempt_init(&a[3], "A2", "869999999999999", 300);
    begin_ok(db, &a[3]);
    assert_int_equal(a[3].attempt_no, 1);

    /* IMEI unknown at begin (module arrived in download mode), known later. */
    attempt_init(&a[4], "A3", "", 400);
    begin_ok(db, &a[4]);
    assert_int_equal(a[4].attempt_no, 1);
    assert_int_equal(db_attempt_set_imei(db, a[4].id, "861234567890123", &no), 0);
    assert_int_equal(no, 4);
    assert_int_equal(db_attempt_get(db, a[4].id, &got), 0);
    assert_string_equal(got.imei, "861234567890123");
    assert_int_equal(got.attempt_no, 4);
    /* Corrected again: recounted for the new IMEI. */
    assert_int_equal(db_attempt_set_imei(db, a[4].id, "869999999999999", &no), 0);
    assert_int_equal(no, 2);

    /* An IMEI learnt only at finish recounts as well. */
    attempt_init(&a[5], "A4", "", 500);
    begin_ok(db, &a[5]);
    snprintf(a[5].imei, sizeof(a[5].imei), "861234567890123");
    finish_ok(db, &a[5], DB_RESULT_PASS, 600);
    assert_int_equal(a[5].attempt_no, 4);

    assert_int_equal(db_attempt_set_imei(db, a[0].id, "1", NULL), -EALREADY);
    assert_int_equal(db_attempt_set_imei(db, 4242, "1", NULL), -ENOENT);
    assert_int_equal(db_attempt_set_imei(db, a[3].id, "", NULL), -EINVAL);
    assert_int_equal(db_attempt_set_imei(db, a[3].id, "123456789012345678901234", NULL), -E2BIG);
    db_close(db);
}

static void test_abort_running(void **state)
{
    struct db *db = setup_db(state);
    struct db_attempt a[4], got;
    int64_t seq_seen[4] = {0};

    for (int i = 0; i < 4; i++) {
        attempt_init(&a[i], "A1", "", 1000 * (uint64_t)(i + 1));
        begin_ok(db, &a[i]);
    }
    finish_ok(db, &a[1], DB_RESULT_PASS, 2500);

    /* Inside a caller's transaction, rolled back: nothing happened. */
    assert_int_equal(db_begin(db), 0);
    assert_int_equal(db_attempts_abort_running(db, "restart", 9000), 3);
    assert_int_equal(db_rollback(db), 0);
    assert_int_equal(db_attempt_get(db, a[0].id, &got), 0);
    assert_int_equal(got.result, DB_RESULT_RUNNING);

    assert_int_equal(db_attempts_abort_running(db, "daemon restarted after a crash", 3500), 3);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(db_attempt_get(db, a[i].id, &got), 0);
        seq_seen[i] = got.finish_seq;
        if (i == 1) {
            assert_int_equal(got.result, DB_RESULT_PASS);
            assert_string_equal(got.fail_code, "");
            continue;
        }
        assert_int_equal(got.result, DB_RESULT_ABORTED);
        assert_string_equal(got.fail_code, "aborted");
        assert_string_equal(got.fail_stage, "daemon");
        assert_string_equal(got.fail_message, "daemon restarted after a crash");
        assert_int_equal(got.ended_unix_ms, 3500);
        /* started after "now" (clock stepped back): duration clamps at 0 */
        assert_int_equal(got.duration_ms,
                         a[i].started_unix_ms > 3500 ? 0 : 3500 - a[i].started_unix_ms);
    }
    /* Each got its own place in finish order, after the one finished before. */
    assert_int_equal(seq_seen[1], 1);
    assert_int_equal(seq_seen[0], 2);
    assert_int_equal(seq_seen[2], 3);
    assert_int_equal(seq_seen[3], 4);
    assert_int_equal(db_attempts_abort_running(db, NULL, 4000), 0);
    a[0].result = DB_RESULT_PASS; /* the slot finishing after the restart: too late */
    a[0].ended_unix_ms = 5000;
    assert_int_equal(db_attempt_finish(db, &a[0]), -EALREADY);
    db_close(db);
}

/* ---- filters and cursors against an oracle ---- */

#define N_ATT 60
static const char *const imeis[] = {"", "861111111111111", "862222222222222", "863333333333333"};
static const char *const orders[] = {"", "WO-1", "WO-2"};
static const char *const slots[] = {"A1", "A2", "B1", "B2", "C1"};

struct oracle {
    struct db_attempt a[N_ATT];
};

static void build(struct db *db, struct oracle *o)
{
    /* Begin everything first and finish in a shuffled order, so id order and finish order
     * differ; every 7th stays running. */
    for (int i = 0; i < N_ATT; i++) {
        struct db_attempt *a = &o->a[i];
        attempt_init(a, slots[i % 5], imeis[(i / 2) % 4], 1000 + (uint64_t)i * 10);
        snprintf(a->work_order, sizeof(a->work_order), "%s", orders[i % 3]);
        begin_ok(db, a);
    }
    for (int k = 0; k < N_ATT; k++) {
        int i = (k * 37) % N_ATT;
        struct db_attempt *a = &o->a[i];
        if (i % 7 == 3)
            continue;
        finish_ok(db, a, (enum db_result)(DB_RESULT_PASS + i % 3), 5000 + (uint64_t)k * 100);
    }
}

static bool matches(const struct db_attempt *a, const struct db_attempt_filter *f)
{
    bool finish_order = f->order == DB_ORDER_FINISH_ASC || f->order == DB_ORDER_FINISH_DESC;

    if (f->imei && *f->imei && strcmp(a->imei, f->imei) != 0)
        return false;
    if (f->work_order && *f->work_order && strcmp(a->work_order, f->work_order) != 0)
        return false;
    if (f->slot && *f->slot && strcmp(a->slot, f->slot) != 0)
        return false;
    if (f->result != DB_RESULT_ANY && a->result != f->result)
        return false;
    if (f->from_unix_ms && (a->result == DB_RESULT_RUNNING || a->ended_unix_ms < f->from_unix_ms))
        return false;
    if (f->to_unix_ms && (a->result == DB_RESULT_RUNNING || a->ended_unix_ms >= f->to_unix_ms))
        return false;
    if (finish_order && a->result == DB_RESULT_RUNNING)
        return false;
    return true;
}

static int64_t key(const struct db_attempt *a, enum db_attempt_order order)
{
    return order == DB_ORDER_FINISH_ASC || order == DB_ORDER_FINISH_DESC ? a->finish_seq : a->id;
}

/* Expected ids in list order. */
static int expect(const struct oracle *o, const struct db_attempt_filter *f, int64_t *ids)
{
    bool desc = f->order == DB_ORDER_ID_DESC || f->order == DB_ORDER_FINISH_DESC;
    const struct db_attempt *m[N_ATT];
    int n = 0;

    for (int i = 0; i < N_ATT; i++)
        if (matches(&o->a[i], f))
            m[n++] = &o->a[i];
    for (int i = 1; i < n; i++) /* insertion sort by the order's key */
        for (int j = i; j > 0; j--) {
            int64_t kx = key(m[j - 1], f->order), ky = key(m[j], f->order);
            if (desc ? kx > ky : kx < ky)
                break;
            const struct db_attempt *tmp = m[j];
            m[j] = m[j - 1];
            m[j - 1] = tmp;
        }
    for (int i = 0; i < n; i++)
        ids[i] = m[i]->id;
    return n;
}

struct page {
    int64_t ids[N_ATT + 1];
    int n;
    int64_t last_key;
    enum db_attempt_order order;
};

static int collect(const struct db_attempt *a, void *userdata)
{
    struct page *p = userdata;

    assert_true(p->n < N_ATT);
    p->ids[p->n++] = a->id;
    p->last_key = key(a, p->order);
    return 0;
}

static void test_filters_and_cursors(void **state)
{
    struct db *db = setup_db(state);
    static struct oracle o;
    int checked = 0;

    build(db, &o);
    for (int i = 0; i < N_ATT; i++) /* the oracle needs finish_seq and results as stored */
        assert_int_equal(db_attempt_get(db, o.a[i].id, &o.a[i]), 0);

    for (unsigned combo = 0; combo < 4 * 3 * 2 * 5 * 2 * 4; combo++) {
        unsigned c = combo;
        struct db_attempt_filter f = {0};
        int64_t want[N_ATT];
        int nwant;

        f.order = (enum db_attempt_order)(c % 4);
        c /= 4;
        f.work_order = orders[c % 3];
        c /= 3;
        f.imei = c % 2 ? imeis[1 + (combo / 7) % 3] : NULL;
        c /= 2;
        f.result = (enum db_result)(c % 5);
        c /= 5;
        f.slot = c % 2 ? slots[(combo / 3) % 5] : "";
        c /= 2;
        if (c & 1) /* c: 0 no time bound, 1 from, 2 to, 3 both */
            f.from_unix_ms = 5000 + (combo % 11) * 300;
        if (c & 2)
            f.to_unix_ms = 5000 + (combo % 13) * 300 + 2500;
        nwant = expect(&o, &f, want);

        /* Pages of 4, each continuing from the key of the last row seen. */
        for (int limit = 4; limit <= 100; limit += 96) {
            struct page p = {.order = f.order};
            int64_t cursor = 0;
            for (;;) {
                int before = p.n;
                int r = db_attempts_list(db, &f, cursor, limit, collect, &p);
                if (r < 0)
                    fail_msg("list: %d %s", r, db_last_error(db));
                assert_int_equal(r, p.n - before);
                if (r < limit)
                    break;
                cursor = p.last_key;
            }
            assert_int_equal(p.n, nwant);
            for (int i = 0; i < nwant; i++)
                assert_int_equal(p.ids[i], want[i]);
        }
        checked += nwant;
    }
    assert_true(checked > 1000); /* the combinations are not all empty */

    /* Bad filters. */
    {
        struct db_attempt_filter f = {.order = (enum db_attempt_order)9};
        struct page p = {0};
        assert_int_equal(db_attempts_list(db, &f, 0, 10, collect, &p), -EINVAL);
        f.order = DB_ORDER_ID_ASC;
        assert_int_equal(db_attempts_list(db, &f, -1, 10, collect, &p), -EINVAL);
        assert_int_equal(db_attempts_list(db, &f, 0, 0, collect, &p), -EINVAL);
        assert_int_equal(db_attempts_list(db, &f, 0, 10, NULL, NULL), -EINVAL);
        f.result = (enum db_result)77;
        assert_int_equal(db_attempts_list(db, &f, 0, 10, collect, &p), -EINVAL);
    }
    db_close(db);
}

/* The MES pager: paging on finish order never misses a slow attempt with a small id. */
static void test_finish_order_cursor(void **state)
{
    struct db *db = setup_db(state);
    struct db_attempt slow, fast;
    struct db_attempt_filter f = {.order = DB_ORDER_FINISH_ASC};
    struct page p = {.order = DB_ORDER_FINISH_ASC};

    attempt_init(&slow, "A1", "", 100);
    attempt_init(&fast, "A2", "", 110);
    begin_ok(db, &slow);
    begin_ok(db, &fast);
    finish_ok(db, &fast, DB_RESULT_PASS, 200);
    assert_int_equal(db_attempts_list(db, &f, 0, 10, collect, &p), 1);
    assert_int_equal(p.ids[0], fast.id);
    finish_ok(db, &slow, DB_RESULT_FAIL, 300);
    assert_int_equal(db_attempts_list(db, &f, p.last_key, 10, collect, &p), 1);
    assert_int_equal(p.ids[1], slow.id);
    db_close(db);
}

struct stopper {
    struct db *db;
    int seen;
    int mode; /* 0 stop after 2, 1 fail after 1, 2 re-enter */
    int inner;
};

static int stopper_cb(const struct db_attempt *a, void *userdata)
{
    struct stopper *s = userdata;
    struct page p = {0};
    struct db_attempt got;

    s->seen++;
    if (s->mode == 0)
        return s->seen == 2 ? 1 : 0;
    if (s->mode == 1)
        return -42;
    /* Same shape: refused. Other queries work. */
    assert_int_equal(db_attempts_list(s->db, NULL, 0, 10, collect, &p), -EDEADLK);
    assert_int_equal(db_attempt_get(s->db, a->id, &got), 0);
    s->inner += db_attempts_list(s->db, &(struct db_attempt_filter){.order = DB_ORDER_ID_DESC}, 0,
                                 10, collect, &p);
    return 0;
}

static void test_callback_control(void **state)
{
    struct db *db = setup_db(state);
    struct stopper s = {.db = db};
    struct db_attempt a;

    for (int i = 0; i < 5; i++) {
        attempt_init(&a, "A1", "", 10 + (uint64_t)i);
        begin_ok(db, &a);
    }
    assert_int_equal(db_attempts_list(db, NULL, 0, 10, stopper_cb, &s), 2);
    s.seen = 0;
    s.mode = 1;
    assert_int_equal(db_attempts_list(db, NULL, 0, 10, stopper_cb, &s), -42);
    s.seen = 0;
    s.mode = 2;
    assert_int_equal(db_attempts_list(db, NULL, 0, 10, stopper_cb, &s), 5);
    assert_int_equal(s.inner, 25);
    /* The statement was reset each time: a writer is not held back by a pinned reader. */
    assert_int_equal(db_attempts_abort_running(db, "x", 100), 5);
    db_close(db);
}

static void test_strings(void **state)
{
    struct tdir *t = *state;
    struct db *db = setup_db(state);
    struct db_attempt a, got;
    char buf[8];
    sqlite3 *c;

    attempt_init(&a, "A1", "", 10);
    memset(a.work_order, 'x', sizeof(a.work_order)); /* no NUL */
    assert_int_equal(db_attempt_begin(db, &a, NULL), -E2BIG);
    assert_non_null(strstr(db_last_error(db), "attempt.work_order"));
    snprintf(a.work_order, sizeof(a.work_order), "WO-\xff\xfe");
    assert_int_equal(db_attempt_begin(db, &a, NULL), -EILSEQ);
    assert_non_null(strstr(db_last_error(db), "attempt.work_order"));
    /* The way to fill from untrusted text. */
    assert_int_equal(db_field_set(a.work_order, sizeof(a.work_order), "WO-\xff\x01\xe5\xb7\xa5"),
                     0);
    assert_string_equal(a.work_order, "WO-??\xe5\xb7\xa5");
    begin_ok(db, &a);

    /* db_field_set cuts at a character boundary: "ab" + 3-byte char does not fit in 4. */
    assert_int_equal(db_field_set(buf, 5, "ab\xe5\xb7\xa5"), -E2BIG);
    assert_string_equal(buf, "ab");
    assert_int_equal(db_field_set(buf, 6, "ab\xe5\xb7\xa5"), 0);
    assert_string_equal(buf, "ab\xe5\xb7\xa5");
    assert_int_equal(db_field_set(buf, sizeof(buf), NULL), 0);
    assert_string_equal(buf, "");
    assert_int_equal(db_field_set(buf, sizeof(buf), "\xed\xa0\x80\xc0\xaf"),
                     0); /* surrogate, overlong */
    assert_string_equal(buf, "?????");

    /* A value too long for its array (written by another tool) is cut on read, at a
     * character boundary: 62 'a' + a 3-byte character do not fit in 63 bytes. */
    c = raw_open(t->path);
    raw_exec_ok(
        c, "UPDATE attempts SET slot = replace(hex(zeroblob(31)), '0', 'a') || char(24037) || 'zz'"
           " WHERE result = 'running'");
    sqlite3_close(c);
    assert_int_equal(db_attempt_get(db, a.id, &got), 0);
    assert_int_equal(strlen(got.slot), 62);
    assert_int_equal(got.slot[61], 'a');
    db_close(db);
}

/* Finished records cannot be changed or deleted, not even with the sqlite3 CLI. */
static void test_records_are_final(void **state)
{
    struct tdir *t = *state;
    struct db *db = setup_db(state);
    struct db_attempt a;
    char err[256];
    sqlite3 *c;

    attempt_init(&a, "A1", "861234567890123", 10);
    begin_ok(db, &a);
    finish_ok(db, &a, DB_RESULT_FAIL, 20);
    c = raw_open(t->path);
    assert_int_not_equal(raw_exec(c, "UPDATE attempts SET result = 'pass'", err, sizeof(err)),
                         SQLITE_OK);
    assert_non_null(strstr(err, "cannot change"));
    assert_int_not_equal(raw_exec(c, "DELETE FROM attempts", err, sizeof(err)), SQLITE_OK);
    assert_non_null(strstr(err, "append-only"));
    raw_exec_ok(c, "UPDATE attempts SET mes_state = 'acked'");
    sqlite3_close(c);

    /* A transaction holding an attempt rolls it back entirely. */
    assert_int_equal(db_begin(db), 0);
    attempt_init(&a, "A2", "", 30);
    begin_ok(db, &a);
    finish_ok(db, &a, DB_RESULT_PASS, 40);
    assert_int_equal(db_rollback(db), 0);
    assert_int_equal(db_attempt_get(db, a.id, &a), -ENOENT);
    db_close(db);
}

static void test_result_strings(void **state)
{
    (void)state;
    for (int r = DB_RESULT_RUNNING; r <= DB_RESULT_ABORTED; r++)
        assert_int_equal(db_result_from_string(db_result_to_string((enum db_result)r)), r);
    assert_string_equal(db_result_to_string(DB_RESULT_ANY), "any");
    assert_null(db_result_to_string((enum db_result)99));
    assert_int_equal(db_result_from_string("any"), -EINVAL);
    assert_int_equal(db_result_from_string("PASS"), -EINVAL);
    assert_int_equal(db_result_from_string(NULL), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lifecycle, tdir_setup, tdir_teardown),
        cmocka_unit_test_setup_teardown(test_uuid_given, tdir_setup, tdir_teardown),
        cmocka_unit_test_setup_teardown(test_attempt_no_per_imei, tdir_setup, tdir_teardown),
        cmocka_unit_test_setup_teardown(test_abort_running, tdir_setup, tdir_teardown),
        cmocka_unit_test_setup_teardown(test_filters_and_cursors, tdir_setup, tdir_teardown),
        cmocka_unit_test_setup_teardown(test_finish_order_cursor, tdir_setup, tdir_teardown),
        cmocka_unit_test_setup_teardown(test_callback_control, tdir_setup, tdir_teardown),
        cmocka_unit_test_setup_teardown(test_strings, tdir_setup, tdir_teardown),
        cmocka_unit_test_setup_teardown(test_records_are_final, tdir_setup, tdir_teardown),
        cmocka_unit_test(test_result_strings),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
