/* The loop's lag probe and busy time (daemon/loop_health.c): bucket edges, and on a real loop
 * that a callback blocking the loop shows as lag and busy time. The blocking is done here on
 * purpose, so the checks are lower bounds that a slow machine only makes larger. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <time.h>
#include <uv.h>

#include "loop_health.h"

#define MS 1000000ull

static void test_buckets(void **state)
{
    (void)state;
    struct loop_health h = {0};
    loop_health_record(&h, 0);
    loop_health_record(&h, 1 * MS);     /* on the edge: "le 1 ms" */
    loop_health_record(&h, 1 * MS + 1); /* just over */
    loop_health_record(&h, 150 * MS);   /* le 200 ms */
    loop_health_record(&h, 7000 * MS);  /* over the last edge (5 s) */
    assert_int_equal(h.counts[0], 2);
    assert_int_equal(h.counts[1], 1);
    assert_int_equal(h.counts[7], 1);
    assert_int_equal(h.counts[LOOP_LAG_BUCKETS], 1);
    assert_int_equal(h.probes, 5);
    assert_int_equal(h.max_ns, 7000 * MS);
    assert_int_equal(h.sum_ns, 7152 * MS + 1);
    for (size_t b = 1; b < LOOP_LAG_BUCKETS; b++)
        assert_true(loop_lag_bucket_ms[b] > loop_lag_bucket_ms[b - 1]);
}

struct blocker {
    uv_timer_t block, stop;
    struct loop_health *h;
};

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static void on_block(uv_timer_t *t)
{
    (void)t;
    sleep_ms(120); /* a callback that holds the loop */
}

static void on_stop(uv_timer_t *t)
{
    struct blocker *b = t->data;
    uv_close((uv_handle_t *)&b->block, NULL);
    uv_close((uv_handle_t *)&b->stop, NULL);
    loop_health_close(b->h);
}

static void test_blocked_loop(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct loop_health h;
    assert_int_equal(loop_health_start(&h, &loop, 10), 0);
    struct blocker b = {.h = &h};
    uv_timer_init(&loop, &b.block);
    uv_timer_init(&loop, &b.stop);
    b.stop.data = &b;
    uv_timer_start(&b.block, on_block, 50, 0);
    uv_timer_start(&b.stop, on_stop, 400, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_true(h.probes >= 3);
    /* the probe due during the 120 ms sleep ran at least 110 ms late */
    assert_true(h.max_ns >= 110 * MS);
    uint64_t late = 0;
    for (size_t i = 6; i <= LOOP_LAG_BUCKETS; i++) /* over 50 ms */
        late += h.counts[i];
    assert_true(late >= 1);
    if (h.idle_known) {
        assert_true(loop_health_busy_ns(&h) >= 120 * MS);
    }
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_bad_start(void **state)
{
    (void)state;
    struct loop_health h;
    assert_int_equal(loop_health_start(&h, NULL, 100), -22);
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(loop_health_start(&h, &loop, 0), -22);
    loop_health_close(&h); /* not started: nothing to close */
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buckets),
        cmocka_unit_test(test_blocked_loop),
        cmocka_unit_test(test_bad_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
