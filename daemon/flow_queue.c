/* The download places of [limits] max_jobs (see flow_queue.h): the line of modules waiting
 * for one (a plain array: at most one entry per slot, a few changes per module), then how the
 * flow counts the places and starts who waits. */
#include "flow_queue.h"

#include <errno.h>
#include <string.h>

#include "log.h"
#include "workflow_priv.h"

static uint32_t cap(uint32_t max)
{
    return max ? max : 1;
}

int flow_queue_may_start(const struct flow_queue *q, size_t held, uint32_t max)
{
    return held < cap(max) && q->len == 0;
}

int flow_queue_push(struct flow_queue *q, void *who)
{
    if (flow_queue_position(q, who))
        return -EEXIST;
    if (q->len >= FLOW_QUEUE_MAX)
        return -ENOSPC;
    q->who[q->len++] = who;
    return 0;
}

int flow_queue_remove(struct flow_queue *q, const void *who)
{
    size_t pos = flow_queue_position(q, who);
    if (!pos)
        return -ENOENT;
    memmove(&q->who[pos - 1], &q->who[pos], (q->len - pos) * sizeof(q->who[0]));
    q->len--;
    return 0;
}

size_t flow_queue_position(const struct flow_queue *q, const void *who)
{
    for (size_t i = 0; i < q->len; i++)
        if (q->who[i] == who)
            return i + 1;
    return 0;
}

void *flow_queue_next(struct flow_queue *q, size_t held, uint32_t max)
{
    if (!q->len || held >= cap(max))
        return NULL;
    void *who = q->who[0];
    flow_queue_remove(q, who);
    return who;
}

/* ---- the flow's places ------------------------------------------------------------------ */

/* From the switch to the end of the flash session. A place is held exactly while a slot's
 * state is one of these, so every way out of them (the reboot after the flash, a verdict, a
 * retry, an abort, an unplug) gives it back: set_state starts the next one then. */
int flow_holds_place(enum flow_state s)
{
    return s == FLOW_SWITCHING || s == FLOW_WAIT_DOWNLOAD || s == FLOW_FLASHING;
}

size_t flow_places_held(const struct workflow *w)
{
    size_t n = 0;
    for (size_t i = 0; i < w->slot_count; i++)
        n += flow_holds_place(w->slots[i]->state);
    return n;
}

void flow_queue_kick(struct workflow *w)
{
    struct flow_slot *fs;
    /* Each turn takes one module out of the line, so this ends. A start that fails at once
     * closes its try, which gives back any place it took and may start the next module from
     * within: the places are counted afresh each turn. */
    while (!w->st->stopping && !w->stopped &&
           (fs = flow_queue_next(&w->queue, flow_places_held(w), w->st->cfg.limits.max_jobs))) {
        log_slot(LOG_LEVEL_INFO, fs->slot->cfg.label,
                 fs->slot->device ? fs->slot->device->port_path : fs->attempt.usb_path,
                 "a download place is free: %s", fs->queue_flash ? "flashing" : "switching");
        flow_start_download(fs);
    }
}
