/* The per-slot state machine of the production flow (see workflow.h for the shape). Every
 * function here runs on the loop thread; jobs report back through their finished hooks. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "at/at.h"
#include "event_bus.h"
#include "flow_rules.h"
#include "log.h"
#include "mes_interlock.h"
#include "package/pkg.h"
#include "slot_job.h"
#include "workflow_priv.h"

static struct station *st_of(const struct flow_slot *fs)
{
    return fs->w->st;
}

static const char *port_of(const struct flow_slot *fs)
{
    return fs->slot->device ? fs->slot->device->port_path : fs->attempt.usb_path;
}

/* ---- what kind of device is on the slot ---------------------------------------------- */

const struct proto *flow_download_driver(const struct workflow *w, uint16_t vid, uint16_t pid)
{
    const struct config *cfg = &w->st->cfg;
    for (size_t i = 0; i < cfg->usb_id_count; i++)
        if (cfg->usb_ids[i].vid == vid && cfg->usb_ids[i].pid == pid)
            return strcmp(cfg->usb_ids[i].role, "at") == 0
                       ? NULL
                       : proto_registry_find(cfg->usb_ids[i].role);
    const struct proto *p = proto_registry_match_usb(vid, pid, NULL);
    return p && strcmp(p->name, "at") != 0 ? p : NULL;
}

/* The AT-port entry of vid:pid (built-in table plus [usb] ... :at lines), -ENOENT if none. */
static int at_lookup(const struct workflow *w, uint16_t vid, uint16_t pid, struct at_usb_info *ret)
{
    const struct config *cfg = &w->st->cfg;
    struct at_extra_id extra[CONFIG_USB_IDS_MAX];
    size_t n = 0;
    for (size_t i = 0; i < cfg->usb_id_count; i++)
        if (strcmp(cfg->usb_ids[i].role, "at") == 0)
            extra[n++] = (struct at_extra_id){cfg->usb_ids[i].vid, cfg->usb_ids[i].pid,
                                              cfg->usb_ids[i].interface_number};
    return at_usb_lookup(vid, pid, extra, n, ret);
}

static int device_is_at(const struct flow_slot *fs)
{
    struct at_usb_info info;
    const struct rack_device *d = fs->slot->device;
    return d && at_lookup(fs->w, d->vid, d->pid, &info) == 0;
}

static const struct pkg *recipe_pkg(const struct flow_slot *fs)
{
    /* the attempt's own reference: the recipe table may have been reloaded since */
    return fs->recipe >= 0 && fs->entry ? pkg_entry_pkg(fs->entry) : NULL;
}

/* ---- state, timer, events ------------------------------------------------------------ */

/* A `flow` row of the slot timeline: {"state","attempt_id","try"}, plus the fields of extra
 * (may be NULL; its reference is taken). */
static void flow_event(struct flow_slot *fs, json_t *extra)
{
    struct station *st = st_of(fs);
    json_t *d = json_pack("{s:s, s:I, s:i}", "state", flow_state_to_string(fs->state), "attempt_id",
                          (json_int_t)fs->attempt.id, "try", (int)fs->try_no);
    char *text = NULL;
    bool now = extra != NULL; /* not a state change: stamped when it happens */
    if (d && extra)
        json_object_update(d, extra);
    json_decref(extra);
    if (!st->db || !d || !(text = json_dumps(d, JSON_COMPACT))) {
        json_decref(d);
        return;
    }
    json_decref(d);
    /* The timeline shows each step of each attempt next to attach/detach. */
    struct db_slot_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.ts_unix_ms = now ? station_now_unix_ms() : fs->state_since_unix_ms;
    db_field_set(ev.station_id, sizeof(ev.station_id), st->cfg.station_id);
    db_field_set(ev.slot, sizeof(ev.slot), fs->slot->cfg.label);
    db_field_set(ev.usb_path, sizeof(ev.usb_path), port_of(fs));
    db_field_set(ev.event, sizeof(ev.event), "flow");
    if (fs->slot->device) {
        ev.vid = fs->slot->device->vid;
        ev.pid = fs->slot->device->pid;
    }
    /* extra strings are bounded by their makers: the detail is never cut mid-JSON */
    snprintf(ev.detail, sizeof(ev.detail), "%s", text);
    free(text);
    if (db_slot_event_insert(st->db, &ev, NULL) < 0)
        log_slot(LOG_LEVEL_WARNING, fs->slot->cfg.label, port_of(fs),
                 "cannot record the flow event: %s", db_last_error(st->db));
    else
        event_bus_poke(); /* live event streams */
}

