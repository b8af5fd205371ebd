/* The job engine (see job.h). One job = one session + the transport it currently talks
 * through. Every transport completion and timer lands in exactly one of the on_* callbacks
 * below, which turns it into the one event the session is waiting for. */
#include "job.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "transport.h"

#define WIRE_BYTES 48 /* bytes of each frame kept in the ring */

enum job_state {
    JOB_IO,       /* a transport operation is outstanding */
    JOB_WAITING,  /* WAIT timer running */
    JOB_REENUM,   /* transport closed; waiting for the device to come back */
    JOB_CLOSING,  /* final: closing the transport and timers */
    JOB_FINISHED, /* finished() was called */
};

struct wire_frame {
    uint64_t t_ms;
    char dir; /* '>' host to device, '<' device to host, '!' event */
    uint32_t len;
    uint8_t bytes[WIRE_BYTES];
    char note[32];
};

struct job {
    uv_loop_t *loop;
    struct job_params p;
    char slot_label[32];
    char port_path[32];
    void *session;
    struct proto_ctx ctx;
    struct transport *transport;
    enum job_state state;
    struct proto_request req;
    uv_timer_t wait_timer;     /* WAIT and REENUMERATE deadlines */
    uv_timer_t watchdog_timer; /* no progress + whole-job timeout, checked each second */
    int handles_open;
    int transports_closing;
    uint64_t started_ms, last_activity_ms, deadline_ms;
    uint64_t last_done;
    const char *last_phase;
    struct job_result result;
    struct wire_frame *ring;
    uint32_t ring_len, ring_head;
};

static uint64_t now_ms(struct job *job)
{
    uv_update_time(job->loop);
    return uv_now(job->loop);
}

static void ring_add(struct job *job, char dir, const uint8_t *data, size_t len, const char *note)
{
    if (!job->p.ring_frames)
        return;
    struct wire_frame *f = &job->ring[job->ring_head];
    job->ring_head = (job->ring_head + 1) % job->p.ring_frames;
    if (job->ring_len < job->p.ring_frames)
        job->ring_len++;
    f->t_ms = now_ms(job) - job->started_ms;
    f->dir = dir;
    f->len = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
    size_t keep = len < WIRE_BYTES ? len : WIRE_BYTES;
    if (data && keep)
        memcpy(f->bytes, data, keep);
    snprintf(f->note, sizeof(f->note), "%s", note ? note : "");
}

size_t job_wire_trace(const struct job *job, char *buf, size_t len)
{
    size_t n = 0;
    if (len)
        buf[0] = '\0';
    uint32_t frames = job->p.ring_frames;
    for (uint32_t i = 0; i < job->ring_len && n + 1 < len; i++) {
        const struct wire_frame *f =
            &job->ring[(job->ring_head + frames - job->ring_len + i) % frames];
        int w = snprintf(buf + n, len - n, "+%llums %c %u%s%s", (unsigned long long)f->t_ms, f->dir,
                         f->len, f->note[0] ? " " : "", f->note);
        if (w < 0 || (size_t)w >= len - n)
            break;
        n += (size_t)w;
        size_t shown = f->len < WIRE_BYTES ? f->len : WIRE_BYTES;
        for (size_t k = 0; f->dir != '!' && k < shown && n + 4 < len; k++)
            n += (size_t)snprintf(buf + n, len - n, "%s%02x", k ? " " : ": ", f->bytes[k]);
        if (f->len > shown && n + 5 < len)
            n += (size_t)snprintf(buf + n, len - n, " ...");
        if (n + 2 < len)
            n += (size_t)snprintf(buf + n, len - n, "\n");
    }
    return n;
}

static void maybe_finished(struct job *job)
{
    if (job->state != JOB_CLOSING || job->handles_open > 0 || job->transports_closing > 0)
        return;
    job->state = JOB_FINISHED;
    job->result.duration_ms = now_ms(job) - job->started_ms;
    job->p.hooks->finished(job->p.owner, job, &job->result);
}

static void on_handle_closed(uv_handle_t *h)
{
    struct job *job = h->data;
    job->handles_open--;
    maybe_finished(job);
}

static void on_transport_closed(void *userdata)
{
    struct job *job = userdata;
    job->transports_closing--;
    maybe_finished(job);
}

static void close_transport(struct job *job)
{
    if (!job->transport)
        return;
    job->result.bytes_out += job->transport->bytes_out;
    job->result.bytes_in += job->transport->bytes_in;
    struct transport *t = job->transport;
    job->transport = NULL;
    job->transports_closing++;
    transport_close(t, on_transport_closed, job);
}

