/* A job bound to a slot: records it as an attempt (a 'running' row at start, finished exactly
 * once, with the wire trace of a failure saved under data_dir/attempts/),  opens the transport for
 * the slot's device, follows the module through re-enumeration on the same physical port (it may
 * come back with another VID:PID and over another transport: USB bulk before, a tty after), and
 * tells the job when the device leaves. The driver's USB id table (plus [usb] ids from config whose
 * role is the driver's name) decides which interface and which transport a device is driven over.
 */
#ifndef FLASHRACK_SLOT_JOB_H
#define FLASHRACK_SLOT_JOB_H

#include "job.h"
#include "rack.h"
#include "station.h"

struct slot_job;

struct db_attempt;

struct slot_job_params {
    const struct proto *driver;
    struct proto_params params;
    /* Identity for the attempt row (operator, work order, package, ...); may be NULL. The
     * job fills station, slot, port, protocol and times itself. */
    const struct db_attempt *attempt;
    /* The owner records the attempt itself (the production flow spans several jobs per
     * attempt): no row is written here, attempt is ignored and attempt_id is 0. */
    int unrecorded;
    /* Final; the attempt row is finished and the slot is free again (slot->job == NULL)
     * when this runs; attempt_id is 0 when the station has no database. The slot_job is
     * freed right after it returns. */
    void (*finished)(void *owner, struct slot *slot, const struct job_result *result,
                     const struct job *job, int64_t attempt_id);
    void *owner;
};

/* Registers the rack listener that routes attach/detach/ports events to slot jobs. */
int slot_jobs_init(struct station *st);

/* Starts a job on slot's current device. -ENODEV: slot empty; -EBUSY: a job runs there;
 * -ENOENT: the device is not one the driver speaks to; -EAGAIN: its tty is not there yet. */
int slot_job_start(struct station *st, struct slot *slot, const struct slot_job_params *params);
void slot_job_abort(struct slot *slot, const char *why);
/* Aborts every running job (shutdown); returns how many were running. */
size_t slot_jobs_abort_all(struct station *st, const char *why);
size_t slot_jobs_active(struct station *st);
/* The session context of the job running on slot (progress, identity), or NULL. */
const struct proto_ctx *slot_job_ctx(const struct slot *slot);

/* Saves job's wire ring as data_dir/attempts/<uuid>.log; writes the path relative to
 * data_dir into ref ("" when it could not be saved: logged). */
void slot_job_save_trace(struct station *st, const struct slot *slot, const struct job *job,
                         const char *uuid, char *ref, size_t reflen);

/* How the driver reaches this device: interface and transport (PROTO_TRANSPORT_*), or
 * -ENOENT when the id is unknown to the driver and to the config. */
int slot_job_route(const struct station *st, const struct proto *driver, uint16_t vid, uint16_t pid,
                   int *ret_interface, uint8_t *ret_transports);

#endif