static void set_state(struct flow_slot *fs, enum flow_state s)
{
    enum flow_state was = fs->state;
    if (was == s)
        return;
    fs->state = s;
    fs->state_since_unix_ms = station_now_unix_ms();
    log_slot(LOG_LEVEL_INFO, fs->slot->cfg.label, port_of(fs), "flow: %s", flow_state_to_string(s));
    flow_event(fs, NULL);
    if (was == FLOW_QUEUED)
        flow_queue_remove(&fs->w->queue, fs); /* started, or ended while it waited */
    if (flow_holds_place(was) && !flow_holds_place(s))
        flow_queue_kick(fs->w); /* after this slot's own event: the timeline keeps the order */
}

static void on_timer(uv_timer_t *t);

static void timer_arm(struct flow_slot *fs, uint64_t ms)
{
    if (fs->timer_open)
        uv_timer_start(&fs->timer, on_timer, ms, 0);
}

static void timer_stop(struct flow_slot *fs)
{
    if (fs->timer_open)
        uv_timer_stop(&fs->timer);
}

/* ---- attempts ------------------------------------------------------------------------ */

static void copy(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "");
}

/* A new module on the slot: forget the previous one. */
static void forget_module(struct flow_slot *fs)
{
    if (fs->entry)
        pkg_entry_unref(fs->entry);
    fs->entry = NULL;
    fs->recipe = -1;
    fs->recipe_name[0] = fs->recipe_options[0] = '\0';
    fs->try_no = 0;
    fs->from_download = 0;
    fs->model[0] = fs->imei[0] = fs->revision_before[0] = fs->revision_after[0] = '\0';
    fs->stage[0] = fs->code[0] = fs->message[0] = fs->instruction[0] = '\0';
    fs->phase = NULL;
    fs->done = fs->total = 0;
    fs->flash_started_unix_ms = 0;
    memset(&fs->attempt, 0, sizeof(fs->attempt));
}

static void fill_identity(struct flow_slot *fs, struct db_attempt *a)
{
    db_field_set(a->module_model, sizeof(a->module_model), fs->model);
    db_field_set(a->imei, sizeof(a->imei), fs->imei);
    db_field_set(a->revision_before, sizeof(a->revision_before), fs->revision_before);
    struct at_revision rev;
    if (fs->revision_before[0] && at_parse_revision(fs->revision_before, &rev) == 0) {
        db_field_set(a->ordering_code, sizeof(a->ordering_code), rev.ordering);
        db_field_set(a->submodel, sizeof(a->submodel), rev.submodel);
    }
    const struct pkg *p = recipe_pkg(fs);
    if (p) {
        db_field_set(a->platform, sizeof(a->platform), pkg_platform_to_string(p->platform));
        db_field_set(a->package_name, sizeof(a->package_name), p->name);
        db_field_set(a->package_version, sizeof(a->package_version), p->ident.version);
        db_field_set(a->package_sha256, sizeof(a->package_sha256), pkg_entry_sha256(fs->entry));
    }
}

/* Opens the attempt of one try. */
static void run_open(struct flow_slot *fs, const char *protocol)
{
    struct station *st = st_of(fs);
    struct db_attempt *a = &fs->attempt;
    memset(a, 0, sizeof(*a));
    fs->open = 1;
    fs->try_no++;
    fs->run_start_ms = uv_now(st->loop);
    fs->stage[0] = fs->code[0] = fs->message[0] = fs->instruction[0] = '\0';
    fs->revision_after[0] = '\0';
    fs->phase = NULL;
    fs->done = fs->total = 0;
    fs->flash_started_unix_ms = 0;
    db_field_set(a->station_id, sizeof(a->station_id), st->cfg.station_id);
    db_field_set(a->slot, sizeof(a->slot), fs->slot->cfg.label);
    db_field_set(a->usb_path, sizeof(a->usb_path), port_of(fs));
    db_field_set(a->protocol, sizeof(a->protocol), protocol);
    db_field_set(a->operator_name, sizeof(a->operator_name), st->context.operator_name);
    db_field_set(a->work_order, sizeof(a->work_order), st->context.work_order);
    db_field_set(a->lot, sizeof(a->lot), st->context.lot);
    fill_identity(fs, a);
    a->started_unix_ms = station_now_unix_ms();
    if (st->db && db_attempt_begin(st->db, a, NULL) < 0) {
        log_slot(LOG_LEVEL_ERR, fs->slot->cfg.label, port_of(fs), "cannot record the attempt: %s",
                 db_last_error(st->db));
        a->id = 0;
    }
}

static void try_next(struct flow_slot *fs);

/* Ends the open attempt: pass when code is FAIL_NONE. job (may be NULL) is the job whose
 * failure ended it: its wire trace is saved with the record. */
