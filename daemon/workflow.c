/* The production flow: recipes, rack events and the slot views (see workflow.h); the state
 * machine itself is flow_run.c. */
#include "workflow.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "package/pkg.h"
#include "slot_job.h"
#include "workflow_priv.h"

static const char *const state_names[FLOW_COUNT] = {
    [FLOW_IDLE] = "idle",           [FLOW_IDENTIFYING] = "identifying",
    [FLOW_SWITCHING] = "switching", [FLOW_WAIT_DOWNLOAD] = "waiting_download",
    [FLOW_FLASHING] = "flashing",   [FLOW_REBOOTING] = "rebooting",
    [FLOW_VERIFYING] = "verifying", [FLOW_RETRY_WAIT] = "retry_wait",
    [FLOW_PASS] = "pass",           [FLOW_FAIL] = "fail",
    [FLOW_INTERLOCK] = "interlock", [FLOW_QUEUED] = "queued",
};

const char *flow_state_to_string(enum flow_state s)
{
    return (unsigned)s < FLOW_COUNT ? state_names[s] : "unknown";
}

static void recipes_rebuild(struct workflow *w);

static struct flow_slot *flow_slot_of(struct workflow *w, const struct slot *slot)
{
    for (size_t i = 0; i < w->slot_count; i++)
        if (w->slots[i]->slot == slot)
            return w->slots[i];
    return NULL;
}

static void on_rack(void *userdata, enum rack_event ev, struct slot *slot,
                    const struct rack_device *dev)
{
    (void)dev;
    struct workflow *w = userdata;
    struct flow_slot *fs = slot ? flow_slot_of(w, slot) : NULL;
    if (!fs || w->stopped)
        return;
    if (ev == RACK_EV_ATTACH || ev == RACK_EV_PORTS)
        flow_consider(fs);
    else if (ev == RACK_EV_DETACH)
        flow_device_left(fs);
}

static void on_recipe_loaded(void *user, int status, struct pkg_entry *entry, const char *err)
{
    struct recipe_state *rs = user;
    struct workflow *w = rs->w;
    rs->loading = 0;
    w->pending--;
    if (status < 0) {
        log_err("recipe %s: %s: %s", rs->cfg->name, rs->cfg->package, err ? err : "");
        snprintf(rs->error, sizeof(rs->error), "%s", err ? err : strerror(-status));
    } else {
        rs->entry = entry;
        const struct pkg *p = pkg_entry_pkg(entry);
        log_notice("recipe %s: %s package %s, series %s %s, version %s, sha256 %s", rs->cfg->name,
                   pkg_platform_to_string(p->platform), p->name, p->ident.series, p->ident.submodel,
                   p->ident.version, pkg_entry_sha256(entry));
    }
    if (w->stopped)
        return;
    /* Modules that arrived while packages were loading get their turn now. */
    for (size_t i = 0; i < w->slot_count; i++)
        flow_consider(w->slots[i]);
}

/* A pause is a supervisor's decision about a physical slot (a worn cable, a hub being
 * replaced), so it outlasts a daemon restart: it is kept in the settings table under the
 * slot's label, which is how the config names that position in the rack. */
static void pause_key(const struct slot *slot, char key[DB_LABEL_SIZE])
{
    snprintf(key, DB_LABEL_SIZE, "slot.paused.%s", slot->cfg.label);
}

static int pause_store(struct workflow *w, const struct slot *slot, int paused)
{
    char key[DB_LABEL_SIZE];
    if (!w->st->db)
        return 0; /* a station without records (unit tests) */
    pause_key(slot, key);
    int r = db_setting_set(w->st->db, key, paused ? "true" : "false", station_now_unix_ms());
    if (r < 0)
        log_err("slot %s: cannot keep the %s: %s", slot->cfg.label, paused ? "pause" : "resume",
                db_last_error(w->st->db));
    return r;
}

