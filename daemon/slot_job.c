/* Slot jobs (see slot_job.h). */
#include "slot_job.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "loop_usb.h"
#include "transport.h"

struct slot_job {
    struct station *st;
    struct slot *slot;
    struct slot_job_params p;
    struct job *job;
    int waiting_device; /* the session asked for re-enumeration */
};

int slot_job_route(const struct station *st, const struct proto *driver, uint16_t vid,
                   uint16_t pid, int *ret_interface, uint8_t *ret_transports)
{
    for (size_t i = 0; i < st->cfg.usb_id_count; i++) {
        const struct config_usb_id *id = &st->cfg.usb_ids[i];
        if (id->vid == vid && id->pid == pid && strcmp(id->role, driver->name) == 0) {
            *ret_interface = id->interface_number;
            *ret_transports = driver->transports;
            return 0;
        }
    }
    for (size_t i = 0; i < driver->usb_id_count; i++) {
        const struct proto_usb_id *id = &driver->usb_ids[i];
        if (id->vid == vid && id->pid == pid) {
            *ret_interface = id->interface_number;
            *ret_transports = id->transports;
            return 0;
        }
    }
    return -ENOENT;
}

/* Opens the transport for the slot's current device, preferring the tty when the driver can
 * use one and the kernel gave the interface one (the kernel driver already owns it). */
static int open_transport(struct slot_job *sj, struct transport **ret)
{
    struct station *st = sj->st;
    struct slot *slot = sj->slot;
    const struct rack_device *dev = slot->device;
    if (!dev)
        return -ENODEV;
    int iface;
    uint8_t transports;
    int r = slot_job_route(st, sj->p.driver, dev->vid, dev->pid, &iface, &transports);
    if (r < 0)
        return r;
    if (transports & PROTO_TRANSPORT_SERIAL) {
        const struct rack_tty *ttys[16];
        size_t n = rack_ttys_for_port(st->rack, dev->port_path, ttys, 16);
        for (size_t i = 0; i < n; i++)
            if (iface < 0 || ttys[i]->interface_number == iface)
                return transport_serial_open(st->loop, ttys[i]->devnode, 115200, ret);
        if (!(transports & PROTO_TRANSPORT_USB_BULK))
            return -EAGAIN; /* tty not created yet: a "ports" event will retry */
    }
    if ((transports & PROTO_TRANSPORT_USB_BULK) && dev->usb)
        return transport_usb_open(st->usb, dev->usb, iface, ret);
    return -ENOENT;
}

static void on_wait_device(void *owner, struct job *job, uint32_t timeout_ms)
{
    (void)job, (void)timeout_ms;
    struct slot_job *sj = owner;
    sj->waiting_device = 1;
}

static void on_progress(void *owner, struct job *job)
{
    (void)owner, (void)job; /* live progress goes to the API with the workflow */
}

static void on_finished(void *owner, struct job *job, const struct job_result *result)
{
    struct slot_job *sj = owner;
    struct slot *slot = sj->slot;
    slot->job = NULL;
    rack_set_slot_state(sj->st->rack, slot, slot->device ? SLOT_ATTACHED : SLOT_EMPTY);
    if (sj->p.finished)
        sj->p.finished(sj->p.owner, slot, result, job);
    job_free(job);
    struct station *st = sj->st;
    free(sj);
    if (st->stopping && st->jobs_drained && slot_jobs_active(st) == 0)
        st->jobs_drained(st);
}

static const struct job_hooks slot_job_hooks = {on_wait_device, on_progress, on_finished};

/* The device on the slot changed while a job waits for it: attach when it is usable. */
static void try_attach(struct slot_job *sj)
{
    if (!sj->waiting_device || !sj->slot->device)
        return;
    struct transport *t;
    int r = open_transport(sj, &t);
    if (r == -EAGAIN)
        return;
    if (r == -ENOENT) {
        /* Not a port of this driver (say, the module rebooted into AT mode): keep waiting;
         * the job's re-enumeration timer ends the wait. */
        log_slot(LOG_LEVEL_NOTICE, sj->slot->cfg.label, sj->slot->device->port_path,
                 "%s: %04x:%04x came back, not a %s port; still waiting",
                 sj->p.driver->name, sj->slot->device->vid, sj->slot->device->pid,
                 sj->p.driver->name);
        return;
    }
    if (r < 0) {
        log_slot(LOG_LEVEL_WARNING, sj->slot->cfg.label, sj->slot->device->port_path,
                 "%s: cannot open the device after re-enumeration: %s; still waiting",
                 sj->p.driver->name, strerror(-r));
        return;
    }
    sj->waiting_device = 0;
    job_attach(sj->job, t);
}

static void on_rack_event(void *userdata, enum rack_event ev, struct slot *slot,
                          const struct rack_device *dev)
{
    (void)userdata, (void)dev;
    if (!slot || !slot->job)
        return;
    struct slot_job *sj = slot->job;
    switch (ev) {
    case RACK_EV_DETACH:
        if (!sj->waiting_device)
            job_device_left(sj->job);
        break;
    case RACK_EV_ATTACH:
    case RACK_EV_PORTS:
        try_attach(sj);
        break;
    default:
        break;
    }
}

int slot_jobs_init(struct station *st)
{
    return rack_add_listener(st->rack, on_rack_event, st);
}

int slot_job_start(struct station *st, struct slot *slot, const struct slot_job_params *params)
{
    if (slot->job)
        return -EBUSY;
    if (!slot->device)
        return -ENODEV;
    struct slot_job *sj = calloc(1, sizeof(*sj));
    if (!sj)
        return -ENOMEM;
    sj->st = st;
    sj->slot = slot;
    sj->p = *params;
    struct transport *t;
    int r = open_transport(sj, &t);
    if (r < 0) {
        free(sj);
        return r;
    }
    const struct config_limits *lim = &st->cfg.limits;
    struct job_params jp = {
        .driver = params->driver,
        .params = params->params,
        .slot_label = slot->cfg.label,
        .port_path = slot->device->port_path,
        .no_progress_ms = lim->no_progress_timeout_ms,
        .job_timeout_ms = lim->job_timeout_ms,
        .reenumerate_max_ms = lim->reenumerate_timeout_ms,
        .max_steps = lim->max_job_steps,
        .ring_frames = lim->wire_ring_frames,
        .hooks = &slot_job_hooks,
        .owner = sj,
    };
    slot->job = sj;
    rack_set_slot_state(st->rack, slot, SLOT_BUSY);
    r = job_start(st->loop, &jp, t, &sj->job);
    if (r < 0) {
        slot->job = NULL;
        rack_set_slot_state(st->rack, slot, SLOT_ATTACHED);
        transport_close(t, NULL, NULL);
        free(sj);
        return r;
    }
    return 0;
}

void slot_job_abort(struct slot *slot, const char *why)
{
    if (slot->job)
        job_abort(slot->job->job, why);
}

size_t slot_jobs_active(struct station *st)
{
    size_t n = 0;
    for (size_t i = 0; i < rack_slot_count(st->rack); i++)
        if (rack_slot(st->rack, i)->job)
            n++;
    return n;
}

size_t slot_jobs_abort_all(struct station *st, const char *why)
{
    size_t n = 0;
    for (size_t i = 0; i < rack_slot_count(st->rack); i++) {
        struct slot *slot = rack_slot(st->rack, i);
        if (slot->job) {
            slot_job_abort(slot, why);
            n++;
        }
    }
    return n;
}
