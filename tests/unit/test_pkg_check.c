/* Module identity and compatibility (protocols/package/pkg_name.c, pkg_compat.c): the seed
 * document's examples and the shared-firmware table. */
#include "package/pkg_compat.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static void name_is(const char *name, enum pkg_name_kind kind, const char *series, const char *sub,
                    const char *version)
{
    struct pkg_ident id;
    int r = pkg_name_parse(name, &id);
    if (r != 0)
        fail_msg("'%s' did not parse", name);
    assert_int_equal(id.kind, kind);
    assert_string_equal(id.series, series);
    assert_string_equal(id.submodel, sub);
    assert_string_equal(id.version, version);
}

static void test_firmware_names(void **state)
{
    (void)state;
    name_is("QPY_OCPU_V0001_EC800M_CNGA_FW", PKG_NAME_OFFICIAL, "EC800M", "CNGA", "V0001");
    name_is("QPY_OCPU_BETA0002_EC800K_CNLC_FW.zip", PKG_NAME_OFFICIAL, "EC800K", "CNLC",
            "BETA0002");
    name_is("QPY_BETA0003_EC800E_CNLC_FW", PKG_NAME_OFFICIAL, "EC800E", "CNLC", "BETA0003");
    name_is("QPY_OCPU_EC800M_CNLE_FW", PKG_NAME_OFFICIAL, "EC800M", "CNLE", "");
    name_is("QPY_OCPU_V0001_BG95M3_FW.zip", PKG_NAME_OFFICIAL, "BG95M3", "", "V0001");
    name_is("QPY_OCPU_V0001_FCM360W_FW.bin", PKG_NAME_OFFICIAL, "FCM360W", "", "V0001");
    name_is("EC800KCNCCR07A01M02_OCPY_QPY_BETA1202", PKG_NAME_TEMPORARY, "EC800K", "CNCC",
            "BETA1202");
    name_is("EC800KCNCCR07A01M02_OCPY_QPY_BETA1202_release_pack.zip", PKG_NAME_TEMPORARY, "EC800K",
            "CNCC", "BETA1202");
    name_is("8915DM_cat1_open_EC600UCNLBR03A01M08_BT_OCPU_QPY_BETA1107_merge.pac",
            PKG_NAME_TEMPORARY, "EC600U", "CNLB", "BETA1107");
    struct pkg_ident id;
    assert_int_equal(pkg_name_parse("at_command.binpkg", &id), -EINVAL);
    assert_int_equal(pkg_name_parse("changelog.md", &id), -EINVAL);
    assert_int_equal(pkg_name_parse("", &id), -EINVAL);
    assert_int_equal(pkg_name_parse("QPY_OCPU_V0001_FW", &id), -EINVAL);
}

static void module_is(const char *code, enum pkg_name_kind kind, const char *series,
                      const char *sub, const char *rev, enum pkg_platform platform)
{
    struct pkg_ident id;
    if (pkg_module_parse(code, &id) != 0)
        fail_msg("'%s' did not parse", code);
    assert_int_equal(id.kind, kind);
    assert_string_equal(id.series, series);
    assert_string_equal(id.submodel, sub);
    assert_string_equal(id.revision, rev);
    assert_int_equal(id.platform, platform);
}

static void test_module_codes(void **state)
{
    (void)state;
    module_is("EC800MCNGA-I05-SGNSA", PKG_NAME_ORDERING_CODE, "EC800M", "CNGA", "",
              PKG_PLATFORM_ASR);
    module_is("EC800MCNGA", PKG_NAME_ORDERING_CODE, "EC800M", "CNGA", "", PKG_PLATFORM_ASR);
    module_is(" ec600ncnlf-n06-snnda\n", PKG_NAME_ORDERING_CODE, "EC600N", "CNLF", "",
              PKG_PLATFORM_ASR);
    module_is("EC800MCNGAR06A01M08", PKG_NAME_REVISION, "EC800M", "CNGA", "R06A01M08",
              PKG_PLATFORM_ASR);
    module_is("EC200UCNAAR02A01M08_OCPU_QPY", PKG_NAME_REVISION, "EC200U", "CNAA", "R02A01M08",
              PKG_PLATFORM_UNISOC);
    module_is("EC600ECNLCR01A01M04", PKG_NAME_REVISION, "EC600E", "CNLC", "R01A01M04",
              PKG_PLATFORM_EIGENCOMM);
    module_is("BG95M3LA-64-SGNS", PKG_NAME_ORDERING_CODE, "BG95M3", "LA", "",
              PKG_PLATFORM_QUALCOMM);
    module_is("EC200AEUHA-N05-SNNSA", PKG_NAME_ORDERING_CODE, "EC200A", "EUHA", "",
              PKG_PLATFORM_ASR1803);
    module_is("EC800M_CNGA", PKG_NAME_ORDERING_CODE, "EC800M", "CNGA", "", PKG_PLATFORM_ASR);
    struct pkg_ident id;
    assert_int_equal(pkg_module_parse("hello", &id), -EINVAL);
    assert_int_equal(pkg_module_parse("", &id), -EINVAL);
    assert_int_equal(pkg_module_parse("EC800MCNGAXYZ", &id), -EINVAL);
}

