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

/* A download port back on a slot this soon after its flash ended, with no other device seen
 * there in between, is not flashed again on its own (the module did not reboot). */
#define WORKFLOW_HOLD_MS 10000

#endif
