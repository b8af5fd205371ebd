/* Production-flow decisions without I/O (see flow_rules.h). */
#include "flow_rules.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "package/pkg_compat.h"

/* Higher is a better fit; 0 = does not fit. */
static int rule_rank(const char *rule)
{
    if (strcmp(rule, "exact") == 0)
        return 3;
    if (strcmp(rule, "shared-firmware") == 0)
        return 2;
    return 1; /* series-only and any future compatible rule */
}

int flow_pick_recipe(const struct flow_recipe_view *recipes, size_t count, const char *revision,
                     struct flow_pick *ret)
{
    memset(ret, 0, sizeof(*ret));
    ret->index = -1;
    ret->rule = "none";
    struct pkg_ident module;
    if (!revision || pkg_module_parse(revision, &module) < 0) {
        snprintf(ret->reason, sizeof(ret->reason),
                 "the module reported revision '%.80s', which names no module series and "
                 "sub-model",
                 revision ? revision : "");
        return -EINVAL;
    }
    int best_rank = 0, tie = -1, loaded = 0;
    char nearest[sizeof(ret->reason)] = "";
    for (size_t i = 0; i < count; i++) {
        const struct pkg *p = recipes[i].pkg;
        if (!p)
            continue;
        loaded++;
        struct pkg_check_result cr;
        if (pkg_check(p->platform, &p->ident, revision, &cr) < 0)
            continue;
        if (!cr.compatible) {
            /* A miss on the sub-model says more than a different series: keep it. */
            if (!nearest[0] || strcmp(cr.rule, "submodel-mismatch") == 0)
                snprintf(nearest, sizeof(nearest), "recipe %s: %s", recipes[i].name, cr.reason);
            continue;
        }
        int rank = rule_rank(cr.rule);
        if (rank > best_rank) {
            best_rank = rank;
            ret->index = (int)i;
            ret->rule = cr.rule;
            tie = -1;
            snprintf(ret->reason, sizeof(ret->reason), "recipe %s: %s", recipes[i].name, cr.reason);
        } else if (rank == best_rank) {
            tie = (int)i;
        }
    }
    if (ret->index < 0) {
        if (!loaded)
            snprintf(ret->reason, sizeof(ret->reason),
                     "the station holds no loaded package for %s%s", module.series,
                     module.submodel);
        else
            snprintf(ret->reason, sizeof(ret->reason), "no package fits %s%s (%s)", module.series,
                     module.submodel, nearest);
        return -ENOENT;
    }
    if (tie >= 0) {
        snprintf(ret->reason, sizeof(ret->reason),
                 "recipes %s and %s both fit %s%s equally well; remove one so the station "
                 "does not choose for the operator",
                 recipes[ret->index].name, recipes[tie].name, module.series, module.submodel);
        ret->index = -1;
        return -EEXIST;
    }
    return 0;
}

/* version appears in rev as a whole token: bounded by the ends or by non-alphanumerics. */
static bool has_token(const char *rev, const char *version)
{
    size_t vlen = strlen(version);
    for (const char *p = rev; (p = strcasestr(p, version)) != NULL; p++) {
        bool left = p == rev || !isalnum((unsigned char)p[-1]);
        bool right = !isalnum((unsigned char)p[vlen]);
        if (left && right)
            return true;
    }
    return false;
}

enum fail_code flow_verify(const struct pkg *pkg, const char *imei_before,
                           const char *revision_after, const char *imei_after, char *msg,
                           size_t msglen)
{
    msg[0] = '\0';
    if (!revision_after || !revision_after[0]) {
        snprintf(msg, msglen, "the module reported no revision after the flash");
        return FAIL_VERIFY;
    }
    if (imei_before && imei_before[0] && imei_after && imei_after[0] &&
        strcmp(imei_before, imei_after) != 0) {
        snprintf(msg, msglen,
                 "a different module came back on the slot: IMEI %s before the flash, %s after",
                 imei_before, imei_after);
        return FAIL_VERIFY;
    }
    struct pkg_check_result cr;
    if (pkg_check(pkg->platform, &pkg->ident, revision_after, &cr) < 0) {
        snprintf(msg, msglen, "revision '%.80s' after the flash: %s", revision_after, cr.reason);
        return FAIL_VERIFY;
    }
    if (!cr.compatible) {
        snprintf(msg, msglen, "revision %.80s after the flash does not belong to package %s: %s",
                 revision_after, pkg->name, cr.reason);
        return FAIL_VERIFY;
    }
    if (pkg->ident.version[0] && !has_token(revision_after, pkg->ident.version)) {
        snprintf(msg, msglen,
                 "the module still reports revision %.80s, not version %s of package %s: the "
                 "new firmware is not running",
                 revision_after, pkg->ident.version, pkg->name);
        return FAIL_VERIFY;
    }
    if (pkg->ident.version[0])
        snprintf(msg, msglen, "revision %.80s carries version %s", revision_after,
                 pkg->ident.version);
    else
        snprintf(msg, msglen, "revision %.80s fits the package (it names no version to compare)",
                 revision_after);
    return FAIL_NONE;
}

