/* The line of modules waiting for a download place ([limits] max_jobs, daemon/flow_queue.c):
 * first come first served, nobody overtakes a waiting module, leaving keeps the others'
 * order, and the cap is read at each decision (a reload may lower or raise it). */
#include "flow_queue.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

static int slots[8]; /* stand-ins for the flow's slots: only their addresses matter */

static struct flow_queue *queue_new(void)
{
    struct flow_queue *q = calloc(1, sizeof(*q));
    assert_non_null(q);
    return q;
}

static void test_first_come_first_served(void **state)
{
    (void)state;
    struct flow_queue *q = queue_new();
    /* max_jobs = 1: the first module takes the place, the next ones wait in arrival order. */
    assert_true(flow_queue_may_start(q, 0, 1));
    assert_false(flow_queue_may_start(q, 1, 1));
    assert_int_equal(flow_queue_push(q, &slots[2]), 0);
    assert_int_equal(flow_queue_push(q, &slots[0]), 0);
    assert_int_equal(flow_queue_push(q, &slots[1]), 0);
    assert_int_equal(flow_queue_position(q, &slots[2]), 1);
    assert_int_equal(flow_queue_position(q, &slots[0]), 2);
    assert_int_equal(flow_queue_position(q, &slots[1]), 3);
    assert_int_equal(flow_queue_position(q, &slots[5]), 0);
    /* Every place held: nobody starts, nobody leaves the line. */
    assert_null(flow_queue_next(q, 1, 1));
    assert_int_equal(q->len, 3);
    /* A place frees: the one that waited longest goes, the others move up. */
    assert_ptr_equal(flow_queue_next(q, 0, 1), &slots[2]);
    assert_int_equal(flow_queue_position(q, &slots[0]), 1);
    assert_int_equal(flow_queue_position(q, &slots[2]), 0);
    /* A newcomer does not overtake the line even with a place free. */
    assert_false(flow_queue_may_start(q, 0, 1));
    assert_false(flow_queue_may_start(q, 0, 4));
    assert_ptr_equal(flow_queue_next(q, 0, 1), &slots[0]);
    assert_ptr_equal(flow_queue_next(q, 0, 1), &slots[1]);
    assert_null(flow_queue_next(q, 0, 1));
    assert_true(flow_queue_may_start(q, 0, 1));
    free(q);
}

static void test_leaving_the_line(void **state)
{
    (void)state;
    struct flow_queue *q = queue_new();
    for (int i = 0; i < 4; i++)
        assert_int_equal(flow_queue_push(q, &slots[i]), 0);
    /* Waiting already: its place in line is kept, not taken again at the end. */
    assert_int_equal(flow_queue_push(q, &slots[1]), -EEXIST);
    assert_int_equal(flow_queue_position(q, &slots[1]), 2);
    /* Unplugged (or aborted, paused) from the middle: the rest keep their order. */
    assert_int_equal(flow_queue_remove(q, &slots[1]), 0);
    assert_int_equal(flow_queue_remove(q, &slots[1]), -ENOENT);
    assert_int_equal(q->len, 3);
    assert_int_equal(flow_queue_position(q, &slots[2]), 2);
    /* ... from the end and the head. */
    assert_int_equal(flow_queue_remove(q, &slots[3]), 0);
    assert_int_equal(flow_queue_remove(q, &slots[0]), 0);
    assert_int_equal(flow_queue_position(q, &slots[2]), 1);
    /* A paused module that is resumed joins again at the end. */
    assert_int_equal(flow_queue_push(q, &slots[1]), 0);
    assert_ptr_equal(flow_queue_next(q, 0, 1), &slots[2]);
    assert_ptr_equal(flow_queue_next(q, 0, 1), &slots[1]);
    assert_int_equal(q->len, 0);
    assert_int_equal(flow_queue_remove(q, &slots[1]), -ENOENT);
    free(q);
}

static void test_cap_changes(void **state)
{
    (void)state;
    struct flow_queue *q = queue_new();
    for (int i = 0; i < 5; i++)
        assert_int_equal(flow_queue_push(q, &slots[i]), 0);
    /* Lowered below what is running (4 held, max now 2): nothing new starts ... */
    assert_null(flow_queue_next(q, 4, 2));
    assert_null(flow_queue_next(q, 2, 2));
    /* ... until enough places are free again. */
    assert_ptr_equal(flow_queue_next(q, 1, 2), &slots[0]);
    /* Raised (max 8, 2 held): the caller starts one per call until the line is empty. */
    size_t held = 2;
    void *who;
    while ((who = flow_queue_next(q, held, 8)) != NULL)
        held++;
    assert_int_equal(held, 6);
    assert_int_equal(q->len, 0);
    /* max 0 never comes from the config; it counts as one place, not none. */
    assert_true(flow_queue_may_start(q, 0, 0));
    assert_false(flow_queue_may_start(q, 1, 0));
    free(q);
}

static void test_full(void **state)
{
    (void)state;
    struct flow_queue *q = queue_new();
    static char many[FLOW_QUEUE_MAX + 1];
    for (size_t i = 0; i < FLOW_QUEUE_MAX; i++)
        assert_int_equal(flow_queue_push(q, &many[i]), 0);
    assert_int_equal(flow_queue_push(q, &many[FLOW_QUEUE_MAX]), -ENOSPC);
    assert_int_equal(flow_queue_position(q, &many[FLOW_QUEUE_MAX - 1]), FLOW_QUEUE_MAX);
    assert_ptr_equal(flow_queue_next(q, 0, 1024), &many[0]);
    assert_int_equal(flow_queue_push(q, &many[FLOW_QUEUE_MAX]), 0);
    assert_int_equal(flow_queue_position(q, &many[FLOW_QUEUE_MAX]), FLOW_QUEUE_MAX);
    free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_come_first_served),
        cmocka_unit_test(test_leaving_the_line),
        cmocka_unit_test(test_cap_changes),
        cmocka_unit_test(test_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
