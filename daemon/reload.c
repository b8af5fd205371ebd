/* Configuration reload: read, validate, load the new packages, then switch in one step (see
 * reload.h for what applies when). */
#include "reload.h"

#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "mes.h"
#include "pkg_cache.h"
#include "rack.h"
#include "workflow.h"

struct load_ctx {
    struct reload *r;
    size_t index;
};

struct reload {
    struct station *st;
    char path[PATH_MAX];
    struct mes **mes;
    uv_timer_t thaw; /* runs while slots are frozen */
    int timer_open;
    int stopped;
    reload_done_fn done;
    void *done_ud;

    /* the reload in progress */
    int running;
    char who[64];
    int again; /* another request came while this one ran */
    char again_who[64];
    struct config *next;
    char restart_only[256];
    struct pkg_entry *entries[CONFIG_MAX_RECIPES];
    struct load_ctx loads[CONFIG_MAX_RECIPES];
    size_t loads_pending;
    char load_err[2 * PATH_MAX + 512]; /* the first package that failed */
};

int reload_new(struct station *st, const char *path, struct mes **mes, struct reload **ret)
{
    struct reload *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->st = st;
    snprintf(r->path, sizeof(r->path), "%s", path);
    r->mes = mes;
    if (uv_timer_init(st->loop, &r->thaw) == 0) {
        r->thaw.data = r;
        r->timer_open = 1;
    }
    *ret = r;
    return 0;
}

void reload_set_done(struct reload *r, reload_done_fn fn, void *ud)
{
    r->done = fn;
    r->done_ud = ud;
}

/* ---- restart-only settings --------------------------------------------------------------- */

static void keep(int differ, void *next, const void *cur, size_t size, const char *name, int *n,
                 char *out, size_t outlen)
{
    if (!differ)
        return;
    memcpy(next, cur, size);
    size_t len = strlen(out);
    if (len + strlen(name) + 2 < outlen)
        snprintf(out + len, outlen - len, "%s%s", len ? " " : "", name);
    (*n)++;
}

int reload_keep_restart_only(const struct config *cur, struct config *next, char *out,
                             size_t outlen)
{
    int n = 0;
    out[0] = '\0';
#define KEEP_STR(f, name)                                                                          \
    keep(strcmp(cur->f, next->f) != 0, next->f, cur->f, sizeof(cur->f), name, &n, out, outlen)
#define KEEP_NUM(f, name)                                                                          \
    keep(cur->f != next->f, &next->f, &cur->f, sizeof(cur->f), name, &n, out, outlen)
    KEEP_STR(station_id, "station.id");
    KEEP_STR(http_listen, "http.listen"); /* the server's socket is bound once, at start-up */
    KEEP_NUM(limits.http_max_connections, "http.max_connections");
    KEEP_NUM(limits.http_max_body_bytes, "http.max_body_bytes");
    KEEP_STR(db_path, "storage.database");
    KEEP_STR(data_dir, "storage.data_dir");
    KEEP_STR(cache_dir, "storage.cache_dir");
#undef KEEP_STR
#undef KEEP_NUM
    /* Extra ids also decide how modules that are mid-attempt re-enumerate, and the udev rules
     * that give the service access to them are generated at install time. */
    int ids_differ =
        cur->usb_id_count != next->usb_id_count ||
        memcmp(cur->usb_ids, next->usb_ids, cur->usb_id_count * sizeof(cur->usb_ids[0]));
    if (ids_differ)
        next->usb_id_count = cur->usb_id_count;
    keep(ids_differ, next->usb_ids, cur->usb_ids, sizeof(cur->usb_ids), "usb.id", &n, out, outlen);
    return n;
}

/* ---- records ------------------------------------------------------------------------------ */