static int pause_stored(struct workflow *w, const struct slot *slot)
{
    char key[DB_LABEL_SIZE], value[16];
    pause_key(slot, key);
    if (!w->st->db || db_setting_get(w->st->db, key, value, sizeof(value), NULL) < 0)
        return 0; /* never paused (or unreadable: the log has it, the slot runs) */
    if (strcmp(value, "true") != 0)
        return 0;
    log_notice("slot %s: paused before the restart, still paused", slot->cfg.label);
    return 1;
}

static struct flow_slot *flow_slot_new(struct workflow *w, struct slot *slot)
{
    struct flow_slot *fs = calloc(1, sizeof(*fs));
    if (!fs)
        return NULL;
    fs->w = w;
    fs->slot = slot;
    fs->recipe = -1;
    fs->state_since_unix_ms = station_now_unix_ms();
    fs->paused = pause_stored(w, slot);
    if (uv_timer_init(w->st->loop, &fs->timer) == 0) {
        fs->timer.data = fs;
        fs->timer_open = 1;
    }
    return fs;
}

int workflow_new(struct station *st, struct workflow **ret)
{
    struct workflow *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->st = st;
    w->slots = calloc(RACK_MAX_SLOTS, sizeof(*w->slots));
    if (!w->slots) {
        free(w);
        return -ENOMEM;
    }
    if (workflow_sync_slots(w) < 0) {
        workflow_stop(w, "startup failed");
        *ret = w;
        return -ENOMEM;
    }
    struct pkg_limits lim;
    pkg_limits_default(&lim);
    int r = pkg_cache_new(st->loop, st->cfg.cache_dir, &lim, &w->cache);
    if (r < 0) {
        log_err("workflow: package cache %s: %s", st->cfg.cache_dir, strerror(-r));
        workflow_stop(w, "startup failed"); /* the caller frees w after the loop ran */
        *ret = w;
        return r;
    }
    r = rack_add_listener(st->rack, on_rack, w);
    if (r < 0) {
        workflow_stop(w, "startup failed");
        *ret = w;
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
            snprintf(rs->error, sizeof(rs->error), "%s", strerror(-r));
        }
    }
    w->config_count = w->recipe_count;
    *ret = w;
    return 0;
}

size_t workflow_pending(const struct workflow *w)
{
    return w->pending;
}

void workflow_stop(struct workflow *w, const char *why)
{
    if (!w || w->stopped)
        return;
    w->stopped = 1;
    for (size_t i = 0; i < w->slot_count; i++) {
        struct flow_slot *fs = w->slots[i];
        flow_abort_idle(fs, why);
        if (fs->timer_open) {
            uv_close((uv_handle_t *)&fs->timer, NULL);
            fs->timer_open = 0;
        }
    }
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
    for (size_t i = 0; i < w->extra_count; i++)
        if (w->extra[i].entry)
            pkg_entry_unref(w->extra[i].entry);
    for (size_t i = 0; i < w->slot_count; i++)
        if (w->slots[i]->entry)
            pkg_entry_unref(w->slots[i]->entry);
    int r = w->cache ? pkg_cache_free(w->cache) : 0;
    if (r < 0)
        return r;
    for (size_t i = 0; i < w->slot_count; i++)
        free(w->slots[i]); /* timers were closed by workflow_stop, the loop ran since */
    free(w->slots);
    free(w);
    return 0;
}

int workflow_slot_view(const struct workflow *w, size_t index, struct flow_view *v)
{
    if (!w || index >= w->slot_count)
        return -ENOENT;
    const struct flow_slot *fs = w->slots[index];
    memset(v, 0, sizeof(*v));
    v->state = fs->state;
    v->state_since_unix_ms = fs->state_since_unix_ms;
    v->attempt_id = fs->attempt.id;
    v->try_no = fs->try_no;
    v->stage = fs->stage; /* of the last failure, until the next module starts */
    v->code = fs->code;
    v->message = fs->message;
    v->instruction = fs->instruction;
    v->model = fs->model;
    v->imei = fs->imei;
    v->revision_before = fs->revision_before;
    v->revision_after = fs->revision_after;
    const struct pkg *p = fs->recipe >= 0 && fs->entry ? pkg_entry_pkg(fs->entry) : NULL;
    v->recipe = fs->recipe >= 0 ? fs->recipe_name : "";
    v->package = p ? p->name : "";
    v->version = p ? p->ident.version : "";
    const struct proto_ctx *ctx = slot_job_ctx(fs->slot);
    if (ctx && fs->state == FLOW_FLASHING) {
        v->phase = ctx->progress.phase ? ctx->progress.phase : "";
        v->done = ctx->progress.done;
        v->total = ctx->progress.total;
    } else {
        v->phase = fs->phase ? fs->phase : "";
        v->done = fs->done;
        v->total = fs->total;
    }
    v->flash_started_unix_ms = fs->flash_started_unix_ms;
    v->paused = fs->paused;
    v->queue_position = flow_queue_position(&w->queue, fs);
    return 0;
}

