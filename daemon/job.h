/* The job engine: runs one protocol session against one transport, executes its requests,
 * and is the only place that does I/O for protocols (docs/architecture.md §3). It enforces the
 * request timeouts, a no-progress watchdog, a whole-job timeout and a step budget, handles
 * cancellation and re-enumeration, keeps a ring of recent wire frames, and reports a failure
 * once, when it becomes final. */
#ifndef FLASHRACK_JOB_H
#define FLASHRACK_JOB_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "protocol.h"

struct job;
struct transport;

struct job_result {
    int ok;              /* the session answered DONE */
    enum fail_code code; /* FAIL_NONE when ok */
    char stage[32];      /* phase at the time of failure */
    char message[256];
    uint64_t bytes_written;       /* progress.done at the end */
    uint64_t bytes_out, bytes_in; /* wire bytes over all transports */
    uint64_t duration_ms;
    uint32_t steps;
    uint32_t reenumerations;
    /* It ended because the device did not come back while the session waited for it
     * (REENUMERATE timed out): after a final reset, the module did not return. */
    int not_back;
    struct device_ident ident;
};

struct job_hooks {
    /* The session asked to wait for re-enumeration; the transport is already closed. The
     * owner calls job_attach() with a new transport when the device is back on the same
     * physical port. The job's own timer fails it if that takes too long. */
    void (*wait_device)(void *owner, struct job *job, uint32_t timeout_ms);
    /* progress.done or phase changed (called often: the owner throttles what it shows). */
    void (*progress)(void *owner, struct job *job);
    /* Final. Every handle of the job is closed; the owner may job_free() here. */
    void (*finished)(void *owner, struct job *job, const struct job_result *result);
};

struct job_params {
    const struct proto *driver;
    struct proto_params params;
    const char *slot_label; /* for log lines */
    const char *port_path;
    uint32_t no_progress_ms; /* watchdog; a request's own longer timeout extends it */
    uint32_t job_timeout_ms;
    uint32_t reenumerate_max_ms; /* cap on REENUMERATE timeouts */
    uint64_t max_steps;
    uint32_t ring_frames; /* wire frames kept for the failure record */
    const struct job_hooks *hooks;
    void *owner;
};

/* Takes ownership of transport (closed when the job ends or re-enumerates). */
int job_start(uv_loop_t *loop, const struct job_params *params, struct transport *transport,
              struct job **ret);
/* The device is back after REENUMERATE; takes ownership of transport. */
void job_attach(struct job *job, struct transport *transport);
/* The device is back after REENUMERATE as something this driver cannot talk to (a module
 * that rebooted from download mode into AT mode): the session gets ATTACHED with
 * ctx->link.kind == PROTO_LINK_NONE and the new VID:PID, which is all it needs to judge the
 * reboot; any I/O it asks for afterwards fails the job as internal. */
void job_attach_foreign(struct job *job, uint16_t vid, uint16_t pid);
/* The device left the port. Expected while re-enumerating; otherwise fails the job. */
void job_device_left(struct job *job);
/* Ends the job as aborted with this reason (operator or shutdown). */
void job_abort(struct job *job, const char *why);
void job_free(struct job *job);

int job_is_waiting_device(const struct job *job);
int job_is_finished(const struct job *job);
const struct proto_ctx *job_ctx(const struct job *job);
/* The driver's session, for a driver-specific report from the finished hook. */
const void *job_session(const struct job *job);
/* Text dump of the wire ring, oldest first; returns bytes written (excluding NUL). */
size_t job_wire_trace(const struct job *job, char *buf, size_t len);

#endif
