/* The production flow, download-mode path (see workflow.h). */
#include "workflow.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "package/pkg.h"
#include "pkg_cache.h"
#include "protocol.h"
#include "rack.h"
#include "slot_job.h"

struct workflow;

struct recipe_state {
    struct workflow *w;
    const struct config_recipe *cfg;
    struct pkg_entry *entry; /* NULL while loading or after a failure */
    int loading;
};

struct workflow {
    struct station *st;
    struct pkg_cache *cache;
    struct recipe_state recipes[CONFIG_MAX_RECIPES];
    size_t recipe_count;
    size_t pending;
    /* attach_count of each slot's device that was already refused: say it once per module */
    uint64_t refused[CONFIG_MAX_SLOTS];
    /* a device that is not a download port (the module rebooted into AT mode, or the next
     * module) appeared on the slot since its last flash ended */
    uint8_t other_since_flash[CONFIG_MAX_SLOTS];
};

struct flash_run {
    struct workflow *w;
    struct pkg_entry *entry;
    char recipe[CONFIG_LABEL_MAX];
};

static size_t slot_index(struct workflow *w, const struct slot *slot)
{
    return (size_t)(slot - rack_slot(w->st->rack, 0));
}

/* The driver for a download port, from the registry or a config [usb] id; NULL for AT-mode
 * modules and devices no driver knows. */
static const struct proto *download_driver(struct workflow *w, uint16_t vid, uint16_t pid)
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