int workflow_slot_pause(struct workflow *w, size_t index)
{
    if (!w || index >= w->slot_count)
        return -ENOENT;
    struct flow_slot *fs = w->slots[index];
    if (!fs->paused) {
        int r = pause_store(w, fs->slot, 1);
        if (r < 0)
            return r;
    }
    fs->paused = 1;
    flow_queue_remove(&w->queue, fs); /* a queued module waits, out of line, for the resume */
    return 0;
}

int workflow_slot_resume(struct workflow *w, size_t index)
{
    if (!w || index >= w->slot_count)
        return -ENOENT;
    struct flow_slot *fs = w->slots[index];
    if (!fs->paused)
        return 0;
    int r = pause_store(w, fs->slot, 0);
    if (r < 0)
        return r;
    fs->paused = 0;
    flow_consider(fs); /* a module that waited, or a held retry */
    return 0;
}

int workflow_slot_abort(struct workflow *w, size_t index, const char *why)
{
    if (!w || index >= w->slot_count)
        return -ENOENT;
    struct flow_slot *fs = w->slots[index];
    if (fs->slot->job)
        return -EBUSY;
    if (!fs->open)
        return -ENOENT;
    flow_abort_idle(fs, why);
    return 0;
}

/* ---- config reload (daemon/reload.c) ------------------------------------------------------ */

struct pkg_cache *workflow_cache(struct workflow *w)
{
    return w->cache;
}

int workflow_slot_busy(struct workflow *w, const struct slot *slot)
{
    if (slot->job)
        return 1;
    const struct flow_slot *fs = flow_slot_of(w, slot);
    /* Any state but idle is a module between its first job and its removal. */
    return fs && (fs->open || fs->state != FLOW_IDLE);
}

void workflow_limits_changed(struct workflow *w)
{
    if (w && !w->stopped)
        flow_queue_kick(w);
}

static void on_flow_slot_closed(uv_handle_t *h)
{
    free(h->data);
}

void workflow_slot_drop(struct workflow *w, const struct slot *slot)
{
    for (size_t i = 0; i < w->slot_count; i++) {
        struct flow_slot *fs = w->slots[i];
        if (fs->slot != slot)
            continue;
        memmove(&w->slots[i], &w->slots[i + 1], (w->slot_count - i - 1) * sizeof(*w->slots));
        w->slot_count--;
        flow_queue_remove(&w->queue, fs); /* not busy: never in line, but never left dangling */
        if (fs->entry)
            pkg_entry_unref(fs->entry);
        if (fs->timer_open)
            uv_close((uv_handle_t *)&fs->timer, on_flow_slot_closed); /* frees fs */
        else
            free(fs);
        return;
    }
}

int workflow_sync_slots(struct workflow *w)
{
    struct rack *rack = w->st->rack;
    struct flow_slot *order[RACK_MAX_SLOTS];
    size_t n = 0;
    for (size_t i = 0; i < rack_slot_count(rack); i++) {
        struct slot *slot = rack_slot(rack, i);
        if (slot->removed)
            continue;
        struct flow_slot *fs = flow_slot_of(w, slot);
        if (!fs && !(fs = flow_slot_new(w, slot)))
            return -ENOMEM; /* w->slots unchanged: every flow is still listed once */
        order[n++] = fs;
    }
    /* A flow whose slot is not in the rack any more was dropped (workflow_slot_drop) before. */
    memcpy(w->slots, order, n * sizeof(*order));
    w->slot_count = n;
    return 0;
}