/* The one way a job ends. Called once; later calls are ignored. */
static void finish(struct job *job, int ok, enum fail_code code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void finish(struct job *job, int ok, enum fail_code code, const char *fmt, ...)
{
    if (job->state == JOB_CLOSING || job->state == JOB_FINISHED)
        return;
    struct job_result *r = &job->result;
    r->ok = ok;
    r->code = ok ? FAIL_NONE : code;
    r->bytes_written = job->ctx.progress.done;
    r->ident = job->ctx.ident;
    snprintf(r->stage, sizeof(r->stage), "%s",
             job->ctx.progress.phase ? job->ctx.progress.phase : "start");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof(r->message), fmt, ap);
    va_end(ap);
    if (ok)
        log_slot(LOG_LEVEL_INFO, job->slot_label, job->port_path, "%s: done, %llu bytes",
                 job->p.driver->name, (unsigned long long)r->bytes_written);
    else
        log_slot(LOG_LEVEL_WARNING, job->slot_label, job->port_path, "%s: failed at %s: %s: %s",
                 job->p.driver->name, r->stage, fail_code_to_string(code), r->message);
    ring_add(job, '!', NULL, 0, ok ? "done" : fail_code_to_string(code));
    job->state = JOB_CLOSING;
    close_transport(job);
    uv_close((uv_handle_t *)&job->wait_timer, on_handle_closed);
    uv_close((uv_handle_t *)&job->watchdog_timer, on_handle_closed);
}

static void execute(struct job *job);
static void enter_reenumeration(struct job *job, uint32_t timeout_ms, const char *why);

/* Feeds one event to the session and executes the request it answers with. */
static void step(struct job *job, enum proto_event_type type, const uint8_t *data, size_t len)
{
    if (job->state == JOB_CLOSING || job->state == JOB_FINISHED)
        return;
    if (++job->result.steps > job->p.max_steps) {
        finish(job, 0, FAIL_INTERNAL, "step budget of %llu exhausted (session loops?)",
               (unsigned long long)job->p.max_steps);
        return;
    }
    struct proto_event ev = {.type = type, .data = data, .len = len};
    job->ctx.now_ms = now_ms(job);
    job->p.driver->step(job->session, &ev, &job->req);
    if (job->ctx.progress.done != job->last_done || job->ctx.progress.phase != job->last_phase) {
        if (job->ctx.progress.done != job->last_done)
            job->last_activity_ms = job->ctx.now_ms;
        job->last_done = job->ctx.progress.done;
        job->last_phase = job->ctx.progress.phase;
        if (job->p.hooks->progress)
            job->p.hooks->progress(job->p.owner, job);
    }
    execute(job);
}

static enum fail_code fail_code_for(int status)
{
    switch (status) {
    case -ENODEV:
        return FAIL_DISCONNECTED;
    case -ECANCELED:
        return FAIL_ABORTED;
    default:
        return FAIL_IO;
    }
}

static void on_io(struct transport *t, int status, const uint8_t *data, size_t len, void *userdata)
{
    (void)t;
    struct job *job = userdata;
    if (job->state != JOB_IO)
        return;
    enum proto_request_type type = job->req.type;
    if (status == -ETIMEDOUT) {
        ring_add(job, '!', NULL, len, "timeout");
        step(job, PROTO_EV_TIMEOUT, NULL, 0);
        return;
    }
    if (status == -ENODEV && job->ctx.expect_leave_ms) {
        enter_reenumeration(job, job->ctx.expect_leave_ms, "device left as announced");
        return;
    }
    if (status < 0) {
        finish(job, 0, fail_code_for(status), "%s %s failed: %s",
               job->transport ? job->transport->name : "transport",
               proto_request_type_to_string(type), strerror(-status));
        return;
    }
    job->last_activity_ms = now_ms(job);
    if (type == PROTO_REQ_READ) {
        ring_add(job, '<', data, len, NULL);
        step(job, PROTO_EV_RX, data, len);
    } else {
        step(job, PROTO_EV_TX_DONE, NULL, 0);
    }
}

static void on_wait_timer(uv_timer_t *timer)
{
    struct job *job = timer->data;
    if (job->state == JOB_WAITING) {
        job->state = JOB_IO; /* placeholder until the next request */
        step(job, PROTO_EV_WAKE, NULL, 0);
    } else if (job->state == JOB_REENUM) {
        job->result.not_back = 1;
        finish(job, 0, FAIL_TIMEOUT, "device did not come back on port %s within %u ms",
               job->port_path, job->req.timeout_ms);
    }
}

