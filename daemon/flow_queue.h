/* The download places of [limits] max_jobs (docs/workflow.md "Download places").
 *
 * At most max_jobs modules are in their download part at once: from the switch
 * (AT+QDOWNLOAD=1) to the end of the flash session (the driver's restart of the module), or
 * to the failure, abort or unplug that ends it earlier. Identification and verification are
 * short AT sessions and take no place. A module that needs a place while none is free waits
 * in this line (flow state `queued`), first come first served.
 *
 * The line below is bookkeeping only, without I/O, so it can be tested on its own; entries
 * are opaque pointers (the flow's slots). The flow's side (which states hold a place, the
 * count, starting who waits) is in flow_queue.c too, declared in workflow_priv.h. */
#ifndef FLASHRACK_FLOW_QUEUE_H
#define FLASHRACK_FLOW_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "rack.h"

#define FLOW_QUEUE_MAX RACK_MAX_SLOTS

struct flow_queue {
    size_t len;
    void *who[FLOW_QUEUE_MAX]; /* [0] waited longest */
};

/* Whether a module that is not waiting may take a place now: one is free (held < max) and
 * nobody waits before it. max 0 counts as 1 (the config never gives 0: a cap of none would
 * stop the line for good). */
int flow_queue_may_start(const struct flow_queue *q, size_t held, uint32_t max);

/* Puts who at the end of the line. 0; -EEXIST when it waits already (its place is kept);
 * -ENOSPC when the line is full (cannot happen with one entry per slot). */
int flow_queue_push(struct flow_queue *q, void *who);

/* Takes who out of the line wherever it is (unplugged, aborted, paused). 0; -ENOENT when it
 * was not waiting. */
int flow_queue_remove(struct flow_queue *q, const void *who);

/* who's place in line, 1 = next; 0 when it is not waiting. */
size_t flow_queue_position(const struct flow_queue *q, const void *who);

/* The module to start now, taken out of the line: the first one when a place is free
 * (held < max); NULL when none waits or every place is held. */
void *flow_queue_next(struct flow_queue *q, size_t held, uint32_t max);

#endif