static void run_close(struct flow_slot *fs, enum fail_code code, const char *stage, const char *msg,
                      const struct job *job)
{
    struct station *st = st_of(fs);
    struct db_attempt *a = &fs->attempt;
    if (!fs->open)
        return;
    fs->open = 0;
    timer_stop(fs);
    mes_interlock_cancel(fs->interlock); /* whatever ended the try, the answer is moot */
    fs->interlock = NULL;
    copy(fs->message, sizeof(fs->message), msg);
    if (code == FAIL_NONE) {
        fs->stage[0] = fs->code[0] = fs->instruction[0] = '\0';
    } else {
        copy(fs->stage, sizeof(fs->stage), stage);
        copy(fs->code, sizeof(fs->code), fail_code_to_string(code));
        flow_instruction(code, stage, msg, fs->instruction, sizeof(fs->instruction));
    }
    fill_identity(fs, a);
    db_field_set(a->revision_after, sizeof(a->revision_after), fs->revision_after);
    a->ended_unix_ms = station_now_unix_ms();
    a->duration_ms = uv_now(st->loop) - fs->run_start_ms;
    a->bytes_written = fs->done;
    a->result = code == FAIL_NONE      ? DB_RESULT_PASS
                : code == FAIL_ABORTED ? DB_RESULT_ABORTED
                                       : DB_RESULT_FAIL;
    if (code != FAIL_NONE) {
        db_field_set(a->fail_stage, sizeof(a->fail_stage), stage);
        db_field_set(a->fail_code, sizeof(a->fail_code), fail_code_to_string(code));
        db_field_set(a->fail_message, sizeof(a->fail_message), msg);
        if (job && a->attempt_uuid[0])
            slot_job_save_trace(st, fs->slot, job, a->attempt_uuid, a->log_ref, sizeof(a->log_ref));
    }
    if (st->db && a->id && db_attempt_finish(st->db, a) < 0)
        log_slot(LOG_LEVEL_ERR, fs->slot->cfg.label, port_of(fs),
                 "cannot record the end of attempt %" PRId64 ": %s", a->id, db_last_error(st->db));
    else /* the verdict joins the slot event timeline (live events, docs/http.md) */
        event_bus_attempt_finished(st, fs->slot->cfg.label, port_of(fs), a, fs->try_no);

    struct slot *slot = fs->slot;
    copy(slot->last_result, sizeof(slot->last_result),
         code == FAIL_NONE      ? "pass"
         : code == FAIL_ABORTED ? "aborted"
                                : "fail");
    if (code == FAIL_NONE)
        snprintf(slot->last_message, sizeof(slot->last_message), "%.250s", msg);
    else
        snprintf(slot->last_message, sizeof(slot->last_message), "%s at %s: %.200s",
                 fail_code_to_string(code), stage, msg);
    slot->last_attempt_id = a->id;
    slot->last_end_unix_ms = a->ended_unix_ms;
    log_slot(code == FAIL_NONE ? LOG_LEVEL_NOTICE : LOG_LEVEL_WARNING, slot->cfg.label, port_of(fs),
             "attempt %" PRId64 " (try %u, IMEI %s): %s%s%s", a->id, fs->try_no,
             fs->imei[0] ? fs->imei : "unknown", slot->last_message,
             code == FAIL_NONE ? "" : " -> ", fs->instruction);

    if (!slot->device || fs->leaving) {
        set_state(fs, FLOW_IDLE); /* the module is gone already: the view keeps why */
        return;
    }
    if (code == FAIL_NONE) {
        set_state(fs, FLOW_PASS);
        return;
    }
    if (code != FAIL_ABORTED && !st->stopping && !fs->w->stopped && slot->device &&
        flow_is_transient(code, stage, fs->done) && fs->try_no <= st->cfg.flow.retries) {
        set_state(fs, FLOW_RETRY_WAIT);
        timer_arm(fs, st->cfg.flow.retry_delay_ms);
        return;
    }
    set_state(fs, FLOW_FAIL);
}

/* ---- jobs ---------------------------------------------------------------------------- */

typedef void (*finished_fn)(void *owner, struct slot *slot, const struct job_result *result,
                            const struct job *job, int64_t attempt_id);

/* 0 started; -EAGAIN the port cannot be opened yet (a tty); else the attempt is closed. */
static int start_job(struct flow_slot *fs, const struct proto *driver, const struct pkg *pkg,
                     const uint8_t *image, size_t image_len, finished_fn finished,
                     const char *stage)
{
    struct station *st = st_of(fs);
    struct slot_job_params p = {
        .driver = driver,
        .params = {.package = pkg,
                   .image = image,
                   .image_len = image_len,
                   .options = fs->job_options[0] ? fs->job_options : NULL},
        .unrecorded = 1,
        .finished = finished,
        .owner = fs,
    };
    int r = slot_job_start(st, fs->slot, &p);
    if (r == 0 || r == -EAGAIN)
        return r;
    char msg[200];
    snprintf(msg, sizeof(msg), "cannot start the %s session on %04x:%04x: %s", driver->name,
             fs->slot->device ? fs->slot->device->vid : 0,
             fs->slot->device ? fs->slot->device->pid : 0, strerror(-r));
    run_close(fs, r == -ENODEV ? FAIL_DISCONNECTED : FAIL_INTERNAL, stage, msg, NULL);
    return r;
}

