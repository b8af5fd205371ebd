/* The MES outbox at the database level: a finished attempt is queued in the same statement
 * that makes it final (never one without the other, even across a rollback or a SIGKILL),
 * due rows come out in retry order, tries and errors are recorded, delivery marks the
 * attempt, and nothing is lost across a reopen. */
#include "db_testutil.h"

#include "db_outbox.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>

static struct db *setup_db(void **state)
{
    struct tdir *t = *state;

    return open_ok(t->path);
}

static int64_t begin_ok(struct db *db, const char *slot, uint64_t t)
{
    struct db_attempt a = {.started_unix_ms = t};
    int r;

    snprintf(a.slot, sizeof(a.slot), "%s", slot);
    r = db_attempt_begin(db, &a, NULL);
    if (r != 0)
        fail_msg("db_attempt_begin = %d: %s", r, db_last_error(db));
    return a.id;
}

static int finish(struct db *db, int64_t id, enum db_result res, uint64_t end)
{
    struct db_attempt a = {.id = id, .result = res, .ended_unix_ms = end};

    return db_attempt_finish(db, &a);
}

static void expect_pending(struct db *db, int64_t id, uint64_t queued)
{
    struct db_outbox_entry e;
    struct db_attempt a;

    assert_int_equal(db_outbox_get(db, id, &e), 0);
    assert_int_equal(e.attempt_id, id);
    assert_int_equal(e.state, DB_OUTBOX_PENDING);
    assert_int_equal(e.tries, 0);
    assert_int_equal(e.queued_unix_ms, queued);
    assert_int_equal(e.next_try_unix_ms, 0);
    assert_int_equal(db_attempt_get(db, id, &a), 0);
    assert_string_equal(a.mes_state, "pending");
}

static void test_finish_queues(void **state)
{
    struct db *db = setup_db(state);
    struct db_outbox_entry e;
    int64_t a = begin_ok(db, "A1", 1000), b = begin_ok(db, "A2", 1100);
    int64_t pending = -1;

    /* Running attempts are not queued. */
    assert_int_equal(db_outbox_get(db, a, &e), -ENOENT);
    assert_non_null(strstr(db_last_error(db), "not in the MES outbox"));
    assert_int_equal(finish(db, a, DB_RESULT_PASS, 5000), 0);
    expect_pending(db, a, 5000);
    assert_int_equal(finish(db, b, DB_RESULT_FAIL, 6000), 0);
    expect_pending(db, b, 6000);
    /* A second finish changes nothing and queues nothing twice. */
    assert_int_equal(finish(db, a, DB_RESULT_FAIL, 7000), -EALREADY);
    assert_int_equal(db_outbox_counts(db, &pending, NULL, NULL), 0);
    assert_int_equal(pending, 2);
    db_close(db);
}

static void test_rolled_back_finish_queues_nothing(void **state)
{
    struct db *db = setup_db(state);
    struct db_outbox_entry e;
    struct db_attempt a;
    int64_t id = begin_ok(db, "A1", 1000);

    assert_int_equal(db_begin(db), 0);
    assert_int_equal(finish(db, id, DB_RESULT_PASS, 2000), 0);
    assert_int_equal(db_outbox_get(db, id, &e), 0);
    assert_int_equal(db_rollback(db), 0);
    assert_int_equal(db_outbox_get(db, id, &e), -ENOENT);
    assert_int_equal(db_attempt_get(db, id, &a), 0);
    assert_int_equal(a.result, DB_RESULT_RUNNING);
    db_close(db);
}

/* The queueing is part of the finishing statement: when the outbox insert fails (here a row
 * for the attempt is there already, put in by hand), the attempt does not become final. */
