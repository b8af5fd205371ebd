/* The loop thread of the HTTP unit tests: a libuv loop runs on its own thread (as in
 * flashrackd) and the test thread hands it jobs. Header-only. It declares `struct fixture`
 * with the fields every such test uses (the loop, the station, the thread and its job hand-off,
 * http_closed, the HTTP port) plus the test's own, given before the include as
 *     #define LOOP_FIXTURE_EXTRA char dir[64]; ...
 * The test then defines `static void fixture_on_stop(struct fixture *f)`, which closes on the
 * loop thread what the test opened there (the HTTP server, a workflow, a bus) so the loop can
 * end. */
#ifndef FLASHRACK_LOOP_FIXTURE_H
#define FLASHRACK_LOOP_FIXTURE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>
#include <uv.h>

#include "station.h"

#ifndef LOOP_FIXTURE_EXTRA
#define LOOP_FIXTURE_EXTRA
#endif

struct fixture {
    uv_loop_t loop;
    struct station st;
    uv_thread_t thread;
    uv_async_t wake;
    uv_mutex_t lock;
    uv_sem_t job_done;
    void (*job)(struct fixture *f, void *arg);
    void *job_arg;
    bool stop, http_closed;
    uint16_t port;
    LOOP_FIXTURE_EXTRA
};

static void fixture_on_stop(struct fixture *f);

static inline void fixture_on_wake(uv_async_t *async)
{
    struct fixture *f = async->data;
    uv_mutex_lock(&f->lock);
    void (*job)(struct fixture *, void *) = f->job;
    void *arg = f->job_arg;
    bool stop = f->stop;
    f->job = NULL;
    uv_mutex_unlock(&f->lock);
    if (job) {
        job(f, arg);
        uv_sem_post(&f->job_done);
    }
    if (stop) {
        fixture_on_stop(f);
        uv_close((uv_handle_t *)&f->wake, NULL);
    }
}

static inline void fixture_loop_thread(void *arg)
{
    struct fixture *f = arg;
    uv_run(&f->loop, UV_RUN_DEFAULT);
}

/* Runs job(f, arg) on the loop thread and waits for it. */
static inline void run_on_loop(struct fixture *f, void (*job)(struct fixture *, void *), void *arg)
{
    uv_mutex_lock(&f->lock);
    f->job = job;
    f->job_arg = arg;
    uv_mutex_unlock(&f->lock);
    uv_async_send(&f->wake);
    uv_sem_wait(&f->job_done);
}

/* After the loop and what runs on it are set up: starts the thread. Returns 0 or fails. */
static inline int fixture_thread_start(struct fixture *f)
{
    if (uv_mutex_init(&f->lock) || uv_sem_init(&f->job_done, 0) ||
        uv_async_init(&f->loop, &f->wake, fixture_on_wake))
        return -1;
    f->wake.data = f;
    return uv_thread_create(&f->thread, fixture_loop_thread, f);
}

/* Asks the loop to close (fixture_on_stop) and waits for the thread to end. */
static inline int fixture_thread_join(struct fixture *f)
{
    uv_mutex_lock(&f->lock);
    f->stop = true;
    uv_mutex_unlock(&f->lock);
    uv_async_send(&f->wake);
    int r = uv_thread_join(&f->thread);
    uv_sem_destroy(&f->job_done);
    uv_mutex_destroy(&f->lock);
    return r;
}

/* Removes a test database with its WAL and shared-memory files. */
static inline void fixture_unlink_db(const char *db_path)
{
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s%s", db_path, suffixes[i]);
        unlink(path);
    }
}

#endif
