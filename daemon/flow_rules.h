/* The decisions of the production flow that need no I/O, kept apart so they can be tested
 * on their own: which recipe fits an identified module (the guard), whether the module that
 * came back after the flash carries the package (verification), which failures are worth an
 * automatic retry, and what the operator is told to do after each kind of failure. */
#ifndef FLASHRACK_FLOW_RULES_H
#define FLASHRACK_FLOW_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "package/pkg.h"
#include "protocol.h"

/* Stages of one attempt, as recorded in attempts.fail_stage and shown on the tile. */
#define FLOW_STAGE_IDENTIFY "identify"
#define FLOW_STAGE_GUARD    "guard"
#define FLOW_STAGE_SWITCH   "switch"
#define FLOW_STAGE_FLASH    "flash"
#define FLOW_STAGE_VERIFY   "verify"

/* A recipe as the guard sees it: a name and its loaded package (NULL while loading or
 * when it failed to load). */
struct flow_recipe_view {
    const char *name;
    const struct pkg *pkg;
};

struct flow_pick {
    int index;        /* recipe chosen, -1 when none fits */
    const char *rule; /* pkg_check rule of the choice ("exact", "shared-firmware", ...) */
    char reason[400]; /* why it was chosen, or why nothing fits (for the operator and record) */
};

/* Chooses the recipe for a module that reported `revision` (a Quectel revision string; the
 * ordering code is its first part). A recipe fits when pkg_check says the module may take
 * its package; an exact sub-model match wins over a shared-firmware or series-only one.
 * Returns 0 with a choice; -ENOENT when no recipe fits (reason names the nearest miss);
 * -EINVAL when the revision says nothing about the module; -EEXIST when two recipes fit
 * equally well (a configuration error: the station cannot choose for the operator). */
int flow_pick_recipe(const struct flow_recipe_view *recipes, size_t count, const char *revision,
                     struct flow_pick *ret);

/* Verification after reboot: the module came back reporting revision_after and imei_after.
 * It passes when the revision belongs to a module the package fits, carries the package's
 * version as one of its '_'-separated tokens (EC800KCNCCR07A01M02_OCPU_QPY_BETA1202 for
 * version BETA1202), and the IMEI is the one read before the flash (when one was read).
 * Returns FAIL_NONE, or FAIL_VERIFY with the reason in msg. */
enum fail_code flow_verify(const struct pkg *pkg, const char *imei_before,
                           const char *revision_after, const char *imei_after, char *msg,
                           size_t msglen);

/* Failures worth retrying on the same module without the operator: the module is still on
 * the slot and the cause is plausibly passing (a timeout, a USB error, a garbled frame).
 * confirmed: bytes the device confirmed in the failed flash. Once it confirmed any, it has
 * left its boot ROM for a loader, and a new session starting with the ROM's handshake
 * cannot reach it without a reset: such a flash is not retried in place. An MES interlock
 * that did not answer (mes_unreachable) is asked again; a refusal (mes_rejected) is final. */
bool flow_is_transient(enum fail_code code, const char *stage, uint64_t confirmed);

/* One sentence telling the operator what to do next after a failure of this class at this
 * stage; detail (may be "") is the failure's own message, quoted where it helps. */
void flow_instruction(enum fail_code code, const char *stage, const char *detail, char *out,
                      size_t outlen);

#endif