static void test_failed_queueing_fails_the_finish(void **state)
{
    struct tdir *t = *state;
    struct db *db = setup_db(state);
    struct db_attempt a;
    int64_t id = begin_ok(db, "A1", 1000);
    char sql[128];
    sqlite3 *c = raw_open(t->path);

    snprintf(sql, sizeof(sql),
             "INSERT INTO mes_outbox (attempt_id, queued_unix_ms) VALUES (%lld, 1)", (long long)id);
    raw_exec_ok(c, sql);
    sqlite3_close(c);
    assert_int_equal(finish(db, id, DB_RESULT_PASS, 2000), -EEXIST);
    assert_int_equal(db_attempt_get(db, id, &a), 0);
    assert_int_equal(a.result, DB_RESULT_RUNNING);
    assert_int_equal(a.finish_seq, 0);
    db_close(db);
}

static void test_abort_running_queues(void **state)
{
    struct db *db = setup_db(state);
    int64_t a = begin_ok(db, "A1", 1000), b = begin_ok(db, "A2", 1000);

    assert_int_equal(db_attempts_abort_running(db, "restarted", 9000), 2);
    expect_pending(db, a, 9000);
    expect_pending(db, b, 9000);
    db_close(db);
}

struct collect {
    int64_t ids[16];
    int n;
};

static int collect_due(const struct db_outbox_entry *e, void *userdata)
{
    struct collect *c = userdata;

    assert_int_equal(e->state, DB_OUTBOX_PENDING);
    c->ids[c->n++] = e->attempt_id;
    return 0;
}

static void test_due_order_and_retry(void **state)
{
    struct db *db = setup_db(state);
    int64_t id[4];
    struct collect c = {0};
    struct db_outbox_entry e;
    uint64_t next = 0;
    uint32_t tries = 0;

    for (int i = 0; i < 4; i++) {
        id[i] = begin_ok(db, "A1", 1000 + (uint64_t)i);
        assert_int_equal(finish(db, id[i], DB_RESULT_PASS, 2000 + (uint64_t)i), 0);
    }
    /* id[0] fails twice, id[1] once; bytes that are not UTF-8 are cleaned, not refused. */
    assert_int_equal(
        db_outbox_retry_later(db, id[0], 3000, 8000, 500, "HTTP 500: \xff oops", &tries), 0);
    assert_int_equal(tries, 1);
    assert_int_equal(db_outbox_retry_later(db, id[0], 8000, 20000, 0, "connection refused", &tries),
                     0);
    assert_int_equal(tries, 2);
    assert_int_equal(db_outbox_retry_later(db, id[1], 3000, 5000, 503, "HTTP 503", NULL), 0);
    assert_int_equal(db_outbox_get(db, id[0], &e), 0);
    assert_int_equal(e.tries, 2);
    assert_int_equal(e.next_try_unix_ms, 20000);
    assert_int_equal(e.last_try_unix_ms, 8000);
    assert_int_equal(e.last_status, 0);
    assert_string_equal(e.last_error, "connection refused");
    assert_int_equal(db_outbox_get(db, id[1], &e), 0);
    assert_string_equal(e.last_error, "HTTP 503");

    /* At 4000 the never-tried rows are due, in attempt order; the retries wait. */
    assert_int_equal(db_outbox_due(db, 4000, 10, collect_due, &c), 2);
    assert_int_equal(c.ids[0], id[2]);
    assert_int_equal(c.ids[1], id[3]);
    assert_int_equal(db_outbox_next_due(db, 4000, &next), 0);
    assert_int_equal(next, 5000);
    /* At 30000 all are due, earliest next_try first; the limit is honoured. */
    c.n = 0;
    assert_int_equal(db_outbox_due(db, 30000, 3, collect_due, &c), 3);
    assert_int_equal(c.ids[0], id[2]);
    assert_int_equal(c.ids[1], id[3]);
    assert_int_equal(c.ids[2], id[1]);
    assert_int_equal(db_outbox_next_due(db, 30000, &next), -ENOENT);
    assert_int_equal(db_outbox_due(db, 30000, 0, collect_due, &c), -EINVAL);
    assert_int_equal(db_outbox_retry_later(db, 999, 1, 2, 0, "x", NULL), -ENOENT);
    db_close(db);
}