/* One audit row and one slot-timeline row per reload, applied or rejected. */
static void record(struct reload *r, const char *who, json_t *detail)
{
    struct station *st = r->st;
    char *text = json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS);
    if (text && strlen(text) >= DB_DETAIL_SIZE) {
        /* Too many names to list: the counts and the outcome stay. */
        json_object_del(detail, "added");
        json_object_del(detail, "removed");
        json_object_del(detail, "changed");
        json_object_del(detail, "deferred");
        free(text);
        text = json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS);
    }
    json_decref(detail);
    if (!st->db || !text) {
        free(text);
        return;
    }
    uint64_t now = station_now_unix_ms();
    struct db_audit a;
    memset(&a, 0, sizeof(a));
    a.ts_unix_ms = now;
    db_field_set(a.actor, sizeof(a.actor), who);
    db_field_set(a.action, sizeof(a.action), "config.reload");
    db_field_set(a.target, sizeof(a.target), r->path);
    db_field_set(a.detail, sizeof(a.detail), text);
    if (db_audit_insert(st->db, &a, NULL) < 0)
        log_err("reload: cannot write the audit log: %s", db_last_error(st->db));
    struct db_slot_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.ts_unix_ms = now;
    db_field_set(ev.station_id, sizeof(ev.station_id), st->cfg.station_id);
    db_field_set(ev.event, sizeof(ev.event), "config");
    db_field_set(ev.detail, sizeof(ev.detail), text);
    if (db_slot_event_insert(st->db, &ev, NULL) < 0)
        log_err("reload: cannot record the config event: %s", db_last_error(st->db));
    free(text);
}

static void reject(struct reload *r, const char *who, int status, const char *why)
{
    log_err("reload (%s): %s; the running configuration is kept", who, why);
    record(r, who, json_pack("{s:s, s:s}", "result", "rejected", "error", why));
    if (r->done)
        r->done(r->done_ud, status, why);
}

/* ---- the slot map ------------------------------------------------------------------------- */

static int same_slot(const struct config_slot *a, const struct config_slot *b)
{
    return strcmp(a->port, b->port) == 0 && a->row == b->row && a->column == b->column;
}

/* Brings the rack and the workflow to st->cfg's map for every slot that is not busy; busy
 * slots are frozen. all = 0 (thaw ticks) only looks at frozen slots. Lists what changed
 * into the json arrays (may be NULL). Returns how many slots stay frozen. */
static size_t reconcile(struct reload *r, int all, json_t *added, json_t *removed, json_t *changed,
                        json_t *deferred)
{
    struct station *st = r->st;
    struct rack *rack = st->rack;
    size_t frozen = 0;
    int touched = all;
    for (size_t i = 0; i < rack_slot_count(rack); i++) {
        struct slot *s = rack_slot(rack, i);
        if (!all && !s->frozen)
            continue;
        const struct config_slot *cs = config_slot_by_label(&st->cfg, s->cfg.label);
        int differs = !cs || !same_slot(cs, &s->cfg);
        if (workflow_slot_busy(st->workflow, s)) {
            if (differs && !s->frozen)
                log_slot(LOG_LEVEL_NOTICE, s->cfg.label, s->cfg.port,
                         "reload: the slot is busy; it keeps port %s until its module is "
                         "removed, then %s",
                         s->cfg.port, cs ? "the new mapping applies" : "it goes away");
            if (differs && deferred)
                json_array_append_new(deferred, json_string(s->cfg.label));
            s->frozen = 1;
            frozen++;
            continue;
        }
        if (s->frozen && differs)
            log_slot(LOG_LEVEL_NOTICE, s->cfg.label, s->cfg.port,
                     "reload: the module is gone; the new configuration applies to this slot now");
        touched |= s->frozen;
        s->frozen = 0;
        if (!cs) {
            if (removed)
                json_array_append_new(removed, json_string(s->cfg.label));
            workflow_slot_drop(st->workflow, s);
            rack_slot_remove(rack, s);
        } else if (differs) {
            if (changed)
                json_array_append_new(changed, json_string(s->cfg.label));
            s->cfg = *cs;
        }
    }
    if (!touched)
        return frozen;
    for (size_t i = 0; all && i < st->cfg.slot_count; i++) {
        const struct config_slot *cs = &st->cfg.slots[i];
        if (rack_slot_by_label(rack, cs->label))
            continue;
        int e = rack_slot_add(rack, cs, NULL);
        if (e < 0) /* RACK_MAX_SLOTS is twice the config's maximum: cannot happen */
            log_err("reload: slot %s: %s", cs->label, strerror(-e));
        else if (added)
            json_array_append_new(added, json_string(cs->label));
    }
    /* Flows first, so the devices that attach below find theirs. */
    if (workflow_sync_slots(st->workflow) < 0)
        log_err("reload: out of memory adding slot flows");
    rack_remap_devices(rack);
    rack_sort_slots(rack, &st->cfg);
    if (workflow_sync_slots(st->workflow) < 0)
        log_err("reload: out of memory ordering slot flows");
    return frozen;
}