static void on_watchdog(uv_timer_t *timer)
{
    struct job *job = timer->data;
    uint64_t now = now_ms(job);
    if (now >= job->deadline_ms) {
        finish(job, 0, FAIL_TIMEOUT, "job took longer than %u ms", job->p.job_timeout_ms);
        return;
    }
    /* A request that says it may take long (an erase, a re-enumeration) extends the watchdog. */
    uint64_t allowed = job->p.no_progress_ms;
    if (job->state != JOB_REENUM && (uint64_t)job->req.timeout_ms + 1000 > allowed)
        allowed = (uint64_t)job->req.timeout_ms + 1000;
    if (job->state == JOB_REENUM)
        return; /* the re-enumeration timer owns that wait */
    if (now - job->last_activity_ms > allowed)
        finish(job, 0, FAIL_TIMEOUT, "no progress for %llu ms",
               (unsigned long long)(now - job->last_activity_ms));
}

static void execute(struct job *job)
{
    struct proto_request *req = &job->req;
    uint32_t timeout = req->timeout_ms ? req->timeout_ms : 1;
    int r = 0;
    if (!job->transport && (req->type == PROTO_REQ_WRITE || req->type == PROTO_REQ_READ ||
                            req->type == PROTO_REQ_SET_LINE)) {
        finish(job, 0, FAIL_INTERNAL,
               "%s after the device came back as %04x:%04x, which %s "
               "cannot talk to",
               proto_request_type_to_string(req->type), job->ctx.link.vid, job->ctx.link.pid,
               job->p.driver->name);
        return;
    }
    switch (req->type) {
    case PROTO_REQ_WRITE:
        job->state = JOB_IO;
        ring_add(job, '>', req->data, req->len, NULL);
        r = transport_write(job->transport, req->data, req->len, timeout, on_io, job);
        break;
    case PROTO_REQ_READ:
        job->state = JOB_IO;
        r = req->len ? transport_read(job->transport, req->len, timeout, on_io, job) : -EINVAL;
        break;
    case PROTO_REQ_SET_LINE:
        job->state = JOB_IO;
        ring_add(job, '!', NULL, req->baud, "set_line");
        r = transport_set_line(job->transport, req->baud, req->dtr, req->rts, on_io, job);
        break;
    case PROTO_REQ_WAIT:
        job->state = JOB_WAITING;
        uv_update_time(job->loop);
        uv_timer_start(&job->wait_timer, on_wait_timer, req->timeout_ms, 0);
        return;
    case PROTO_REQ_REENUMERATE:
        enter_reenumeration(job, req->timeout_ms, "reenumerate");
        return;
    case PROTO_REQ_DONE:
        finish(job, 1, FAIL_NONE, "ok");
        return;
    case PROTO_REQ_FAIL:
        finish(job, 0, req->fail, "%s", req->message[0] ? req->message : "session failed");
        return;
    default:
        finish(job, 0, FAIL_INTERNAL, "session returned unknown request %d", (int)req->type);
        return;
    }
    /* Gone before the transfer could even start (the submission's LIBUSB_ERROR_NO_DEVICE): the
     * same as a completion with -ENODEV or the hotplug saying so. A module that resets the
     * instant it acknowledged the command that reboots it lands here, and was failed (then
     * flashed a second time) while the session had announced the leave. */
    if (r == -ENODEV && job->ctx.expect_leave_ms)
        enter_reenumeration(job, job->ctx.expect_leave_ms, "device left as announced");
    else if (r == -ENODEV)
        finish(job, 0, FAIL_DISCONNECTED, "device left port %s during %s", job->port_path,
               job->ctx.progress.phase ? job->ctx.progress.phase : "start");
    else if (r < 0)
        finish(job, 0, fail_code_for(r), "cannot start %s: %s",
               proto_request_type_to_string(req->type), strerror(-r));
}

/* Closes the transport and waits for the device to come back on the same port: asked by the
 * session (REENUMERATE), or the device left while the session said it might. */
static void enter_reenumeration(struct job *job, uint32_t timeout_ms, const char *why)
{
    uint32_t t = timeout_ms;
    if (!t || t > job->p.reenumerate_max_ms)
        t = job->p.reenumerate_max_ms;
    job->req.type = PROTO_REQ_REENUMERATE;
    job->req.timeout_ms = t;
    ring_add(job, '!', NULL, 0, why);
    job->state = JOB_REENUM;
    close_transport(job);
    uv_update_time(job->loop);
    uv_timer_start(&job->wait_timer, on_wait_timer, t, 0);
    log_slot(LOG_LEVEL_INFO, job->slot_label, job->port_path,
             "%s: %s; waiting up to %u ms for the device to come back", job->p.driver->name, why,
             t);
    job->p.hooks->wait_device(job->p.owner, job, t);
}