static void at_options(struct flow_slot *fs, const char *ours)
{
    const char *extra = st_of(fs)->cfg.flow.at_options;
    snprintf(fs->job_options, sizeof(fs->job_options), "%s%s%s", ours, extra[0] ? ";" : "", extra);
}

static void on_identified(void *owner, struct slot *slot, const struct job_result *res,
                          const struct job *job, int64_t attempt_id);
static void on_verified(void *owner, struct slot *slot, const struct job_result *res,
                        const struct job *job, int64_t attempt_id);
static void on_switched(void *owner, struct slot *slot, const struct job_result *res,
                        const struct job *job, int64_t attempt_id);
/* Drivers end with a restart and may wait for the module to come back themselves; when that
 * wait runs out after the device confirmed every byte, the module did not return: that is the
 * verify stage's failure, not a failed flash. */
static int flashed_but_not_back(const struct job_result *res, const struct proto_ctx *ctx)
{
    return res->not_back && ctx->progress.total && res->bytes_written >= ctx->progress.total;
}

static void on_flashed(void *owner, struct slot *slot, const struct job_result *res,
                       const struct job *job, int64_t attempt_id);

/* Identification (verify = 0) or verification after reboot (verify = 1). */
static void start_identify(struct flow_slot *fs, int verify)
{
    struct station *st = st_of(fs);
    set_state(fs, verify ? FLOW_VERIFYING : FLOW_IDENTIFYING);
    /* A module that just booted may take seconds before its AT port answers. */
    at_options(fs, verify ? "mode=identify;sync_tries=15" : "mode=identify");
    int r = start_job(fs, &at_proto, NULL, NULL, 0, verify ? on_verified : on_identified,
                      verify ? FLOW_STAGE_VERIFY : FLOW_STAGE_IDENTIFY);
    if (r == -EAGAIN)
        timer_arm(fs, st->cfg.limits.reenumerate_timeout_ms); /* its tty is on the way */
    else if (r == 0)
        timer_stop(fs);
}

static void start_flash(struct flow_slot *fs)
{
    struct station *st = st_of(fs);
    const struct rack_device *dev = fs->slot->device;
    if (fs->slot->job)
        return;
    if (!dev) {
        set_state(fs, FLOW_WAIT_DOWNLOAD);
        return;
    }
    const struct proto *driver = flow_download_driver(fs->w, dev->vid, dev->pid);
    const struct pkg *pkg = recipe_pkg(fs);
    char msg[300];
    if (!driver) {
        if (device_is_at(fs)) {
            run_close(fs, FAIL_REJECTED, FLOW_STAGE_SWITCH,
                      "the module came back in AT mode instead of download mode", NULL);
            return;
        }
        set_state(fs, FLOW_WAIT_DOWNLOAD);
        return;
    }
    if (!pkg) {
        run_close(fs, FAIL_INTERNAL, FLOW_STAGE_FLASH, "the recipe's package is gone", NULL);
        return;
    }
    if (strcmp(driver->name, pkg_platform_to_string(pkg->platform)) != 0) {
        snprintf(msg, sizeof(msg),
                 "the module came back as a %s download port (%04x:%04x) but package %s is %s "
                 "firmware",
                 driver->name, dev->vid, dev->pid, pkg->name,
                 pkg_platform_to_string(pkg->platform));
        run_close(fs, FAIL_NO_MATCH, FLOW_STAGE_FLASH, msg, NULL);
        return;
    }
    copy(fs->job_options, sizeof(fs->job_options), fs->recipe_options);
    size_t image_len = 0;
    const uint8_t *image = pkg_entry_flash(fs->entry, &image_len);
    db_field_set(fs->attempt.protocol, sizeof(fs->attempt.protocol), driver->name);
    int r = start_job(fs, driver, pkg, image, image_len, on_flashed, FLOW_STAGE_FLASH);
    if (r == -EAGAIN) {
        if (fs->state != FLOW_WAIT_DOWNLOAD) {
            set_state(fs, FLOW_WAIT_DOWNLOAD);
            timer_arm(fs, st->cfg.limits.reenumerate_timeout_ms);
        }
        return;
    }
    if (r < 0)
        return;
    timer_stop(fs);
    fs->flash_started_unix_ms = station_now_unix_ms();
    set_state(fs, FLOW_FLASHING);
    log_slot(LOG_LEVEL_NOTICE, fs->slot->cfg.label, dev->port_path,
             "flashing %s %s (recipe %s) over %s", pkg->name, pkg->ident.version, fs->recipe_name,
             driver->name);
}