int workflow_recipes_replace(struct workflow *w, struct pkg_entry *const *entries, size_t count)
{
    const struct config *cfg = &w->st->cfg;
    if (w->pending || count != cfg->recipe_count)
        return -EBUSY;
    for (size_t i = 0; i < w->recipe_count; i++)
        if (w->recipes[i].entry)
            pkg_entry_unref(w->recipes[i].entry); /* attempts hold their own reference */
    for (size_t i = 0; i < count; i++)
        w->recipes[i] = (struct recipe_state){
            .w = w, .cfg = &cfg->recipes[i], .entry = entries[i], .loading = 0};
    w->recipe_count = w->config_count = count;
    recipes_rebuild(w);
    return 0;
}

/* ---- recipes of the API ------------------------------------------------------------------- */

/* The table after the config's recipes: the API's, unless the file has the name. */
static void recipes_rebuild(struct workflow *w)
{
    for (size_t i = w->config_count; i < w->recipe_count; i++)
        if (w->recipes[i].entry)
            pkg_entry_unref(w->recipes[i].entry);
    size_t n = w->config_count;
    for (size_t k = 0; k < w->extra_count; k++) {
        const struct recipe_state *x = &w->extra[k];
        size_t i = 0;
        while (i < w->config_count && strcmp(w->recipes[i].cfg->name, x->cfg->name) != 0)
            i++;
        if (i < w->config_count) {
            log_warning("recipe %s: [recipe %s] of the configuration file wins over the API's "
                        "recipe %s (package %s): delete one of them",
                        x->cfg->name, x->cfg->name, x->cfg->name, x->cfg->package);
            continue;
        }
        if (n >= CONFIG_MAX_RECIPES) {
            log_warning("recipe %s: left out, the table holds %d recipes", x->cfg->name,
                        CONFIG_MAX_RECIPES);
            continue;
        }
        w->recipes[n] = *x;
        pkg_entry_ref(x->entry);
        n++;
    }
    w->recipe_count = n;
}

int workflow_recipes_set_extra(struct workflow *w, const struct workflow_recipe *extra,
                               size_t count)
{
    if (count > CONFIG_MAX_RECIPES)
        return -E2BIG;
    for (size_t i = 0; i < w->extra_count; i++)
        if (w->extra[i].entry)
            pkg_entry_unref(w->extra[i].entry);
    for (size_t i = 0; i < count; i++)
        w->extra[i] = (struct recipe_state){
            .w = w, .cfg = extra[i].cfg, .entry = pkg_entry_ref(extra[i].entry), .api = 1};
    w->extra_count = count;
    recipes_rebuild(w);
    return 0;
}

void workflow_hold(struct workflow *w)
{
    w->pending++;
}

void workflow_release(struct workflow *w)
{
    if (w->pending && --w->pending == 0 && !w->stopped)
        for (size_t i = 0; i < w->slot_count; i++)
            flow_consider(w->slots[i]);
}

int workflow_recipe(const struct workflow *w, size_t index, struct workflow_recipe_view *v)
{
    if (!w || index >= w->recipe_count)
        return -ENOENT;
    const struct recipe_state *rs = &w->recipes[index];
    *v = (struct workflow_recipe_view){.name = rs->cfg->name,
                                       .options = rs->cfg->options,
                                       .entry = rs->entry,
                                       .loading = rs->loading,
                                       .api = rs->api,
                                       .error = rs->error};
    return 0;
}

size_t workflow_package_users(const struct workflow *w, const char *sha256, char *labels,
                              size_t size)
{
    size_t n = 0, len = 0;
    if (size)
        labels[0] = '\0';
    for (size_t i = 0; w && i < w->slot_count; i++) {
        const struct flow_slot *fs = w->slots[i];
        if (!fs->open || !fs->entry || strcmp(pkg_entry_sha256(fs->entry), sha256) != 0)
            continue;
        n++;
        if (len < size)
            len += (size_t)snprintf(labels + len, size - len, "%s%s", len ? ", " : "",
                                    fs->slot->cfg.label);
    }
    return n;
}
