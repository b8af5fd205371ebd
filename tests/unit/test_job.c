/* The job engine against a scripted session and an in-memory transport: every way a job can
 * end, under a real libuv loop that must close cleanly (uv_loop_close() == 0). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "job.h"
#include "transport.h"

/* ---- in-memory transport: answers reads from a script, completes on a 0 ms timer -------- */

/* FAKE_GONE_ON_READ: the device is gone before the read is even submitted (libusb's
 * LIBUSB_ERROR_NO_DEVICE from the submission, not from a completion). */
enum fake_mode { FAKE_ECHO, FAKE_SILENT, FAKE_UNPLUG_ON_READ, FAKE_IO_ERROR, FAKE_GONE_ON_READ };

struct fake_transport {
    struct transport base;
    uv_timer_t timer;
    enum fake_mode mode;
    transport_cb cb;
    void *ud;
    int status;
    uint8_t buf[256];
    size_t len, pending;
    int *closed_flag;
    void (*closed)(void *);
    void *closed_ud;
};

static void fake_fire(uv_timer_t *t)
{
    struct fake_transport *f = t->data;
    transport_cb cb = f->cb;
    f->cb = NULL;
    if (cb)
        cb(&f->base, f->status, f->status == 0 ? f->buf : NULL, f->len, f->ud);
}

static int fake_arm(struct fake_transport *f, int status, size_t len, uint32_t delay,
                    transport_cb cb, void *ud)
{
    if (f->cb)
        return -EBUSY;
    f->cb = cb;
    f->ud = ud;
    f->status = status;
    f->len = len;
    uv_timer_start(&f->timer, fake_fire, delay, 0);
    return 0;
}

static int fake_write(struct transport *t, const uint8_t *data, size_t len, uint32_t timeout_ms,
                      transport_cb cb, void *ud)
{
    (void)timeout_ms;
    struct fake_transport *f = (struct fake_transport *)t;
    if (f->mode == FAKE_IO_ERROR)
        return fake_arm(f, -EIO, 0, 0, cb, ud);
    size_t n = len < sizeof(f->buf) ? len : sizeof(f->buf);
    memcpy(f->buf, data, n);
    f->pending = n;
    t->bytes_out += len;
    return fake_arm(f, 0, len, 0, cb, ud);
}

static int fake_read(struct transport *t, size_t max, uint32_t timeout_ms, transport_cb cb,
                     void *ud)
{
    struct fake_transport *f = (struct fake_transport *)t;
    if (f->mode == FAKE_UNPLUG_ON_READ)
        return fake_arm(f, -ENODEV, 0, 5, cb, ud);
    if (f->mode == FAKE_GONE_ON_READ)
        return -ENODEV;
    if (f->mode == FAKE_SILENT || !f->pending)
        return fake_arm(f, -ETIMEDOUT, 0, timeout_ms, cb, ud);
    size_t n = f->pending < max ? f->pending : max;
    f->pending = 0;
    t->bytes_in += n;
    return fake_arm(f, 0, n, 0, cb, ud);
}

static int fake_set_line(struct transport *t, uint32_t baud, int dtr, int rts, transport_cb cb,
                         void *ud)
{
    (void)baud, (void)dtr, (void)rts;
    return fake_arm((struct fake_transport *)t, 0, 0, 0, cb, ud);
}

static void fake_cancel(struct transport *t)
{
    struct fake_transport *f = (struct fake_transport *)t;
    if (f->cb) {
        uv_timer_stop(&f->timer);
        fake_arm(f, -ECANCELED, 0, 0, f->cb, f->ud);
    }
}

static void fake_closed(uv_handle_t *h)
{
    struct fake_transport *f = h->data;
    void (*closed)(void *) = f->closed;
    void *ud = f->closed_ud;
    if (f->closed_flag)
        (*f->closed_flag)++;
    free(f);
    if (closed)
        closed(ud);
}