static void start_switch(struct flow_slot *fs)
{
    set_state(fs, FLOW_SWITCHING);
    at_options(fs, "mode=download;identify=0");
    start_job(fs, &at_proto, NULL, NULL, 0, on_switched, FLOW_STAGE_SWITCH);
}

/* The download part begins (flash = 1: the module is a download port already) when a place
 * is free and nobody waits before it; else the module waits queued, first come first served.
 * In AT mode that is safe for any time; a paused slot waits out of line until its resume. */
static void begin_download(struct flow_slot *fs, int flash)
{
    struct workflow *w = fs->w;
    uint32_t max = st_of(fs)->cfg.limits.max_jobs;
    fs->queue_flash = flash;
    if (!flow_queue_may_start(&w->queue, flow_places_held(w), max)) {
        set_state(fs, FLOW_QUEUED);
        if (!fs->paused)
            flow_queue_push(&w->queue, fs);
        log_slot(LOG_LEVEL_NOTICE, fs->slot->cfg.label, port_of(fs),
                 "waits for a download place ([limits] max_jobs = %u): %zu in line", max,
                 w->queue.len);
        return;
    }
    flow_start_download(fs);
}

void flow_start_download(struct flow_slot *fs)
{
    fs->queue_flash ? start_flash(fs) : start_switch(fs);
}

/* The MES's answer (or the lack of one) about the unit the guard matched: nothing has been
 * written to it yet. */
static void interlock_answered(struct flow_slot *fs, const struct mes_interlock_answer *ans)
{
    struct station *st = st_of(fs);
    const char *label = fs->slot->cfg.label, *imei = fs->imei[0] ? fs->imei : "unknown";
    char msg[DB_MESSAGE_SIZE];
    if (st->stopping || fs->w->stopped) {
        run_close(fs, FAIL_ABORTED, FLOW_STAGE_GUARD, "the station is shutting down", NULL);
        return;
    }
    switch (ans->verdict) {
    case MES_INTERLOCK_CLEARED:
        log_slot(LOG_LEVEL_INFO, label, port_of(fs), "the MES cleared IMEI %s (HTTP %ld)", imei,
                 ans->status);
        begin_download(fs, 0);
        return;
    case MES_INTERLOCK_REFUSED:
        snprintf(msg, sizeof(msg), "the MES refused IMEI %s (HTTP %ld): %s", imei, ans->status,
                 ans->detail[0] ? ans->detail : "no reason given");
        run_close(fs, FAIL_MES_REJECTED, FLOW_STAGE_GUARD, msg, NULL);
        return;
    case MES_INTERLOCK_NO_ANSWER:
    default:
        break;
    }
    if (!st->cfg.mes.interlock.allow_on_error) {
        snprintf(msg, sizeof(msg), "the MES could not be asked whether IMEI %s may be flashed: %s",
                 imei, ans->detail);
        run_close(fs, FAIL_MES_UNREACHABLE, FLOW_STAGE_GUARD, msg, NULL);
        return;
    }
    /* interlock_on_error = allow: the line chose throughput over the check; say so loudly. */
    log_slot(LOG_LEVEL_WARNING, label, port_of(fs),
             "IMEI %s is flashed without the MES's clearance ([mes] interlock_on_error = allow): "
             "%s",
             imei, ans->detail);
    flow_event(fs, json_pack("{s:s, s:s}", "interlock", "unchecked", "error", ans->detail));
    begin_download(fs, 0);
}

static void on_interlock(void *ud, const struct mes_interlock_answer *ans)
{
    struct flow_slot *fs = ud;
    fs->interlock = NULL; /* the call is over */
    interlock_answered(fs, ans);
}

static void start_interlock(struct flow_slot *fs)
{
    struct station *st = st_of(fs);
    set_state(fs, FLOW_INTERLOCK);
    int r = mes_interlock_start(st->loop, &st->cfg.mes, &fs->attempt, fs->recipe_name, on_interlock,
                                fs, &fs->interlock);
    if (r < 0) {
        struct mes_interlock_answer ans = {.verdict = MES_INTERLOCK_NO_ANSWER};
        snprintf(ans.detail, sizeof(ans.detail), "the request cannot be made: %s", strerror(-r));
        fs->interlock = NULL;
        interlock_answered(fs, &ans);
    }
}