bool flow_is_transient(enum fail_code code, const char *stage, uint64_t confirmed)
{
    /* After the flash the module's state is unknown: it is not flashed again on its own. */
    if (strcmp(stage, FLOW_STAGE_VERIFY) == 0)
        return false;
    if (strcmp(stage, FLOW_STAGE_FLASH) == 0 && confirmed > 0)
        return false;
    /* An MES that did not answer may answer the next try; one that refused will refuse again. */
    return code == FAIL_TIMEOUT || code == FAIL_IO || code == FAIL_PROTOCOL ||
           code == FAIL_MES_UNREACHABLE;
}

void flow_instruction(enum fail_code code, const char *stage, const char *detail, char *out,
                      size_t outlen)
{
    const char *d = detail ? detail : "";
    switch (code) {
    case FAIL_NO_MATCH:
        snprintf(out, outlen,
                 "Wrong firmware for this module: set it aside and tell the supervisor to load "
                 "a package for it (%s).",
                 d);
        return;
    case FAIL_PACKAGE:
        snprintf(out, outlen, "The firmware package is unusable: tell the supervisor (%s).", d);
        return;
    case FAIL_DISCONNECTED:
        snprintf(out, outlen,
                 "The module left USB during %s: check that it is seated, then unplug it and "
                 "plug it in again to retry.",
                 stage);
        return;
    case FAIL_TIMEOUT:
        if (strcmp(stage, FLOW_STAGE_SWITCH) == 0)
            snprintf(out, outlen,
                     "The module did not come back in download mode: unplug it and plug it "
                     "in again; if it fails again, hold the boot pin (USB_BOOT) to ground while "
                     "plugging it in.");
        else if (strcmp(stage, FLOW_STAGE_VERIFY) == 0)
            snprintf(out, outlen,
                     "The module did not restart into normal mode after the flash: unplug it "
                     "and plug it in again; if it does not start, set it aside for rework.");
        else if (strcmp(stage, FLOW_STAGE_IDENTIFY) == 0)
            snprintf(out, outlen,
                     "The module does not answer on its AT port: unplug it and plug it in "
                     "again; if it stays silent, try another slot, then set it aside.");
        else
            snprintf(out, outlen,
                     "The module stopped answering during %s: unplug it and plug it in again "
                     "to retry; if this slot keeps failing, check its cable and hub.",
                     stage);
        return;
    case FAIL_IO:
        snprintf(out, outlen,
                 "USB error on this slot during %s: unplug the module and plug it in again; if "
                 "the slot keeps failing, check its cable and hub.",
                 stage);
        return;
    case FAIL_PROTOCOL:
        snprintf(out, outlen,
                 "The module answered something unexpected during %s: unplug it and plug it in "
                 "again; if it happens again, set it aside (%s).",
                 stage, d);
        return;
    case FAIL_REJECTED:
        if (strcmp(stage, FLOW_STAGE_SWITCH) == 0)
            snprintf(out, outlen,
                     "The module cannot be switched to download mode over AT: hold the boot "
                     "pin (USB_BOOT) to ground, unplug it and plug it in again (%s).",
                     d);
        else
            snprintf(out, outlen, "The module refused the firmware: set it aside for rework (%s).",
                     d);
        return;
    case FAIL_VERIFY:
        snprintf(out, outlen,
                 "The new firmware did not verify: set the module aside for rework (%s).", d);
        return;
    case FAIL_ABORTED:
        snprintf(out, outlen,
                 "Stopped before the end (%s): unplug the module and plug it in again to flash "
                 "it.",
                 d);
        return;
    case FAIL_MES_REJECTED:
        snprintf(out, outlen,
                 "Set the unit aside: the MES refused it (%s). Nothing was written to it; the "
                 "supervisor sorts it out with the MES.",
                 d);
        return;
    case FAIL_MES_UNREACHABLE:
        snprintf(out, outlen,
                 "The MES could not clear this unit, nothing was written to it: unplug it and "
                 "plug it in again to ask again; tell the supervisor if the MES stays "
                 "unreachable (%s).",
                 d);
        return;
    case FAIL_INTERNAL:
    default:
        snprintf(out, outlen,
                 "Station error (%s): unplug the module and plug it in again; tell the "
                 "supervisor if it repeats.",
                 d);
        return;
    }
}
