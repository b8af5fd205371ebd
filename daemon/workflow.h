/* The per-slot production flow (product.md "The slot flow"), driven by the job engine:
 *
 *   AT-mode module:   identify (at session) → guard (flow_pick_recipe; then the MES
 *                     interlock when [mes] interlock_url is set) → [queued: no free
 *                     download place, [limits] max_jobs, flow_queue.h] → switch
 *                     (AT+QDOWNLOAD=1, the module comes back as its download port) → flash
 *                     (platform driver) → reboot (wait for the AT port on the same physical
 *                     port) → verify (identify again; flow_verify) → pass / fail
 *   download-mode module (boot pin): flash with the one recipe of its platform → reboot →
 *                     verify, which reads the identity the first step could not
 *
 * One attempt row covers one try from the first job to the verdict (several jobs). A
 * transient failure (flow_is_transient) is tried again on the same module up to
 * [flow] retries times, each try its own row (attempt_no counts per IMEI). After a verdict
 * the slot waits for the module to be removed; the next device on the slot starts over.
 * Every failure carries an instruction for the operator (flow_instruction).
 */
#ifndef FLASHRACK_WORKFLOW_H
#define FLASHRACK_WORKFLOW_H

#include <stdint.h>

#include "station.h"

struct workflow;
struct slot;

enum flow_state {
    FLOW_IDLE = 0,      /* no module, or a device that is not a module */
    FLOW_IDENTIFYING,   /* reading model, revision, IMEI over AT */
    FLOW_INTERLOCK,     /* the guard chose a recipe; asking the MES (mes_interlock.h) */
    FLOW_QUEUED,        /* cleared, waiting for a free download place (flow_queue.h) */
    FLOW_SWITCHING,     /* AT+QDOWNLOAD=1 sent, waiting for the download port */
    FLOW_WAIT_DOWNLOAD, /* the download port is there but cannot be opened yet (its tty) */
    FLOW_FLASHING,
    FLOW_REBOOTING, /* flashed; waiting for the module to come back in AT mode */
    FLOW_VERIFYING,
    FLOW_RETRY_WAIT, /* a transient failure; the next try starts after retry_delay_ms */
    FLOW_PASS,       /* verdicts: the module waits to be removed */
    FLOW_FAIL,
    FLOW_COUNT
};
const char *flow_state_to_string(enum flow_state s);

/* What the dashboard and API show for a slot. Strings point into the workflow: copy them
 * before the loop runs again. */
struct flow_view {
    enum flow_state state;
    uint64_t state_since_unix_ms;
    int64_t attempt_id; /* the open attempt, or the last one; 0 = none */
    unsigned try_no;    /* 1 for the first try of this module */
    /* The last attempt's failure (kept when the failed module is pulled, until the next
     * module starts), else "" */
    const char *stage;
    const char *code;
    const char *message;     /* what happened, one line */
    const char *instruction; /* what the operator does next ("" while all is well) */
    const char *model;       /* "EC800M", "" until known */
    const char *imei;
    const char *revision_before, *revision_after;
    const char *recipe, *package, *version; /* "" until chosen */
    const char *phase;                      /* session phase while a job runs */
    uint64_t done, total;                   /* bytes of the flash; total 0 = unknown */
    uint64_t flash_started_unix_ms;
    int paused;            /* workflow_slot_pause */
    size_t queue_position; /* queued: 1 = next to get a download place; else (or paused) 0 */
};

/* Loads every [recipe] package on a worker (pkg_cache) and listens to the rack. */
int workflow_new(struct station *st, struct workflow **ret);
/* Recipes still loading. */
size_t workflow_pending(const struct workflow *w);
/* Shutdown: closes the timers and finishes the attempts that have no job running right now
 * (waiting for a reboot, a retry, a port) as aborted; running jobs are aborted by the caller
 * (slot_jobs_abort_all) and recorded when they end. */