static void guard_and_switch(struct flow_slot *fs)
{
    struct workflow *w = fs->w;
    struct flow_recipe_view views[CONFIG_MAX_RECIPES];
    for (size_t i = 0; i < w->recipe_count; i++) {
        views[i].name = w->recipes[i].cfg->name;
        views[i].pkg = w->recipes[i].entry ? pkg_entry_pkg(w->recipes[i].entry) : NULL;
    }
    struct flow_pick pick;
    if (flow_pick_recipe(views, w->recipe_count, fs->revision_before, &pick) < 0) {
        run_close(fs, FAIL_NO_MATCH, FLOW_STAGE_GUARD, pick.reason, NULL);
        return;
    }
    fs->recipe = pick.index;
    copy(fs->recipe_name, sizeof(fs->recipe_name), w->recipes[pick.index].cfg->name);
    copy(fs->recipe_options, sizeof(fs->recipe_options), w->recipes[pick.index].cfg->options);
    if (fs->entry)
        pkg_entry_unref(fs->entry);
    fs->entry = pkg_entry_ref(w->recipes[pick.index].entry);
    fill_identity(fs, &fs->attempt);
    log_slot(LOG_LEVEL_NOTICE, fs->slot->cfg.label, port_of(fs), "%s %s IMEI %s: %s (%s)",
             fs->model, fs->revision_before, fs->imei, pick.reason, pick.rule);
    const struct rack_device *dev = fs->slot->device;
    struct at_usb_info info;
    if (dev && at_lookup(w, dev->vid, dev->pid, &info) == 0 &&
        info.download_switch == AT_SWITCH_NONE) {
        char msg[400];
        snprintf(msg, sizeof(msg), "%s modules cannot be switched to download mode over AT: %s",
                 info.family ? info.family : "these",
                 info.operator_hint ? info.operator_hint : AT_HINT_BOOT_PIN);
        run_close(fs, FAIL_REJECTED, FLOW_STAGE_SWITCH, msg, NULL);
        return;
    }
    if (w->st->cfg.mes.interlock.url[0])
        start_interlock(fs);
    else
        begin_download(fs, 0);
}

/* ---- job results --------------------------------------------------------------------- */

static int stopping(struct flow_slot *fs, const struct job_result *res, const char *stage,
                    const struct job *job)
{
    if (!st_of(fs)->stopping && !fs->w->stopped)
        return 0;
    run_close(fs, res->ok ? FAIL_ABORTED : res->code, stage,
              res->ok ? "the station is shutting down" : res->message, job);
    return 1;
}

static void on_identified(void *owner, struct slot *slot, const struct job_result *res,
                          const struct job *job, int64_t attempt_id)
{
    (void)slot, (void)attempt_id;
    struct flow_slot *fs = owner;
    copy(fs->model, sizeof(fs->model), res->ident.chip);
    copy(fs->revision_before, sizeof(fs->revision_before), res->ident.revision);
    if (res->ident.imei[0])
        copy(fs->imei, sizeof(fs->imei), res->ident.imei);
    if (fs->imei[0] && fs->attempt.id && st_of(fs)->db)
        db_attempt_set_imei(st_of(fs)->db, fs->attempt.id, fs->imei, &fs->attempt.attempt_no);
    if (stopping(fs, res, FLOW_STAGE_IDENTIFY, job))
        return;
    if (!res->ok) {
        run_close(fs, res->code, FLOW_STAGE_IDENTIFY, res->message, job);
        return;
    }
    guard_and_switch(fs);
}

static void on_switched(void *owner, struct slot *slot, const struct job_result *res,
                        const struct job *job, int64_t attempt_id)
{
    (void)slot, (void)attempt_id;
    struct flow_slot *fs = owner;
    if (stopping(fs, res, FLOW_STAGE_SWITCH, job))
        return;
    if (!res->ok) {
        run_close(fs, res->code, FLOW_STAGE_SWITCH, res->message, job);
        return;
    }
    set_state(fs, FLOW_WAIT_DOWNLOAD);
    timer_arm(fs, st_of(fs)->cfg.limits.reenumerate_timeout_ms);
    start_flash(fs);
}

