/* Firmware / module compatibility (see pkg_compat.h). */
#include "package/pkg_compat.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Seed 003 "共用固件情况": modules that run another sub-model's firmware. A module listed
 * here may take the named firmware; its own sub-model firmware (if one exists) still fits
 * by the exact rule. */
static const struct pkg_shared_pair shared[] = {
    {"EC600M_CNLE", "EC600MCNLA"}, {"EC600M_CNLE", "EC600MCNLE"}, {"EC800M_CNLE", "EC800MCNLA"},
    {"EC800M_CNLE", "EC800MCNLE"}, {"EC600M_CNLF", "EC600MCNLC"}, {"EC600M_CNLF", "EC600MCNLF"},
    {"EC800M_CNLF", "EC800MCNLC"}, {"EC800M_CNLF", "EC800MCNLF"}, {"EC800M_CNGD", "EC800MCNGC"},
    {"EC800M_CNGD", "EC800MCNGD"}, {"EC600E_CNLC", "EC600ECNLC"}, {"EC600E_CNLC", "EC600ECNLE"},
    {"EC600E_CNLC", "EC600ECNLQ"}, {"EC600E_CNLC", "EC600ECNLD"}, {"EC600E_CNLC", "EC600ECNCG"},
    {"EC800E_CNLC", "EC800ECNLC"}, {"EC800E_CNLC", "EC800ECNLE"}, {"EC800E_CNLC", "EC800ECNLQ"},
    {"EC800E_CNLC", "EC800ECNLD"}, {"EC800E_CNLC", "EC800ECNCG"},
};

size_t pkg_shared_count(void)
{
    return sizeof(shared) / sizeof(shared[0]);
}

const struct pkg_shared_pair *pkg_shared_get(size_t i)
{
    return i < pkg_shared_count() ? &shared[i] : NULL;
}

static int verdict(struct pkg_check_result *r, int ok, const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int verdict(struct pkg_check_result *r, int ok, const char *rule, const char *fmt, ...)
{
    r->compatible = ok;
    r->rule = rule;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
    va_end(ap);
    return 0;
}

int pkg_check(enum pkg_platform fw_platform, const struct pkg_ident *fw, const char *module,
              struct pkg_check_result *ret)
{
    memset(ret, 0, sizeof(*ret));
    ret->rule = "invalid";
    if (pkg_module_parse(module, &ret->module) < 0) {
        snprintf(ret->reason, sizeof(ret->reason),
                 "'%s' is not an ordering code (EC800MCNGA-I05-SGNSA) or a revision "
                 "(EC800MCNGAR06A01M08)",
                 module);
        return -EINVAL;
    }
    const struct pkg_ident *m = &ret->module;
    if (!fw->series[0])
        return verdict(ret, 0, "unknown-firmware",
                       "the package name does not say which module it is for, so it cannot be "
                       "matched to %s%s",
                       m->series, m->submodel);
    if (m->platform != PKG_PLATFORM_UNKNOWN && fw_platform != PKG_PLATFORM_UNKNOWN &&
        m->platform != fw_platform)
        return verdict(ret, 0, "platform-mismatch",
                       "module %s is a %s module but the package holds %s firmware", m->series,
                       pkg_platform_to_string(m->platform), pkg_platform_to_string(fw_platform));
    if (strcasecmp(m->series, fw->series) != 0)
        return verdict(ret, 0, "series-mismatch",
                       "module series %s does not match firmware series %s", m->series, fw->series);
    if (!fw->submodel[0])
        /* BG95M3, FC41D, FCM360W: firmware names carry no sub-model. */
        return verdict(ret, 1, "series-only", "firmware %s names no sub-model; series %s matches",
                       fw->series, m->series);
    if (!m->submodel[0])
        return verdict(ret, 0, "submodel-unknown",
                       "module code gives series %s but no sub-model; firmware is for %s_%s, "
                       "give the full ordering code",
                       m->series, fw->series, fw->submodel);
    if (strcasecmp(m->submodel, fw->submodel) == 0)
        return verdict(ret, 1, "exact", "module %s%s matches firmware %s_%s", m->series,
                       m->submodel, fw->series, fw->submodel);
    char fwname[32], modname[32];
    snprintf(fwname, sizeof(fwname), "%s_%s", fw->series, fw->submodel);
    snprintf(modname, sizeof(modname), "%s%s", m->series, m->submodel);
    for (size_t i = 0; i < pkg_shared_count(); i++)
        if (strcasecmp(shared[i].firmware, fwname) == 0 &&
            strcasecmp(shared[i].module, modname) == 0)
            return verdict(ret, 1, "shared-firmware",
                           "module %s may use the shared firmware %s (seed table of shared "
                           "firmware)",
                           modname, fwname);
    return verdict(ret, 0, "submodel-mismatch",
                   "module %s needs %s_%s firmware; this package is %s (sub-models of one "
                   "series are not interchangeable)",
                   modname, m->series, m->submodel, fwname);
}
