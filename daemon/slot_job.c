/* Slot jobs (see slot_job.h). */
#include "slot_job.h"

#include <errno.h>
#include <libudev.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "loop_usb.h"
#include "transport.h"

struct slot_job {
    struct station *st;
    struct slot *slot;
    struct slot_job_params p;
    struct job *job;
    int waiting_device; /* the session asked for re-enumeration */
    /* slot->attach_count when it asked: only a device attached after that is "back" (the old
     * one may still be listed, its ttys already gone, when the wait begins) */
    uint64_t wait_attach_count;
    struct db_attempt attempt;
    int64_t attempt_id; /* 0: not recorded (no database, or the insert failed) */
};

int slot_job_route(const struct station *st, const struct proto *driver, uint16_t vid, uint16_t pid,
                   int *ret_interface, uint8_t *ret_transports)
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

static unsigned long sysattr_ulong(struct udev_device *d, const char *name)
{
    const char *v = udev_device_get_sysattr_value(d, name);
    char *end;
    unsigned long n = v ? strtoul(v, &end, 10) : 0;
    return v && end != v ? n : ULONG_MAX;
}

/* The tty list comes from the udev tty monitor, the device from libusb's hotplug: two event
 * streams read independently. When a module is pulled and the next one plugged on the same
 * port, the new device can reach us before the old module's ttys are reported gone (seen in
 * the soak: S2 opened the old ttyUSB63 and failed with ENOENT). So a listed tty is used only
 * while sysfs says it hangs under that interface of this very device (bus and address): a
 * stale entry names a node that is gone, or, once its number was given out again, another
 * module's port. */
static int tty_on_device(struct udev *udev, const struct rack_tty *tty,
                         const struct rack_device *dev)
{
    struct udev_device *t = udev_device_new_from_subsystem_sysname(udev, "tty", tty->sysname);
    if (!t)
        return 0;
    struct udev_device *intf =
        udev_device_get_parent_with_subsystem_devtype(t, "usb", "usb_interface");
    struct udev_device *usb = udev_device_get_parent_with_subsystem_devtype(t, "usb", "usb_device");
    char port[RACK_PATH_MAX];
    int ifnum = -1;
    int ok =
        intf && usb &&
        rack_parse_interface_name(udev_device_get_sysname(intf), port, sizeof(port), &ifnum) == 0 &&
        strcmp(port, dev->port_path) == 0 && ifnum == tty->interface_number &&
        sysattr_ulong(usb, "busnum") == dev->bus && sysattr_ulong(usb, "devnum") == dev->address;
    udev_device_unref(t); /* (its parents belong to it) */
    return ok;
}

/* Opens the transport for the slot's current device, preferring the tty when the driver can
 * use one and the kernel gave the interface one (the kernel driver already owns it).
 * -ENOENT: the device has no port this driver uses; -EAGAIN: its tty is not there yet. */
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
        struct udev *udev = n ? udev_new() : NULL;
        for (size_t i = 0; udev && i < n; i++) {
            if (iface >= 0 && ttys[i]->interface_number != iface)
                continue;
            if (!tty_on_device(udev, ttys[i], dev)) {
                log_slot(LOG_LEVEL_DEBUG, slot->cfg.label, dev->port_path,
                         "%s is not (or no longer) interface %d of this device: not used",
                         ttys[i]->devnode, ttys[i]->interface_number);
                continue;
            }
            udev_unref(udev);
            r = transport_serial_open(st->loop, ttys[i]->devnode, 115200, ret);
            /* Gone between the check and the open: the module is leaving. (-ENOENT means
             * "no port of this driver" to the callers.) */
            return r == -ENOENT ? -ENODEV : r;
        }
        if (udev)
            udev_unref(udev);
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
    sj->wait_attach_count = sj->slot->attach_count;
}

static void on_progress(void *owner, struct job *job)
{
    (void)owner, (void)job; /* live progress goes to the API with the workflow */
}

static void record_begin(struct slot_job *sj)
{
    struct station *st = sj->st;
    if (!st->db || sj->p.unrecorded)
        return;
    struct db_attempt *a = &sj->attempt;
    if (sj->p.attempt)
        *a = *sj->p.attempt;
    else
        memset(a, 0, sizeof(*a));
    db_field_set(a->station_id, sizeof(a->station_id), st->cfg.station_id);
    db_field_set(a->slot, sizeof(a->slot), sj->slot->cfg.label);
    db_field_set(a->usb_path, sizeof(a->usb_path), sj->slot->device->port_path);
    db_field_set(a->protocol, sizeof(a->protocol), sj->p.driver->name);
    a->started_unix_ms = station_now_unix_ms();
    int r = db_attempt_begin(st->db, a, &sj->attempt_id);
    if (r < 0) {
        sj->attempt_id = 0;
        log_slot(LOG_LEVEL_ERR, sj->slot->cfg.label, a->usb_path,
                 "cannot record the attempt: %s (%s)", strerror(-r), db_last_error(st->db));
    }
}