static int check(const char *firmware, const char *module, const char **rule)
{
    struct pkg_ident fw;
    if (pkg_name_parse(firmware, &fw) != 0)
        fail_msg("firmware '%s' did not parse", firmware);
    struct pkg_check_result res;
    int r = pkg_check(fw.platform, &fw, module, &res);
    assert_int_equal(r, 0);
    assert_true(res.reason[0] != '\0');
    if (rule)
        *rule = res.rule;
    return res.compatible;
}

/* Seed 003: "EC600NCNLA-N05-SNNSA ... QPY_OCPU_V0006_EC600N_CNLA_FW" fits, CNLF does not;
 * EC200UCNAA takes CNAA, and CNLA would flash but break features: refused. */
static void test_seed_pairs(void **state)
{
    (void)state;
    const char *rule;
    assert_true(check("QPY_OCPU_V0006_EC600N_CNLA_FW", "EC600NCNLA-N05-SNNSA", &rule));
    assert_string_equal(rule, "exact");
    assert_false(check("QPY_OCPU_V0001_EC600N_CNLF_FW", "EC600NCNLA-N05-SNNSA", &rule));
    assert_string_equal(rule, "submodel-mismatch");
    assert_true(check("QPY_OCPU_V0001_EC600N_CNLF_FW", "EC600NCNLF-N06-SNNDA", NULL));
    assert_true(check("QPY_OCPU_V0001_EC200U_CNAA_FW", "EC200UCNAA-N05-SGNSA", NULL));
    assert_false(check("QPY_OCPU_V0001_EC200U_CNLA_FW", "EC200UCNAA-N05-SGNSA", NULL));
    assert_true(check("QPY_OCPU_V0001_EC800M_CNGA_FW", "EC800MCNGAR06A01M08", NULL));
    assert_false(check("QPY_OCPU_V0001_EC800M_CNGA_FW", "EC600MCNGA", &rule));
    assert_string_equal(rule, "series-mismatch");
    assert_false(check("QPY_OCPU_V0001_EC800M_CNGA_FW", "EC200UCNGA", &rule));
    assert_string_equal(rule, "platform-mismatch");
    assert_false(check("QPY_OCPU_V0001_EC800M_CNGA_FW", "EC800M", &rule));
    assert_string_equal(rule, "submodel-unknown");
    assert_true(check("QPY_OCPU_V0001_BG95M3_FW", "BG95M3LA-64-SGNS", &rule));
    assert_string_equal(rule, "series-only");
    assert_false(check("QPY_OCPU_V0001_BG95M3_FW", "BG95M1LA", NULL));
}

/* Every pair of the shared-firmware table fits; the same module with a neighbour's
 * firmware or another series does not. */
static void test_shared_firmware(void **state)
{
    (void)state;
    assert_int_equal(pkg_shared_count(), 20);
    for (size_t i = 0; i < pkg_shared_count(); i++) {
        const struct pkg_shared_pair *p = pkg_shared_get(i);
        char fw[64];
        snprintf(fw, sizeof(fw), "QPY_OCPU_%s_FW", p->firmware);
        const char *rule;
        assert_true(check(fw, p->module, &rule));
    }
    const char *rule;
    assert_true(check("QPY_OCPU_EC800M_CNLE_FW", "EC800MCNLA-N05-SNNSA", &rule));
    assert_string_equal(rule, "shared-firmware");
    assert_false(check("QPY_OCPU_EC800M_CNLE_FW", "EC800MCNLC", NULL));
    assert_false(check("QPY_OCPU_EC800M_CNLF_FW", "EC800MCNLA", NULL));
    assert_false(check("QPY_OCPU_EC600M_CNLE_FW", "EC800MCNLA", NULL));
    assert_true(check("QPY_OCPU_EC800E_CNLC_FW", "EC800ECNCGR01A01M04", NULL));
    assert_false(check("QPY_OCPU_EC800E_CNLC_FW", "EC600ECNCG", NULL));
    assert_true(check("QPY_OCPU_EC800M_CNGD_FW", "EC800MCNGC", NULL));
    assert_false(check("QPY_OCPU_EC800M_CNGD_FW", "EC800MCNGA", NULL));
    assert_false(check("QPY_OCPU_V0001_EC800M_CNLA_FW", "EC800MCNLE", NULL));
}

static void test_unparsable_module(void **state)
{
    (void)state;
    struct pkg_ident fw;
    pkg_name_parse("QPY_OCPU_V0001_EC800M_CNGA_FW", &fw);
    struct pkg_check_result res;
    assert_int_equal(pkg_check(PKG_PLATFORM_ASR, &fw, "???", &res), -EINVAL);
    assert_false(res.compatible);
    assert_non_null(strstr(res.reason, "not an ordering code"));
    struct pkg_ident none;
    memset(&none, 0, sizeof(none));
    assert_int_equal(pkg_check(PKG_PLATFORM_ASR, &none, "EC800MCNGA", &res), 0);
    assert_false(res.compatible);
    assert_string_equal(res.rule, "unknown-firmware");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_firmware_names),    cmocka_unit_test(test_module_codes),
        cmocka_unit_test(test_seed_pairs),        cmocka_unit_test(test_shared_firmware),
        cmocka_unit_test(test_unparsable_module),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
