/* Internals shared by workflow.c (recipes, events, views) and flow_run.c (the per-slot
 * state machine). */
#ifndef FLASHRACK_WORKFLOW_PRIV_H
#define FLASHRACK_WORKFLOW_PRIV_H

#include <uv.h>

#include "db.h"
#include "flow_queue.h"
#include "pkg_cache.h"
#include "protocol.h"
#include "rack.h"
#include "workflow.h"

struct workflow;
struct mes_interlock_call;

struct recipe_state {
    struct workflow *w;
    const struct config_recipe *cfg;
    struct pkg_entry *entry; /* NULL while loading or after a failure */
    int loading;
    int api;         /* from the API (workflow_recipes_set_extra), not the config file */
    char error[256]; /* why a config recipe's package did not load at start-up */
};

/* One slot's flow. The run fields describe the open attempt (or the last one, for the
 * view) and are reset when a new module starts. */
struct flow_slot {
    struct workflow *w;
    struct slot *slot;
    enum flow_state state;
    uint64_t state_since_unix_ms;
    uv_timer_t timer;
    int timer_open;
    int paused;                 /* no new attempt starts here (workflow_slot_pause) */
    uint64_t done_attach_count; /* the device that got the verdict: not started again */

    /* the open attempt */
    int open; /* an attempt is open (recorded, or would be without db) */
    struct db_attempt attempt;
    uint64_t run_start_ms; /* uv_now at the start of this try */
    unsigned try_no;
    int recipe;              /* chosen (index into w->recipes at the time), -1 = not yet */
    struct pkg_entry *entry; /* held while the attempt needs its package */
    /* The chosen recipe as it was then: a reload may replace the recipe table mid-attempt. */
    char recipe_name[CONFIG_LABEL_MAX];
    char recipe_options[256];
    int from_download;            /* the module arrived in download mode (not identified yet) */
    int left_after_flash;         /* the download port went away after the flash */
    int saw_download_after_flash; /* ... and a download port came back instead of AT */
    uint64_t flash_started_unix_ms;
    char job_options[512];                /* lives as long as the job that got it */
    struct mes_interlock_call *interlock; /* in flight while state is FLOW_INTERLOCK */
    int leaving;     /* the slot's device is leaving (rack DETACH): a close goes to idle */
    int queue_flash; /* queued: a place starts the flash (download port), else the switch */

    /* what the view shows */
    char model[32], imei[20], revision_before[64], revision_after[64];
    char stage[16], code[16];
    char message[400];
    char instruction[512];
    const char *phase;
    uint64_t done, total;
};

struct workflow {
    struct station *st;
    struct pkg_cache *cache;
    struct recipe_state recipes[CONFIG_MAX_RECIPES];
    size_t recipe_count;
    size_t config_count; /* recipes[0..config_count) are the config file's, then the API's */
    struct recipe_state extra[CONFIG_MAX_RECIPES]; /* the API's as last set (own references) */
    size_t extra_count;
    size_t pending;
    struct flow_slot **slots; /* one per rack slot, same order (RACK_MAX_SLOTS) */
    size_t slot_count;
    int stopped;
    struct flow_queue queue; /* slots in FLOW_QUEUED waiting for a place (not paused ones) */
};

/* flow_run.c */
void flow_consider(struct flow_slot *fs);                    /* a device arrived / changed */
void flow_device_left(struct flow_slot *fs);                 /* the slot's device left */
void flow_abort_idle(struct flow_slot *fs, const char *why); /* shutdown without a job */
/* The download part of the queued fs begins now: the switch, or the flash (queue_flash). */
void flow_start_download(struct flow_slot *fs);
/* The download driver for vid:pid (registry or a config [usb] id), NULL for AT-mode ids and
 * devices no driver knows. */
const struct proto *flow_download_driver(const struct workflow *w, uint16_t vid, uint16_t pid);

/* flow_queue.c: the download places of [limits] max_jobs */
int flow_holds_place(enum flow_state s); /* a state of the download part */
size_t flow_places_held(const struct workflow *w);
/* Starts queued modules, first come first served, while places are free (one freed, a
 * resume, max_jobs raised by a reload). */
void flow_queue_kick(struct workflow *w);

#endif