static void on_flashed(void *owner, struct slot *slot, const struct job_result *res,
                       const struct job *job, int64_t attempt_id)
{
    (void)slot, (void)attempt_id;
    struct flow_slot *fs = owner;
    const struct proto_ctx *ctx = job_ctx(job);
    fs->phase = ctx->progress.phase;
    fs->done = res->bytes_written;
    fs->total = ctx->progress.total;
    if (res->ident.imei[0] && !fs->imei[0])
        copy(fs->imei, sizeof(fs->imei), res->ident.imei);
    if (stopping(fs, res, FLOW_STAGE_FLASH, job))
        return;
    if (!res->ok && flashed_but_not_back(res, ctx)) {
        /* Every byte was confirmed and the module was told to restart: what failed is its
         * return, which is the verify stage's question, not the flash's. */
        char msg[400];
        snprintf(msg, sizeof(msg),
                 "the flash completed (%" PRIu64 " bytes) but the module did "
                 "not come back after its restart: %.200s",
                 res->bytes_written, res->message);
        run_close(fs, FAIL_TIMEOUT, FLOW_STAGE_VERIFY, msg, job);
        return;
    }
    if (!res->ok) {
        run_close(fs, res->code, FLOW_STAGE_FLASH, res->message, job);
        return;
    }
    fs->saw_download_after_flash = fs->left_after_flash = 0;
    set_state(fs, FLOW_REBOOTING);
    timer_arm(fs, st_of(fs)->cfg.flow.reboot_timeout_ms);
    if (device_is_at(fs))
        start_identify(fs, 1);
}

static void on_verified(void *owner, struct slot *slot, const struct job_result *res,
                        const struct job *job, int64_t attempt_id)
{
    (void)slot, (void)attempt_id;
    struct flow_slot *fs = owner;
    if (stopping(fs, res, FLOW_STAGE_VERIFY, job))
        return;
    if (!res->ok) {
        run_close(fs, res->code, FLOW_STAGE_VERIFY, res->message, job);
        return;
    }
    copy(fs->revision_after, sizeof(fs->revision_after), res->ident.revision);
    if (fs->from_download) {
        /* Arrived in download mode: this is the first time the module says who it is. */
        copy(fs->model, sizeof(fs->model), res->ident.chip);
        if (!fs->imei[0])
            copy(fs->imei, sizeof(fs->imei), res->ident.imei);
    } else if (!fs->model[0]) {
        copy(fs->model, sizeof(fs->model), res->ident.chip);
    }
    char msg[400];
    enum fail_code code = flow_verify(recipe_pkg(fs), fs->from_download ? "" : fs->imei,
                                      fs->revision_after, res->ident.imei, msg, sizeof(msg));
    run_close(fs, code, FLOW_STAGE_VERIFY, msg, NULL);
}

/* ---- entry points -------------------------------------------------------------------- */

/* A download port without identification: the one recipe of its platform, if exactly one. */
static void start_from_download(struct flow_slot *fs, const struct proto *driver)
{
    struct workflow *w = fs->w;
    int match = -1, matches = 0;
    for (size_t i = 0; i < w->recipe_count; i++) {
        const struct pkg *p = w->recipes[i].entry ? pkg_entry_pkg(w->recipes[i].entry) : NULL;
        if (p && strcmp(pkg_platform_to_string(p->platform), driver->name) == 0) {
            match = (int)i;
            matches++;
        }
    }
    fs->from_download = 1;
    run_open(fs, driver->name);
    char msg[300];
    if (matches != 1) {
        if (!matches)
            snprintf(msg, sizeof(msg), "arrived in download mode and no recipe holds a %s package",
                     driver->name);
        else
            snprintf(msg, sizeof(msg),
                     "arrived in download mode and %d recipes hold %s packages: which one fits "
                     "cannot be told without identifying it; plug it in normal (AT) mode",
                     matches, driver->name);
        run_close(fs, FAIL_NO_MATCH, FLOW_STAGE_GUARD, msg, NULL);
        return;
    }
    fs->recipe = match;
    copy(fs->recipe_name, sizeof(fs->recipe_name), w->recipes[match].cfg->name);
    copy(fs->recipe_options, sizeof(fs->recipe_options), w->recipes[match].cfg->options);
    if (fs->entry)
        pkg_entry_unref(fs->entry);
    fs->entry = pkg_entry_ref(w->recipes[match].entry);
    fill_identity(fs, &fs->attempt);
    begin_download(fs, 1);
}

/* The next try on the module that is on the slot (a new module, or a retry). */
static void try_next(struct flow_slot *fs)
{
    const struct rack_device *dev = fs->slot->device;
    if (!dev) {
        set_state(fs, FLOW_IDLE);
        return;
    }
    const struct proto *driver = flow_download_driver(fs->w, dev->vid, dev->pid);
    if (driver) {
        if (fs->recipe >= 0 && recipe_pkg(fs)) { /* a retry: the guard's choice stands */
            run_open(fs, driver->name);
            begin_download(fs, 1);
        } else {
            start_from_download(fs, driver);
        }
        return;
    }
    if (device_is_at(fs)) {
        run_open(fs, "at");
        start_identify(fs, 0);
        return;
    }
    set_state(fs, FLOW_IDLE); /* not a module: a hub, a loopback gadget, ... */
}