int job_start(uv_loop_t *loop, const struct job_params *params, struct transport *transport,
              struct job **ret)
{
    struct job *job = calloc(1, sizeof(*job));
    if (!job)
        return -ENOMEM;
    job->loop = loop;
    job->p = *params;
    snprintf(job->slot_label, sizeof(job->slot_label), "%s",
             params->slot_label ? params->slot_label : "");
    snprintf(job->port_path, sizeof(job->port_path), "%s",
             params->port_path ? params->port_path : "");
    job->p.slot_label = job->slot_label;
    job->p.port_path = job->port_path;
    if (!job->p.max_steps)
        job->p.max_steps = UINT64_MAX;
    if (!job->p.reenumerate_max_ms)
        job->p.reenumerate_max_ms = 60000;
    if (job->p.ring_frames) {
        job->ring = calloc(job->p.ring_frames, sizeof(*job->ring));
        if (!job->ring) {
            free(job);
            return -ENOMEM;
        }
    }
    job->ctx.link = transport->link;
    job->started_ms = job->last_activity_ms = now_ms(job);
    job->deadline_ms =
        job->started_ms + (params->job_timeout_ms ? params->job_timeout_ms : UINT32_MAX);
    job->ctx.now_ms = job->started_ms;
    int r = params->driver->session_new(&job->p.params, &job->ctx, &job->session);
    if (r < 0) {
        free(job->ring);
        free(job);
        return r;
    }
    job->transport = transport;
    uv_timer_init(loop, &job->wait_timer);
    uv_timer_init(loop, &job->watchdog_timer);
    job->wait_timer.data = job->watchdog_timer.data = job;
    job->handles_open = 2;
    /* Check a few times per watchdog period, at most once a second. */
    uint64_t period = job->p.no_progress_ms / 4;
    period = period < 10 ? 10 : period > 1000 ? 1000 : period;
    uv_timer_start(&job->watchdog_timer, on_watchdog, period, period);
    job->state = JOB_IO;
    log_slot(LOG_LEVEL_INFO, job->slot_label, job->port_path, "%s: started on %s",
             params->driver->name, transport->name);
    *ret = job;
    step(job, PROTO_EV_START, NULL, 0);
    return 0;
}

void job_attach(struct job *job, struct transport *transport)
{
    if (job->state != JOB_REENUM) {
        transport_close(transport, NULL, NULL);
        return;
    }
    uv_timer_stop(&job->wait_timer);
    job->transport = transport;
    job->ctx.link = transport->link;
    job->ctx.expect_leave_ms = 0;
    job->result.reenumerations++;
    job->last_activity_ms = now_ms(job);
    job->state = JOB_IO;
    ring_add(job, '!', NULL, 0, "attached");
    log_slot(LOG_LEVEL_INFO, job->slot_label, job->port_path, "%s: device back as %04x:%04x on %s",
             job->p.driver->name, transport->link.vid, transport->link.pid, transport->name);
    step(job, PROTO_EV_ATTACHED, NULL, 0);
}

void job_attach_foreign(struct job *job, uint16_t vid, uint16_t pid)
{
    if (job->state != JOB_REENUM)
        return;
    uv_timer_stop(&job->wait_timer);
    memset(&job->ctx.link, 0, sizeof(job->ctx.link));
    job->ctx.link.kind = PROTO_LINK_NONE;
    job->ctx.link.vid = vid;
    job->ctx.link.pid = pid;
    job->ctx.expect_leave_ms = 0;
    job->result.reenumerations++;
    job->last_activity_ms = now_ms(job);
    job->state = JOB_IO;
    ring_add(job, '!', NULL, 0, "attached, no transport");
    log_slot(LOG_LEVEL_INFO, job->slot_label, job->port_path,
             "%s: device back as %04x:%04x (not a %s port)", job->p.driver->name, vid, pid,
             job->p.driver->name);
    step(job, PROTO_EV_ATTACHED, NULL, 0);
}

void job_device_left(struct job *job)
{
    if (job->state == JOB_REENUM || job->state == JOB_CLOSING || job->state == JOB_FINISHED)
        return;
    if (job->ctx.expect_leave_ms) {
        enter_reenumeration(job, job->ctx.expect_leave_ms, "device left as announced");
        return;
    }
    finish(job, 0, FAIL_DISCONNECTED, "device left port %s during %s", job->port_path,
           job->ctx.progress.phase ? job->ctx.progress.phase : "start");
}

void job_abort(struct job *job, const char *why)
{
    finish(job, 0, FAIL_ABORTED, "%s", why && *why ? why : "aborted");
}

void job_free(struct job *job)
{
    if (!job)
        return;
    if (job->session)
        job->p.driver->session_free(job->session);
    free(job->ring);
    free(job);
}

int job_is_waiting_device(const struct job *job)
{
    return job->state == JOB_REENUM;
}

int job_is_finished(const struct job *job)
{
    return job->state == JOB_FINISHED;
}

const struct proto_ctx *job_ctx(const struct job *job)
{
    return &job->ctx;
}

const void *job_session(const struct job *job)
{
    return job->session;
}