static void fake_close(struct transport *t, void (*closed)(void *), void *ud)
{
    struct fake_transport *f = (struct fake_transport *)t;
    f->cb = NULL;
    f->closed = closed;
    f->closed_ud = ud;
    uv_close((uv_handle_t *)&f->timer, fake_closed);
}

static const struct transport_ops fake_ops = {fake_write, fake_read, fake_set_line, fake_cancel,
                                              fake_close};

static int transports_closed;

static struct transport *fake_new(uv_loop_t *loop, enum fake_mode mode, uint16_t pid)
{
    struct fake_transport *f = calloc(1, sizeof(*f));
    f->base.ops = &fake_ops;
    f->base.link.kind = PROTO_LINK_USB_BULK;
    f->base.link.vid = 0x1209;
    f->base.link.pid = pid;
    snprintf(f->base.name, sizeof(f->base.name), "fake%04x", pid);
    f->mode = mode;
    f->closed_flag = &transports_closed;
    uv_timer_init(loop, &f->timer);
    f->timer.data = f;
    return &f->base;
}

/* ---- scripted session ------------------------------------------------------------------ */

enum script {
    S_PING,         /* write "ping", read, expect "ping", done */
    S_READ_TIMEOUT, /* read once; on TIMEOUT fail */
    S_SPIN_READS,   /* read with 5 ms timeout forever */
    S_SPIN_WAITS,   /* WAIT(0) forever */
    S_REENUM,       /* set line, reenumerate, expect ATTACHED on pid 2, write, done */
    S_LONG_READ,    /* one read with a 60 s timeout (abort/unplug tests) */
    S_LEAVE,        /* announce the device may leave, read; on ATTACHED done */
};

struct session {
    enum script script;
    int step;
    struct proto_ctx *ctx;
    uint8_t out[8];
};

static int s_new(const struct proto_params *p, struct proto_ctx *ctx, void **ret)
{
    struct session *s = calloc(1, sizeof(*s));
    s->script = (enum script)(uintptr_t)p->package;
    s->ctx = ctx;
    *ret = s;
    return 0;
}

static void s_free(void *s)
{
    free(s);
}

static void s_step(void *sv, const struct proto_event *in, struct proto_request *out)
{
    struct session *s = sv;
    s->step++;
    switch (s->script) {
    case S_PING:
        if (in->type == PROTO_EV_START) {
            s->ctx->progress.phase = "ping";
            s->ctx->progress.total = 4;
            memcpy(s->out, "ping", 4);
            proto_req_write(out, s->out, 4, 1000);
        } else if (in->type == PROTO_EV_TX_DONE) {
            proto_req_read(out, 16, 1000);
        } else if (in->type == PROTO_EV_RX && in->len == 4 && !memcmp(in->data, "ping", 4)) {
            s->ctx->progress.done = 4;
            snprintf(s->ctx->ident.imei, sizeof(s->ctx->ident.imei), "860000000000001");
            proto_req_done(out);
        } else {
            proto_req_fail(out, FAIL_PROTOCOL, "unexpected event %s",
                           proto_event_type_to_string(in->type));
        }
        return;
    case S_READ_TIMEOUT:
        if (in->type == PROTO_EV_START) {
            s->ctx->progress.phase = "handshake";
            proto_req_read(out, 8, 20);
        } else {
            proto_req_fail(out, in->type == PROTO_EV_TIMEOUT ? FAIL_TIMEOUT : FAIL_PROTOCOL,
                           "no handshake reply within 20 ms");
        }
        return;
    case S_SPIN_READS:
        s->ctx->progress.phase = "spin";
        proto_req_read(out, 8, 5);
        return;
    case S_SPIN_WAITS:
        proto_req_wait(out, 0);
        return;
    case S_REENUM:
        if (in->type == PROTO_EV_START) {
            proto_req_set_line(out, 115200, 1, 1);
        } else if (in->type == PROTO_EV_TX_DONE && s->ctx->link.pid == 1) {
            s->ctx->progress.phase = "reboot";
            proto_req_reenumerate(out, 200);
        } else if (in->type == PROTO_EV_ATTACHED) {
            if (s->ctx->link.pid != 2)
                proto_req_fail(out, FAIL_PROTOCOL, "came back as wrong pid");
            else
                proto_req_write(out, (const uint8_t *)"hi", 2, 100);
        } else if (in->type == PROTO_EV_TX_DONE) {
            proto_req_done(out);
        } else {
            proto_req_fail(out, FAIL_PROTOCOL, "unexpected");
        }
        return;
    case S_LEAVE:
        s->ctx->progress.phase = "switching";
        if (in->type == PROTO_EV_START) {
            s->ctx->expect_leave_ms = 300;
            proto_req_read(out, 8, 60000);
        } else if (in->type == PROTO_EV_ATTACHED && s->ctx->expect_leave_ms == 0) {
            proto_req_done(out);
        } else {
            proto_req_fail(out, FAIL_PROTOCOL, "unexpected %s",
                           proto_event_type_to_string(in->type));
        }
        return;
    case S_LONG_READ:
        s->ctx->progress.phase = "flash";
        if (in->type == PROTO_EV_START)
            proto_req_read(out, 8, 60000);
        else
            proto_req_fail(out, FAIL_PROTOCOL, "unexpected");
        return;
    }
}