static void refuse(struct workflow *w, struct slot *slot, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void refuse(struct workflow *w, struct slot *slot, const char *fmt, ...)
{
    size_t i = slot_index(w, slot);
    if (w->refused[i] == slot->attach_count)
        return;
    w->refused[i] = slot->attach_count;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(slot->last_message, sizeof(slot->last_message), fmt, ap);
    va_end(ap);
    snprintf(slot->last_result, sizeof(slot->last_result), "refused");
    slot->last_attempt_id = 0;
    slot->last_end_unix_ms = station_now_unix_ms();
    log_slot(LOG_LEVEL_WARNING, slot->cfg.label, slot->device ? slot->device->port_path : "",
             "not flashed: %s", slot->last_message);
}

static void on_flash_finished(void *owner, struct slot *slot, const struct job_result *res,
                              const struct job *job, int64_t attempt_id)
{
    (void)job;
    struct flash_run *run = owner;
    snprintf(slot->last_result, sizeof(slot->last_result), "%s",
             res->ok                     ? "pass"
             : res->code == FAIL_ABORTED ? "aborted"
                                         : "fail");
    if (res->ok)
        snprintf(slot->last_message, sizeof(slot->last_message), "flashed with recipe %s",
                 run->recipe);
    else /* cut to the slot's field on purpose: the attempt row keeps the whole message */
        snprintf(slot->last_message, sizeof(slot->last_message), "%s at %s: %.200s",
                 fail_code_to_string(res->code), res->stage, res->message);
    slot->last_attempt_id = attempt_id;
    slot->last_end_unix_ms = station_now_unix_ms();
    run->w->other_since_flash[slot_index(run->w, slot)] = 0;
    pkg_entry_unref(run->entry);
    free(run);
}

/* Flashes the module on slot if it is a download port, idle, and exactly one recipe fits. */
static void consider(struct workflow *w, struct slot *slot)
{
    struct station *st = w->st;
    const struct rack_device *dev = slot->device;
    if (st->stopping || slot->job || !dev)
        return;
    const struct proto *driver = download_driver(w, dev->vid, dev->pid);
    if (!driver) {
        w->other_since_flash[slot_index(w, slot)] = 1;
        return; /* AT mode, or not a module: identification comes with the workflow issue */
    }
    /* A download port back on the slot soon after a flash, with nothing else seen there in
     * between, is the same module that did not reboot into normal mode: do not loop on it.
     * The next module (after this one came back in AT mode and was pulled) is flashed. */
    uint64_t now = station_now_unix_ms();
    if (slot->last_result[0] && strcmp(slot->last_result, "refused") != 0 &&
        !w->other_since_flash[slot_index(w, slot)] &&
        now - slot->last_end_unix_ms < WORKFLOW_HOLD_MS) {
        refuse(w, slot,
               "came back as a %s download port right after its flash ended: not flashed again "
               "on its own; unplug it and plug it in again to retry",
               driver->name);
        return;
    }
    const struct recipe_state *match = NULL;
    size_t matches = 0;
    for (size_t i = 0; i < w->recipe_count; i++) {
        const struct pkg *p = w->recipes[i].entry ? pkg_entry_pkg(w->recipes[i].entry) : NULL;
        if (p && strcmp(pkg_platform_to_string(p->platform), driver->name) == 0) {
            match = &w->recipes[i];
            matches++;
        }
    }
    if (!matches && w->pending)
        return; /* a recipe is still loading: its completion looks at the slot again */
    if (!matches) {
        refuse(w, slot, "no recipe holds a %s package; add one to the station", driver->name);
        return;
    }
    if (matches > 1) {
        refuse(w, slot,
               "arrived in download mode and %zu recipes hold %s packages: which one fits this "
               "module cannot be told without identifying it; plug it in normal (AT) mode",
               matches, driver->name);
        return;
    }
    const struct pkg *pkg = pkg_entry_pkg(match->entry);
    struct flash_run *run = calloc(1, sizeof(*run));
    if (!run)
        return;
    run->w = w;
    run->entry = pkg_entry_ref(match->entry);
    snprintf(run->recipe, sizeof(run->recipe), "%s", match->cfg->name);
    struct db_attempt attempt;
    memset(&attempt, 0, sizeof(attempt));
    db_field_set(attempt.platform, sizeof(attempt.platform), driver->name);
    db_field_set(attempt.package_name, sizeof(attempt.package_name), pkg->name);
    db_field_set(attempt.package_version, sizeof(attempt.package_version), pkg->ident.version);
    db_field_set(attempt.package_sha256, sizeof(attempt.package_sha256),
                 pkg_entry_sha256(match->entry));
    size_t image_len = 0;
    const uint8_t *image = pkg_entry_flash(match->entry, &image_len);
    struct slot_job_params p = {
        .driver = driver,
        .params = {.package = pkg, .image = image, .image_len = image_len},
        .attempt = &attempt,
        .finished = on_flash_finished,
        .owner = run,
    };
    int r = slot_job_start(st, slot, &p);
    if (r == 0) {
        log_slot(LOG_LEVEL_NOTICE, slot->cfg.label, dev->port_path,
                 "%04x:%04x in download mode: flashing recipe %s (%s %s)", dev->vid, dev->pid,
                 run->recipe, pkg->name, pkg->ident.version);
        return;
    }
    pkg_entry_unref(run->entry);
    free(run);
    if (r != -EAGAIN) /* -EAGAIN: its tty is not there yet; the "ports" event retries */
        refuse(w, slot, "cannot start %s on %04x:%04x: %s", driver->name, dev->vid, dev->pid,
               strerror(-r));
}

static void on_rack(void *userdata, enum rack_event ev, struct slot *slot,
                    const struct rack_device *dev)
{
    (void)dev;
    struct workflow *w = userdata;
    if (slot && (ev == RACK_EV_ATTACH || ev == RACK_EV_PORTS))
        consider(w, slot);
}

static void on_recipe_loaded(void *user, int status, struct pkg_entry *entry, const char *err)
{
    struct recipe_state *rs = user;
    struct workflow *w = rs->w;
    rs->loading = 0;
    w->pending--;
    if (status < 0) {
        log_err("recipe %s: %s: %s", rs->cfg->name, rs->cfg->package, err ? err : "");
    } else {
        rs->entry = entry;
        const struct pkg *p = pkg_entry_pkg(entry);
        log_notice("recipe %s: %s package %s, series %s %s, version %s, sha256 %s", rs->cfg->name,
                   pkg_platform_to_string(p->platform), p->name, p->ident.series, p->ident.submodel,
                   p->ident.version, pkg_entry_sha256(entry));
    }
    /* Modules that arrived while packages were loading get their turn now. */
    for (size_t i = 0; i < rack_slot_count(w->st->rack); i++)
        consider(w, rack_slot(w->st->rack, i));
}

int workflow_new(struct station *st, struct workflow **ret)
{
    struct workflow *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->st = st;
    struct pkg_limits lim;
    pkg_limits_default(&lim);
    int r = pkg_cache_new(st->loop, st->cfg.cache_dir, &lim, &w->cache);
    if (r < 0) {
        log_err("workflow: package cache %s: %s", st->cfg.cache_dir, strerror(-r));
        free(w);
        return r;
    }
    r = rack_add_listener(st->rack, on_rack, w);
    if (r < 0) {
        pkg_cache_free(w->cache);
        free(w);
        return r;
    }
    for (size_t i = 0; i < st->cfg.recipe_count; i++) {
        struct recipe_state *rs = &w->recipes[w->recipe_count++];
        rs->w = w;
        rs->cfg = &st->cfg.recipes[i];
        rs->loading = 1;
        w->pending++;
        r = pkg_cache_load(w->cache, rs->cfg->package, on_recipe_loaded, rs);
        if (r < 0) {
            rs->loading = 0;
            w->pending--;
            log_err("recipe %s: cannot load %s: %s", rs->cfg->name, rs->cfg->package, strerror(-r));
        }
    }
    *ret = w;
    return 0;
}

size_t workflow_pending(const struct workflow *w)
{
    return w->pending;
}

int workflow_free(struct workflow *w)
{
    if (!w)
        return 0;
    if (w->pending)
        return -EBUSY;
    for (size_t i = 0; i < w->recipe_count; i++)
        if (w->recipes[i].entry)
            pkg_entry_unref(w->recipes[i].entry);
    int r = pkg_cache_free(w->cache);
    if (r < 0)
        return r;
    free(w);
    return 0;
}