void workflow_stop(struct workflow *w, const char *why);
/* Drops the packages. Call after every job finished and the loop ran dry (-EBUSY while a
 * package load is still queued). */
int workflow_free(struct workflow *w);

/* The flow of the slot at index (config order); -ENOENT past the end. */
int workflow_slot_view(const struct workflow *w, size_t index, struct flow_view *ret);

/* Slot control (POST /api/v1/slots/{label}/pause ...). A paused slot starts no new attempt:
 * neither a new module nor a retry; the attempt in progress (a running job, a reboot to wait
 * for) goes on to its verdict. Resume starts what waited. Both are idempotent; -ENOENT past
 * the end. */
int workflow_slot_pause(struct workflow *w, size_t index);
int workflow_slot_resume(struct workflow *w, size_t index);
/* Ends the slot's open attempt that has no job running right now (waiting for a reboot, a
 * port) as aborted with why. -ENOENT: no such slot or no open attempt; -EBUSY: a job runs
 * (abort that instead: slot_job_abort, and the attempt ends aborted with it). */
int workflow_slot_abort(struct workflow *w, size_t index, const char *why);

/* ---- config reload (daemon/reload.c) ---- */
struct pkg_cache;
struct pkg_entry;
/* The cache the recipes load through (reload loads the new packages before switching). */
struct pkg_cache *workflow_cache(struct workflow *w);
/* True while the slot's module is between its first job and its removal (a job runs, an
 * attempt is open, a retry or a verdict waits): a reload leaves such a slot's mapping alone. */
int workflow_slot_busy(struct workflow *w, const struct slot *slot);
/* [limits] changed (st->cfg is the new config): a higher max_jobs starts waiting modules at
 * once; a lower one only holds new starts back until enough places are free again. */
void workflow_limits_changed(struct workflow *w);
/* Forgets the flow of a slot the rack is about to free (not busy). */
void workflow_slot_drop(struct workflow *w, const struct slot *slot);
/* One flow per rack slot in the rack's order (new slots get a fresh flow); -ENOMEM. */
int workflow_sync_slots(struct workflow *w);
/* Replaces the recipe table with st->cfg.recipes (already the new config), entries[i] being
 * the loaded package of recipe i (the references are taken over). Open attempts keep the
 * package and recipe they chose. -EBUSY while start-up loads run or count mismatches. */
int workflow_recipes_replace(struct workflow *w, struct pkg_entry *const *entries, size_t count);

/* ---- recipes of the API (daemon/pkg_catalog.c) ---- */
struct workflow_recipe {
    const struct config_recipe *cfg; /* must stay valid until the next call */
    struct pkg_entry *entry;         /* NULL: not loaded, never picked */
};
/* Sets the recipes that follow the config file's in the table, now and after every reload
 * (each entry gets a reference of the workflow's own). One whose name a config recipe has is
 * left out with a warning naming both (the file wins); so is one past CONFIG_MAX_RECIPES.
 * Open attempts keep what they chose. */
int workflow_recipes_set_extra(struct workflow *w, const struct workflow_recipe *extra,
                               size_t count);
/* Holds new attempts back while recipes of the API load at start-up, as the config's own
 * loads do (workflow_pending counts holds); release looks at waiting modules again. */
void workflow_hold(struct workflow *w);
void workflow_release(struct workflow *w);
/* Entry i of the recipe table as the guard sees it now; -ENOENT past the end. */
struct workflow_recipe_view {
    const char *name, *options;
    struct pkg_entry *entry; /* borrowed; NULL while loading or after a failure */
    int loading, api;
    const char *error; /* "" unless a config recipe failed to load */
};
int workflow_recipe(const struct workflow *w, size_t index, struct workflow_recipe_view *ret);
/* Open attempts holding the package with this sha256; their slot labels go into labels
 * (", "-separated, cut to size). */
size_t workflow_package_users(const struct workflow *w, const char *sha256, char *labels,
                              size_t size);

#endif