static const struct proto test_driver = {
    .name = "scripted",
    .session_new = s_new,
    .step = s_step,
    .session_free = s_free,
};

/* ---- harness ---------------------------------------------------------------------------- */

struct run {
    uv_loop_t loop;
    struct job *job;
    struct job_result result;
    int finished;
    int wait_device_calls;
    uint32_t wait_timeout;
    int attach_pid; /* 0 = never come back */
    uv_timer_t action;
    int action_kind; /* 1 abort, 2 device left */
    char trace[4096];
};

static void on_attach_timer(uv_timer_t *t)
{
    struct run *r = t->data;
    if (r->action_kind == 3) {
        job_device_left(r->job); /* expected while re-enumerating: no failure */
        r->action_kind = 4;
        uv_timer_start(t, on_attach_timer, 20, 0);
        return;
    }
    if (r->action_kind == 4) {
        job_attach(r->job, fake_new(&r->loop, FAKE_ECHO, (uint16_t)r->attach_pid));
        return;
    }
    if (r->action_kind == 1)
        job_abort(r->job, "operator pressed abort");
    else if (r->action_kind == 2)
        job_device_left(r->job);
}

static void hook_wait_device(void *owner, struct job *job, uint32_t timeout_ms)
{
    struct run *r = owner;
    assert_ptr_equal(job, r->job);
    assert_true(job_is_waiting_device(job));
    r->wait_device_calls++;
    r->wait_timeout = timeout_ms;
    if (r->attach_pid) {
        r->action_kind = 3;
        uv_timer_start(&r->action, on_attach_timer, 10, 0);
    }
}

static void hook_finished(void *owner, struct job *job, const struct job_result *res)
{
    struct run *r = owner;
    r->finished++;
    r->result = *res;
    job_wire_trace(job, r->trace, sizeof(r->trace));
    assert_true(job_is_finished(job));
    job_free(job);
    uv_close((uv_handle_t *)&r->action, NULL);
}

static const struct job_hooks hooks = {hook_wait_device, NULL, hook_finished};