static void on_thaw(uv_timer_t *t)
{
    struct reload *r = t->data;
    if (r->stopped || r->st->stopping || reconcile(r, 0, NULL, NULL, NULL, NULL) == 0)
        uv_timer_stop(t);
}

size_t reload_frozen(const struct reload *r)
{
    size_t n = 0;
    for (size_t i = 0; i < rack_slot_count(r->st->rack); i++)
        n += rack_slot(r->st->rack, i)->frozen != 0;
    return n;
}

/* ---- applying ----------------------------------------------------------------------------- */

static void apply(struct reload *r)
{
    struct station *st = r->st;
    struct config *next = r->next;
    /* The interlock (last in config_mes) reads st->cfg at each check: no push restart. */
    int mes_changed = memcmp(&st->cfg.mes, &next->mes, offsetof(struct config_mes, interlock)) != 0;
    int interlock_changed =
        memcmp(&st->cfg.mes.interlock, &next->mes.interlock, sizeof(next->mes.interlock)) != 0;
    size_t tokens_before = st->cfg.auth.token_count;
    st->cfg = *next; /* tokens, [flow], [limits] and the rest are read from here at use */
    if (workflow_recipes_replace(st->workflow, r->entries, next->recipe_count) == 0)
        memset(r->entries, 0, sizeof(r->entries)); /* taken over */
    else /* reload_request refused while start-up loads ran, and no other load adds to them */
        log_err("reload: the recipe table could not be replaced");
    workflow_limits_changed(st->workflow); /* a higher max_jobs starts queued modules now */
    enum log_level level;
    if (log_level_from_string(st->cfg.log_level, &level) == 0)
        log_set_level(level);

    json_t *added = json_array(), *removed = json_array(), *changed = json_array(),
           *deferred = json_array();
    size_t frozen = reconcile(r, 1, added, removed, changed, deferred);
    if (frozen && r->timer_open)
        uv_timer_start(&r->thaw, on_thaw, RELOAD_THAW_MS, RELOAD_THAW_MS);

    if (interlock_changed)
        log_notice("reload: the MES pre-flash interlock is now %s%s", st->cfg.mes.interlock.url,
                   st->cfg.mes.interlock.url[0] ? "" : "off");
    const char *mes_state = "unchanged";
    if (mes_changed) {
        mes_stop(*r->mes, NULL, NULL); /* in-flight requests are cancelled; rows stay queued */
        *r->mes = NULL;
        mes_state = "off";
        if (st->cfg.mes.url[0]) {
            int e = mes_start(st->loop, st->db, &st->cfg.mes, r->mes);
            mes_state = e == 0 ? "restarted" : "failed";
            if (e < 0)
                log_err("reload: cannot start the MES push: %s; records stay queued until the "
                        "next reload or restart",
                        strerror(-e));
        }
    }

    char msg[PATH_MAX + 1024];
    snprintf(msg, sizeof(msg),
             "applied %s: %zu slots (%zu added, %zu removed, %zu changed, %zu waiting for their "
             "module), %zu recipes, %zu tokens (%zu before), mes %s%s%s",
             r->path, st->cfg.slot_count, json_array_size(added), json_array_size(removed),
             json_array_size(changed), json_array_size(deferred), st->cfg.recipe_count,
             st->cfg.auth.token_count, tokens_before, mes_state,
             r->restart_only[0] ? "; needs a restart, running values kept: " : "", r->restart_only);
    log_notice("reload (%s): %s", r->who, msg);
    if (r->restart_only[0])
        log_warning("reload (%s): %s changed in %s but cannot change while running: restart the "
                    "service to apply",
                    r->who, r->restart_only, r->path);
    record(r, r->who,
           json_pack("{s:s, s:I, s:o, s:o, s:o, s:o, s:I, s:I, s:s, s:s}", "result", "applied",
                     "slots", (json_int_t)st->cfg.slot_count, "added", added, "removed", removed,
                     "changed", changed, "deferred", deferred, "recipes",
                     (json_int_t)st->cfg.recipe_count, "tokens",
                     (json_int_t)st->cfg.auth.token_count, "mes", mes_state, "restart_needed",
                     r->restart_only));
    if (r->done)
        r->done(r->done_ud, 0, msg);
}