static void on_timer(uv_timer_t *t)
{
    struct flow_slot *fs = t->data;
    char msg[300];
    switch (fs->state) {
    case FLOW_RETRY_WAIT:
        if (!fs->paused) /* else held: resuming starts it (flow_consider) */
            try_next(fs);
        break;
    case FLOW_REBOOTING:
        snprintf(msg, sizeof(msg),
                 "the module did not come back in AT mode within %u s after the flash%s",
                 st_of(fs)->cfg.flow.reboot_timeout_ms / 1000,
                 fs->saw_download_after_flash
                     ? " (it came back as a download port: the new firmware does not start)"
                     : "");
        run_close(fs, FAIL_TIMEOUT, FLOW_STAGE_VERIFY, msg, NULL);
        break;
    case FLOW_WAIT_DOWNLOAD:
        run_close(fs, FAIL_TIMEOUT, FLOW_STAGE_SWITCH,
                  "the download port did not appear (or could not be opened) after the switch",
                  NULL);
        break;
    case FLOW_IDENTIFYING:
    case FLOW_VERIFYING:
        if (!fs->slot->job)
            run_close(fs, FAIL_TIMEOUT,
                      fs->state == FLOW_VERIFYING ? FLOW_STAGE_VERIFY : FLOW_STAGE_IDENTIFY,
                      "the module's AT port (its tty) did not appear", NULL);
        break;
    default:
        break;
    }
}

void flow_consider(struct flow_slot *fs)
{
    struct station *st = st_of(fs);
    if (st->stopping || fs->w->stopped || fs->slot->job)
        return;
    switch (fs->state) {
    case FLOW_IDLE:
        if (!fs->slot->device || fs->w->pending || fs->paused)
            return; /* recipes still loading, or paused: their end looks again */
        forget_module(fs);
        try_next(fs);
        break;
    case FLOW_RETRY_WAIT: /* a retry whose time came while the slot was paused */
        if (!fs->paused && fs->timer_open && !uv_is_active((uv_handle_t *)&fs->timer))
            try_next(fs);
        break;
    case FLOW_IDENTIFYING:
    case FLOW_VERIFYING:
        if (fs->slot->device && device_is_at(fs))
            start_identify(fs, fs->state == FLOW_VERIFYING);
        break;
    case FLOW_WAIT_DOWNLOAD:
        start_flash(fs);
        break;
    case FLOW_QUEUED: /* a resume puts it back in line, at the end */
        if (!fs->paused && flow_queue_push(&fs->w->queue, fs) == 0)
            flow_queue_kick(fs->w);
        break;
    case FLOW_REBOOTING:
        if (device_is_at(fs))
            start_identify(fs, 1);
        else if (fs->slot->device && fs->left_after_flash)
            fs->saw_download_after_flash = 1;
        break;
    default: /* a job runs, a retry is scheduled, or a verdict waits for removal */
        break;
    }
}

/* The stage of an open try that has no job running right now (queued: waiting for the
 * switch, or as a download port for the flash). */
static const char *idle_stage(const struct flow_slot *fs)
{
    enum flow_state s = fs->state;
    return s == FLOW_REBOOTING || s == FLOW_VERIFYING ? FLOW_STAGE_VERIFY
           : s == FLOW_WAIT_DOWNLOAD                  ? FLOW_STAGE_SWITCH
           : s == FLOW_INTERLOCK                      ? FLOW_STAGE_GUARD
           : s == FLOW_QUEUED ? (fs->queue_flash ? FLOW_STAGE_FLASH : FLOW_STAGE_SWITCH)
                              : FLOW_STAGE_IDENTIFY;
}

void flow_device_left(struct flow_slot *fs)
{
    switch (fs->state) {
    case FLOW_PASS:
    case FLOW_FAIL:
        set_state(fs, FLOW_IDLE);
        break;
    case FLOW_RETRY_WAIT:
        timer_stop(fs);
        set_state(fs, FLOW_IDLE); /* the module was taken away before its retry */
        break;
    case FLOW_REBOOTING:
        fs->left_after_flash = 1;
        break;
    case FLOW_INTERLOCK: /* no job to notice it: the MES call is cancelled by the close */
    case FLOW_QUEUED:    /* nor here: the close takes it out of the line */
        fs->leaving = 1;
        run_close(fs, FAIL_DISCONNECTED, idle_stage(fs),
                  fs->state == FLOW_QUEUED
                      ? "the module left USB while it waited for a download place"
                      : "the module left USB while the MES was being asked about it",
                  NULL);
        fs->leaving = 0;
        break;
    default: /* a running job sees it; switches expect it */
        break;
    }
}

void flow_abort_idle(struct flow_slot *fs, const char *why)
{
    if (!fs->open || fs->slot->job)
        return;
    run_close(fs, FAIL_ABORTED, idle_stage(fs), why, NULL);
}