static void run_job(struct run *r, enum script script, enum fake_mode mode, uint32_t no_progress,
                    uint64_t max_steps, int action_kind, uint32_t action_ms)
{
    memset(r, 0, sizeof(*r));
    transports_closed = 0;
    assert_int_equal(uv_loop_init(&r->loop), 0);
    uv_timer_init(&r->loop, &r->action);
    r->action.data = r;
    if (script == S_REENUM || script == S_LEAVE)
        r->attach_pid = action_kind == -1 ? 0 : 2;
    struct job_params p = {
        .driver = &test_driver,
        .params = {.package = (void *)(uintptr_t)script},
        .slot_label = "A1",
        .port_path = "1-1.1",
        .no_progress_ms = no_progress,
        .job_timeout_ms = 30000,
        .reenumerate_max_ms = 5000,
        .max_steps = max_steps,
        .ring_frames = 8,
        .hooks = &hooks,
        .owner = r,
    };
    assert_int_equal(job_start(&r->loop, &p, fake_new(&r->loop, mode, 1), &r->job), 0);
    if (action_kind > 0) {
        r->action_kind = action_kind;
        uv_timer_start(&r->action, on_attach_timer, action_ms, 0);
    }
    uv_run(&r->loop, UV_RUN_DEFAULT);
    assert_int_equal(r->finished, 1);
    assert_int_equal(uv_loop_close(&r->loop), 0);
}

static void test_happy_path(void **state)
{
    (void)state;
    struct run r;
    run_job(&r, S_PING, FAKE_ECHO, 5000, 0, 0, 0);
    assert_true(r.result.ok);
    assert_int_equal(r.result.code, FAIL_NONE);
    assert_int_equal(r.result.bytes_written, 4);
    assert_int_equal(r.result.bytes_out, 4);
    assert_int_equal(r.result.bytes_in, 4);
    assert_int_equal(r.result.steps, 3);
    assert_string_equal(r.result.ident.imei, "860000000000001");
    assert_int_equal(transports_closed, 1);
    assert_non_null(strstr(r.trace, "> 4: 70 69 6e 67"));
    assert_non_null(strstr(r.trace, "< 4: 70 69 6e 67"));
    assert_non_null(strstr(r.trace, "! 0 done"));
}

static void test_read_timeout_reaches_session(void **state)
{
    (void)state;
    struct run r;
    run_job(&r, S_READ_TIMEOUT, FAKE_SILENT, 5000, 0, 0, 0);
    assert_false(r.result.ok);
    assert_int_equal(r.result.code, FAIL_TIMEOUT);
    assert_string_equal(r.result.stage, "handshake");
    assert_string_equal(r.result.message, "no handshake reply within 20 ms");
}

static void test_watchdog_no_progress(void **state)
{
    (void)state;
    struct run r;
    run_job(&r, S_SPIN_READS, FAKE_SILENT, 100, 0, 0, 0);
    assert_int_equal(r.result.code, FAIL_TIMEOUT);
    assert_non_null(strstr(r.result.message, "no progress for"));
    assert_string_equal(r.result.stage, "spin");
    assert_true(r.result.steps > 2);
}

static void test_step_budget(void **state)
{
    (void)state;
    struct run r;
    run_job(&r, S_SPIN_WAITS, FAKE_ECHO, 60000, 1000, 0, 0);
    assert_int_equal(r.result.code, FAIL_INTERNAL);
    assert_non_null(strstr(r.result.message, "step budget of 1000 exhausted"));
}

static void test_disconnect_during_read(void **state)
{
    (void)state;
    struct run r;
    run_job(&r, S_LONG_READ, FAKE_UNPLUG_ON_READ, 5000, 0, 0, 0);
    assert_int_equal(r.result.code, FAIL_DISCONNECTED);
    assert_string_equal(r.result.stage, "flash");
    assert_int_equal(transports_closed, 1);
}

static void test_io_error(void **state)
{
    (void)state;
    struct run r;
    run_job(&r, S_PING, FAKE_IO_ERROR, 5000, 0, 0, 0);
    assert_int_equal(r.result.code, FAIL_IO);
    assert_non_null(strstr(r.result.message, "write failed"));
}

static void test_abort(void **state)
{
    (void)state;
    struct run r;
    run_job(&r, S_LONG_READ, FAKE_SILENT, 5000, 0, 1, 30);
    assert_int_equal(r.result.code, FAIL_ABORTED);
    assert_string_equal(r.result.message, "operator pressed abort");
    assert_int_equal(transports_closed, 1);
}

