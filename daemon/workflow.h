/* The per-slot production flow. Today: the download-mode path (a module that arrives already
 * in download mode — boot pin, or switched by hand — on a mapped slot is flashed with the
 * station's recipe for its platform, and the attempt recorded). Identification over AT, the
 * ordering-code guard, the AT switch and verification after reboot come with the workflow
 * issue on top of this module. */
#ifndef FLASHRACK_WORKFLOW_H
#define FLASHRACK_WORKFLOW_H

#include "station.h"

struct workflow;

/* Loads every [recipe] package on a worker (pkg_cache) and listens to the rack. */
int workflow_new(struct station *st, struct workflow **ret);
/* Recipes still loading. */
size_t workflow_pending(const struct workflow *w);
/* Drops the packages. Call after every job finished and the loop ran dry (-EBUSY while a
 * package load is still queued). */
int workflow_free(struct workflow *w);

/* Refusal texts, exposed for tests. */
#define WORKFLOW_HOLD_MS 10000 /* a download port back this soon after a flash is not reflashed */

#endif