static void finish(struct reload *r)
{
    if (!r->stopped && !r->st->stopping) {
        if (r->load_err[0])
            reject(r, r->who, -EINVAL, r->load_err);
        else
            apply(r);
    }
    for (size_t i = 0; i < CONFIG_MAX_RECIPES; i++) {
        if (r->entries[i])
            pkg_entry_unref(r->entries[i]);
        r->entries[i] = NULL;
    }
    free(r->next);
    r->next = NULL;
    r->running = 0;
    if (r->again && !r->stopped) {
        r->again = 0;
        char who[64];
        snprintf(who, sizeof(who), "%s", r->again_who);
        reload_request(r, who);
    }
}

static void on_loaded(void *user, int status, struct pkg_entry *entry, const char *err)
{
    struct load_ctx *lc = user;
    struct reload *r = lc->r;
    if (status < 0 && !r->load_err[0]) {
        const struct config_recipe *rc = &r->next->recipes[lc->index];
        snprintf(r->load_err, sizeof(r->load_err), "%s: [recipe %s] package %s: %s", r->path,
                 rc->name, rc->package, err ? err : strerror(-status));
    }
    r->entries[lc->index] = entry;
    if (--r->loads_pending == 0)
        finish(r);
}

int reload_request(struct reload *r, const char *who)
{
    struct station *st = r->st;
    if (r->stopped || st->stopping)
        return -ESHUTDOWN;
    if (r->running) {
        log_notice("reload (%s): a reload is running; this one follows it", who);
        r->again = 1;
        snprintf(r->again_who, sizeof(r->again_who), "%s", who);
        return -EALREADY;
    }
    if (workflow_pending(st->workflow)) {
        reject(r, who, -EBUSY,
               "the packages of the start-up configuration are still loading; "
               "ask again when they are done");
        return -EBUSY;
    }
    struct config *next = malloc(sizeof(*next));
    if (!next)
        return -ENOMEM;
    char err[1024];
    int e = config_load_file(r->path, next, err, sizeof(err));
    if (e < 0) {
        free(next);
        reject(r, who, e, err);
        return e;
    }
    log_notice("reload (%s): %s is valid; loading %zu recipe packages", who, r->path,
               next->recipe_count);
    r->running = 1;
    r->next = next;
    snprintf(r->who, sizeof(r->who), "%s", who);
    reload_keep_restart_only(&st->cfg, next, r->restart_only, sizeof(r->restart_only));
    r->load_err[0] = '\0';
    r->loads_pending = 1; /* held until every load is queued: a failure to queue ends it */
    for (size_t i = 0; i < next->recipe_count && !r->load_err[0]; i++) {
        r->loads[i] = (struct load_ctx){r, i};
        r->loads_pending++;
        e = pkg_cache_load(workflow_cache(st->workflow), next->recipes[i].package, on_loaded,
                           &r->loads[i]);
        if (e < 0) {
            r->loads_pending--;
            snprintf(r->load_err, sizeof(r->load_err), "%s: [recipe %s] package %s: %s", r->path,
                     next->recipes[i].name, next->recipes[i].package, strerror(-e));
        }
    }
    if (--r->loads_pending == 0)
        finish(r);
    return 0;
}

void reload_stop(struct reload *r)
{
    if (!r || r->stopped)
        return;
    r->stopped = 1;
    if (r->timer_open)
        uv_close((uv_handle_t *)&r->thaw, NULL);
    r->timer_open = 0;
}

void reload_free(struct reload *r)
{
    if (!r)
        return;
    /* a load still queued would call back into r: main runs the loop dry first */
    if (r->running)
        log_err("reload: freed with package loads in flight");
    free(r->next);
    free(r);
}