static void test_delivered(void **state)
{
    struct db *db = setup_db(state);
    struct collect c = {0};
    struct db_outbox_entry e;
    struct db_attempt a;
    int64_t id = begin_ok(db, "A1", 1000), other = begin_ok(db, "A2", 1000);
    int64_t pending, delivered, failed;

    assert_int_equal(finish(db, id, DB_RESULT_FAIL, 2000), 0);
    assert_int_equal(finish(db, other, DB_RESULT_PASS, 2000), 0);
    assert_int_equal(db_outbox_retry_later(db, id, 2500, 2600, 500, "HTTP 500", NULL), 0);
    assert_int_equal(db_outbox_delivered(db, id, 3000, 409), 0);
    assert_int_equal(db_outbox_get(db, id, &e), 0);
    assert_int_equal(e.state, DB_OUTBOX_DELIVERED);
    assert_int_equal(e.tries, 2);
    assert_int_equal(e.last_status, 409);
    assert_int_equal(e.delivered_unix_ms, 3000);
    assert_string_equal(e.last_error, "");
    assert_int_equal(db_attempt_get(db, id, &a), 0);
    assert_string_equal(a.mes_state, "delivered");
    assert_int_equal(a.result, DB_RESULT_FAIL); /* the record itself is untouched */
    /* Once delivered, a row is neither due nor retried nor delivered again. */
    assert_int_equal(db_outbox_due(db, 99999, 10, collect_due, &c), 1);
    assert_int_equal(c.ids[0], other);
    assert_int_equal(db_outbox_delivered(db, id, 4000, 200), -EALREADY);
    assert_non_null(strstr(db_last_error(db), "delivered, not pending"));
    assert_int_equal(db_outbox_retry_later(db, id, 4000, 5000, 500, "x", NULL), -EALREADY);
    assert_int_equal(db_outbox_delivered(db, 12345, 4000, 200), -ENOENT);
    assert_int_equal(db_outbox_counts(db, &pending, &delivered, &failed), 0);
    assert_int_equal(pending, 1);
    assert_int_equal(delivered, 1);
    assert_int_equal(failed, 0);
    assert_string_equal(db_outbox_state_to_string(DB_OUTBOX_FAILED), "failed");
    assert_null(db_outbox_state_to_string(0));
    db_close(db);
}

/* A daemon killed with SIGKILL right after finishing attempts: the next open finds them
 * final and queued, and one in the middle of a send is still pending. */
static void test_survives_sigkill(void **state)
{
    struct tdir *t = *state;
    struct collect c = {0};
    struct db *db;
    int status;
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        struct db *child = NULL;
        if (db_open(t->path, &child, NULL, 0) < 0)
            _exit(2);
        for (int i = 0; i < 5; i++) {
            struct db_attempt a = {.started_unix_ms = 100};
            if (db_attempt_begin(child, &a, NULL) < 0)
                _exit(3);
            a.result = DB_RESULT_PASS;
            a.ended_unix_ms = 200 + (uint64_t)i;
            if (i < 4 && db_attempt_finish(child, &a) < 0)
                _exit(4);
        }
        if (db_outbox_delivered(child, 1, 300, 200) < 0)
            _exit(5);
        raise(SIGKILL);
        _exit(6);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    db = open_ok(t->path);
    assert_int_equal(db_attempts_abort_running(db, "restarted", 400), 1);
    assert_int_equal(db_outbox_due(db, 1000, 10, collect_due, &c), 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(c.ids[i], i + 2); /* 2, 3, 4 and the aborted 5 */
    db_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_finish_queues, tdir_setup, tdir_teardown),
        cmocka_unit_test_setup_teardown(test_rolled_back_finish_queues_nothing, tdir_setup,
                                        tdir_teardown),
        cmocka_unit_test_setup_teardown(test_failed_queueing_fails_the_finish, tdir_setup,
                                        tdir_teardown),
        cmocka_unit_test_setup_teardown(test_abort_running_queues, tdir_setup, tdir_teardown),
        cmocka_unit_test_setup_teardown(test_due_order_and_retry, tdir_setup, tdir_teardown),
        cmocka_unit_test_setup_teardown(test_delivered, tdir_setup, tdir_teardown),
        cmocka_unit_test_setup_teardown(test_survives_sigkill, tdir_setup, tdir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