/* The wire ring of a failed attempt goes to data_dir/attempts/<uuid>.log: a line failure
 * becomes a reproducible test case. */
void slot_job_save_trace(struct station *st, const struct slot *slot, const struct job *job,
                         const char *uuid, char *ref, size_t reflen)
{
    ref[0] = '\0';
    char dir[PATH_MAX + 16], path[PATH_MAX + 64];
    snprintf(dir, sizeof(dir), "%s/attempts", st->cfg.data_dir);
    if (mkdir(dir, 0750) < 0 && errno != EEXIST)
        return;
    snprintf(path, sizeof(path), "%s/%s.log", dir, uuid);
    FILE *f = fopen(path, "w");
    if (!f) {
        log_slot(LOG_LEVEL_WARNING, slot->cfg.label, slot->device ? slot->device->port_path : "",
                 "cannot save the wire trace %s: %s", path, strerror(errno));
        return;
    }
    static char trace[64 * 1024];
    job_wire_trace(job, trace, sizeof(trace));
    fputs(trace, f);
    if (fclose(f) == 0)
        snprintf(ref, reflen, "attempts/%s.log", uuid);
}

static void record_finish(struct slot_job *sj, const struct job *job, const struct job_result *res)
{
    struct station *st = sj->st;
    if (!st->db || !sj->attempt_id)
        return;
    struct db_attempt *a = &sj->attempt;
    a->ended_unix_ms = station_now_unix_ms();
    a->duration_ms = res->duration_ms;
    a->bytes_written = res->bytes_written;
    a->result = res->ok                     ? DB_RESULT_PASS
                : res->code == FAIL_ABORTED ? DB_RESULT_ABORTED
                                            : DB_RESULT_FAIL;
    if (!res->ok) {
        db_field_set(a->fail_stage, sizeof(a->fail_stage), res->stage);
        db_field_set(a->fail_code, sizeof(a->fail_code), fail_code_to_string(res->code));
        db_field_set(a->fail_message, sizeof(a->fail_message), res->message);
        slot_job_save_trace(st, sj->slot, job, a->attempt_uuid, a->log_ref, sizeof(a->log_ref));
    }
    if (res->ident.imei[0])
        db_field_set(a->imei, sizeof(a->imei), res->ident.imei);
    int r = db_attempt_finish(st->db, a);
    if (r < 0)
        log_slot(LOG_LEVEL_ERR, sj->slot->cfg.label, a->usb_path,
                 "cannot record the end of attempt %lld: %s (%s)", (long long)sj->attempt_id,
                 strerror(-r), db_last_error(st->db));
}

static void on_finished(void *owner, struct job *job, const struct job_result *result)
{
    struct slot_job *sj = owner;
    struct slot *slot = sj->slot;
    record_finish(sj, job, result);
    slot->job = NULL;
    rack_set_slot_state(sj->st->rack, slot, slot->device ? SLOT_ATTACHED : SLOT_EMPTY);
    if (sj->p.finished)
        sj->p.finished(sj->p.owner, slot, result, job, sj->attempt_id);
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
    if (!sj->waiting_device || !sj->slot->device || sj->slot->attach_count == sj->wait_attach_count)
        return;
    struct transport *t;
    int r = open_transport(sj, &t);
    if (r == -EAGAIN)
        return;
    if (r == -ENOENT) {
        /* Not a port of this driver: a module that rebooted from download mode into AT mode,
         * or from AT mode into download mode. The session judges the new identity. */
        sj->waiting_device = 0;
        job_attach_foreign(sj->job, sj->slot->device->vid, sj->slot->device->pid);
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
    record_begin(sj);
    r = job_start(st->loop, &jp, t, &sj->job);
    if (r < 0) {
        if (sj->attempt_id) {
            struct job_result fail = {.code = FAIL_INTERNAL};
            snprintf(fail.stage, sizeof(fail.stage), "start");
            snprintf(fail.message, sizeof(fail.message), "cannot start the session: %s",
                     strerror(-r));
            sj->attempt.result = DB_RESULT_FAIL;
            sj->attempt.ended_unix_ms = station_now_unix_ms();
            db_field_set(sj->attempt.fail_stage, sizeof(sj->attempt.fail_stage), fail.stage);
            db_field_set(sj->attempt.fail_code, sizeof(sj->attempt.fail_code), "internal");
            db_field_set(sj->attempt.fail_message, sizeof(sj->attempt.fail_message), fail.message);
            db_attempt_finish(st->db, &sj->attempt);
        }
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

const struct proto_ctx *slot_job_ctx(const struct slot *slot)
{
    return slot->job && slot->job->job ? job_ctx(slot->job->job) : NULL;
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
