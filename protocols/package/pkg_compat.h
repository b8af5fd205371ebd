/* Firmware / module compatibility (seed 003: "确认模块型号" and "共用固件情况").
 *
 * The module's series and sub-model (first part of its ordering code, or of the revision it
 * reports) must equal the firmware's <series>_<sub-model>, except for the documented
 * shared-firmware groups, kept here as data. A wrong sub-model can damage a module or
 * silently break features (EC200UCNAA with CNLA firmware), so anything else is refused.
 * The station calls pkg_check before every flash; `flashrack check` prints its answer.
 */
#ifndef FLASHRACK_PKG_COMPAT_H
#define FLASHRACK_PKG_COMPAT_H

#include "package/pkg_name.h"

struct pkg_check_result {
    int compatible;   /* 1 = may be flashed */
    const char *rule; /* static: "exact", "shared-firmware", "series-only", "mismatch", ... */
    struct pkg_ident module;
    char reason[320]; /* one sentence for the operator, in both cases */
};

/* Firmware identity (from pkg_open's names) against a module code (ordering code or
 * revision). fw_platform is the platform the package content was recognised as (UNKNOWN to
 * skip that check). Returns 0 with ret filled (compatible or not), or -EINVAL when the module
 * code cannot be parsed (ret->reason says why). */
int pkg_check(enum pkg_platform fw_platform, const struct pkg_ident *fw, const char *module,
              struct pkg_check_result *ret);

/* Shared-firmware table access, for docs and tests: the i-th (firmware, module) pair. */
struct pkg_shared_pair {
    const char *firmware; /* "EC600M_CNLE" */
    const char *module;   /* "EC600MCNLA" */
};
size_t pkg_shared_count(void);
const struct pkg_shared_pair *pkg_shared_get(size_t i);

#endif