static void test_rack_says_device_left(void **state)
{
    (void)state;
    struct run r;
    run_job(&r, S_LONG_READ, FAKE_SILENT, 5000, 0, 2, 30);
    assert_int_equal(r.result.code, FAIL_DISCONNECTED);
    assert_non_null(strstr(r.result.message, "device left port 1-1.1 during flash"));
}

static void test_reenumerate(void **state)
{
    (void)state;
    struct run r;
    run_job(&r, S_REENUM, FAKE_ECHO, 5000, 0, 0, 0);
    assert_true(r.result.ok);
    assert_int_equal(r.wait_device_calls, 1);
    assert_int_equal(r.wait_timeout, 200);
    assert_int_equal(r.result.reenumerations, 1);
    assert_false(r.result.not_back);
    assert_int_equal(transports_closed, 2);
    assert_non_null(strstr(r.trace, "reenumerate"));
    assert_non_null(strstr(r.trace, "attached"));
}

static void test_reenumerate_timeout(void **state)
{
    (void)state;
    struct run r;
    run_job(&r, S_REENUM, FAKE_ECHO, 5000, 0, -1, 0);
    assert_int_equal(r.result.code, FAIL_TIMEOUT);
    assert_string_equal(r.result.stage, "reboot");
    assert_non_null(strstr(r.result.message, "did not come back on port 1-1.1 within 200 ms"));
    assert_true(r.result.not_back);
}

/* The session said the device may leave (AT+QDOWNLOAD=1) and it did, as mode has it: the
 * job waits for it to come back (it does) instead of failing. */
static void assert_announced_leave(enum fake_mode mode)
{
    struct run r;
    run_job(&r, S_LEAVE, mode, 5000, 0, 0, 0);
    assert_true(r.result.ok);
    assert_int_equal(r.wait_device_calls, 1);
    assert_int_equal(r.wait_timeout, 300);
    assert_int_equal(r.result.reenumerations, 1);
    assert_non_null(strstr(r.trace, "device left as announced"));
}

/* An unplug during the session's read is the start of a re-enumeration, not a failure;
 * without the device coming back it times out. */
static void test_announced_leave(void **state)
{
    (void)state;
    assert_announced_leave(FAKE_UNPLUG_ON_READ);
    struct run r;
    run_job(&r, S_LEAVE, FAKE_UNPLUG_ON_READ, 5000, 0, -1, 0);
    assert_int_equal(r.result.code, FAIL_TIMEOUT);
    assert_string_equal(r.result.stage, "switching");
}

/* The same when the device is already gone as the read is submitted (a module that resets the
 * instant it acknowledged the command): announced, it is the re-enumeration too; unannounced,
 * a disconnect. */
static void test_announced_leave_before_submit(void **state)
{
    (void)state;
    assert_announced_leave(FAKE_GONE_ON_READ);
    struct run r;
    run_job(&r, S_LONG_READ, FAKE_GONE_ON_READ, 5000, 0, 0, 0);
    assert_int_equal(r.result.code, FAIL_DISCONNECTED);
    assert_non_null(strstr(r.result.message, "device left port 1-1.1 during flash"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_happy_path),
        cmocka_unit_test(test_read_timeout_reaches_session),
        cmocka_unit_test(test_watchdog_no_progress),
        cmocka_unit_test(test_step_budget),
        cmocka_unit_test(test_disconnect_during_read),
        cmocka_unit_test(test_io_error),
        cmocka_unit_test(test_abort),
        cmocka_unit_test(test_rack_says_device_left),
        cmocka_unit_test(test_reenumerate),
        cmocka_unit_test(test_reenumerate_timeout),
        cmocka_unit_test(test_announced_leave),
        cmocka_unit_test(test_announced_leave_before_submit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
