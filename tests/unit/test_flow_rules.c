/* The production flow's pure decisions (daemon/flow_rules.c): recipe choice for an
 * identified module (the guard), verification after reboot, retry classes, and the
 * operator's instruction for each failure class. */
#include "flow_rules.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

/* A package as the guard sees it: identity from its firmware name. */
static void make_pkg(struct pkg *p, enum pkg_platform platform, const char *name)
{
    memset(p, 0, sizeof(*p));
    p->platform = platform;
    snprintf(p->name, sizeof(p->name), "%s", name);
    assert_int_equal(pkg_name_parse(name, &p->ident), 0);
}

static struct pkg unisoc_cnaa, asr_cnle, asr_cnlf, asr_ec800m_cnla, unisoc_cnaa_copy;

static int setup(void **state)
{
    (void)state;
    make_pkg(&unisoc_cnaa, PKG_PLATFORM_UNISOC, "QPY_OCPU_V0001_EC200U_CNAA_FW");
    make_pkg(&unisoc_cnaa_copy, PKG_PLATFORM_UNISOC, "QPY_OCPU_V0002_EC200U_CNAA_FW");
    make_pkg(&asr_cnle, PKG_PLATFORM_ASR, "QPY_OCPU_V0003_EC600M_CNLE_FW");
    make_pkg(&asr_cnlf, PKG_PLATFORM_ASR, "QPY_OCPU_V0004_EC600N_CNLF_FW");
    make_pkg(&asr_ec800m_cnla, PKG_PLATFORM_ASR, "QPY_OCPU_V0005_EC800M_CNLA_FW");
    return 0;
}

static void test_pick_exact_and_shared(void **state)
{
    (void)state;
    struct flow_recipe_view r[] = {
        {"u", &unisoc_cnaa}, {"m", &asr_cnle}, {"n", &asr_cnlf}, {"loading", NULL}};
    struct flow_pick pick;
    assert_int_equal(flow_pick_recipe(r, 4, "EC200UCNAAR02A09M08", &pick), 0);
    assert_int_equal(pick.index, 0);
    assert_string_equal(pick.rule, "exact");
    /* EC600MCNLA takes the shared EC600M_CNLE firmware (seed 003). */
    assert_int_equal(flow_pick_recipe(r, 4, "EC600MCNLAR01A01M08", &pick), 0);
    assert_int_equal(pick.index, 1);
    assert_string_equal(pick.rule, "shared-firmware");
}

static void test_pick_refuses_wrong_submodel(void **state)
{
    (void)state;
    struct flow_recipe_view r[] = {{"u", &unisoc_cnaa}, {"n", &asr_cnlf}};
    struct flow_pick pick;
    /* EC600N CNLA offered only a CNLF package: refused, and the reason names the sub-models. */
    assert_int_equal(flow_pick_recipe(r, 2, "EC600NCNLAR01A01M08", &pick), -ENOENT);
    assert_int_equal(pick.index, -1);
    assert_non_null(strstr(pick.reason, "CNLF"));
    assert_non_null(strstr(pick.reason, "EC600NCNLA"));
}

static void test_pick_prefers_exact_over_shared(void **state)
{
    (void)state;
    /* EC800M CNLA: its own CNLA package wins over the shared CNLE one. */
    struct pkg cnle;
    make_pkg(&cnle, PKG_PLATFORM_ASR, "QPY_OCPU_V0006_EC800M_CNLE_FW");
    struct flow_recipe_view r[] = {{"shared", &cnle}, {"own", &asr_ec800m_cnla}};
    struct flow_pick pick;
    assert_int_equal(flow_pick_recipe(r, 2, "EC800MCNLAR06A01M08", &pick), 0);
    assert_int_equal(pick.index, 1);
    assert_string_equal(pick.rule, "exact");
    /* Without its own package, the shared one is chosen. */
    assert_int_equal(flow_pick_recipe(r, 1, "EC800MCNLAR06A01M08", &pick), 0);
    assert_int_equal(pick.index, 0);
    assert_string_equal(pick.rule, "shared-firmware");
}

static void test_pick_tie_and_bad_input(void **state)
{
    (void)state;
    struct flow_recipe_view r[] = {{"a", &unisoc_cnaa}, {"b", &unisoc_cnaa_copy}};
    struct flow_pick pick;
    assert_int_equal(flow_pick_recipe(r, 2, "EC200UCNAAR02A09M08", &pick), -EEXIST);
    assert_int_equal(pick.index, -1);
    assert_non_null(strstr(pick.reason, "a and b"));
    assert_int_equal(flow_pick_recipe(r, 2, "garbage", &pick), -EINVAL);
    assert_int_equal(flow_pick_recipe(r, 2, NULL, &pick), -EINVAL);
    struct flow_recipe_view none[] = {{"x", NULL}};
    assert_int_equal(flow_pick_recipe(none, 1, "EC200UCNAAR02A09M08", &pick), -ENOENT);
    assert_non_null(strstr(pick.reason, "no loaded package"));
}

static void test_verify(void **state)
{
    (void)state;
    char msg[400];
    const char *imei = "864215049310217";
    assert_int_equal(flow_verify(&unisoc_cnaa, imei, "EC200UCNAAR02A09M08_OCPU_QPY_V0001", imei,
                                 msg, sizeof(msg)),
                     FAIL_NONE);
    /* Still the old firmware. */
    assert_int_equal(flow_verify(&unisoc_cnaa, imei, "EC200UCNAAR02A09M08", imei, msg, sizeof(msg)),
                     FAIL_VERIFY);
    assert_non_null(strstr(msg, "V0001"));
    /* The version must be a whole token: V00012 is another version. */
    assert_int_equal(flow_verify(&unisoc_cnaa, imei, "EC200UCNAAR02A09M08_OCPU_QPY_V00012", imei,
                                 msg, sizeof(msg)),
                     FAIL_VERIFY);
    /* Another module came back. */
    assert_int_equal(flow_verify(&unisoc_cnaa, imei, "EC200UCNAAR02A09M08_OCPU_QPY_V0001",
                                 "864215049310225", msg, sizeof(msg)),
                     FAIL_VERIFY);
    assert_non_null(strstr(msg, "different module"));
    /* Unknown IMEI before (arrived in download mode): only the revision counts. */
    assert_int_equal(
        flow_verify(&unisoc_cnaa, "", "EC200UCNAAR02A09M08_OCPU_QPY_V0001", imei, msg, sizeof(msg)),
        FAIL_NONE);
    /* A revision of a module the package does not fit. */
    assert_int_equal(flow_verify(&unisoc_cnaa, imei, "EC200UCNLBR02A09M08_OCPU_QPY_V0001", imei,
                                 msg, sizeof(msg)),
                     FAIL_VERIFY);
    /* Shared firmware: the module reports the firmware's sub-model afterwards. */
    assert_int_equal(
        flow_verify(&asr_cnle, imei, "EC600MCNLER01A01M08_OCPU_QPY_V0003", imei, msg, sizeof(msg)),
        FAIL_NONE);
    assert_int_equal(flow_verify(&unisoc_cnaa, imei, "", imei, msg, sizeof(msg)), FAIL_VERIFY);
}

static void test_transient(void **state)
{
    (void)state;
    assert_true(flow_is_transient(FAIL_TIMEOUT, FLOW_STAGE_FLASH, 0));
    assert_true(flow_is_transient(FAIL_IO, FLOW_STAGE_SWITCH, 0));
    assert_true(flow_is_transient(FAIL_PROTOCOL, FLOW_STAGE_IDENTIFY, 0));
    assert_false(flow_is_transient(FAIL_TIMEOUT, FLOW_STAGE_VERIFY, 0));
    assert_false(flow_is_transient(FAIL_DISCONNECTED, FLOW_STAGE_FLASH, 0));
    assert_false(flow_is_transient(FAIL_NO_MATCH, FLOW_STAGE_GUARD, 0));
    assert_false(flow_is_transient(FAIL_REJECTED, FLOW_STAGE_FLASH, 0));
    assert_false(flow_is_transient(FAIL_VERIFY, FLOW_STAGE_VERIFY, 0));
    assert_false(flow_is_transient(FAIL_ABORTED, FLOW_STAGE_FLASH, 0));
    /* The device confirmed bytes: it runs a loader now, a ROM handshake cannot reach it. */
    assert_false(flow_is_transient(FAIL_TIMEOUT, FLOW_STAGE_FLASH, 4096));
    assert_true(flow_is_transient(FAIL_TIMEOUT, FLOW_STAGE_SWITCH, 4096));
}

static void test_instructions(void **state)
{
    (void)state;
    char out[512];
    /* Every class gets a distinct, non-empty instruction that tells the operator an action. */
    const char *stages[] = {FLOW_STAGE_IDENTIFY, FLOW_STAGE_GUARD, FLOW_STAGE_SWITCH,
                            FLOW_STAGE_FLASH, FLOW_STAGE_VERIFY};
    for (int c = FAIL_PACKAGE; c < FAIL_CODE_COUNT; c++)
        for (size_t s = 0; s < sizeof(stages) / sizeof(stages[0]); s++) {
            flow_instruction((enum fail_code)c, stages[s], "detail", out, sizeof(out));
            assert_true(strlen(out) > 20);
        }
    flow_instruction(FAIL_TIMEOUT, FLOW_STAGE_SWITCH, "", out, sizeof(out));
    assert_non_null(strstr(out, "boot pin"));
    flow_instruction(FAIL_DISCONNECTED, FLOW_STAGE_FLASH, "", out, sizeof(out));
    assert_non_null(strstr(out, "plug it in again"));
    flow_instruction(FAIL_NO_MATCH, FLOW_STAGE_GUARD, "needs EC600N_CNLA", out, sizeof(out));
    assert_non_null(strstr(out, "set it aside"));
    assert_non_null(strstr(out, "EC600N_CNLA"));
    flow_instruction(FAIL_VERIFY, FLOW_STAGE_VERIFY, "x", out, sizeof(out));
    assert_non_null(strstr(out, "rework"));
    /* Truncation stays a terminated string. */
    char tiny[8];
    flow_instruction(FAIL_IO, FLOW_STAGE_FLASH, "", tiny, sizeof(tiny));
    assert_int_equal(strlen(tiny), 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pick_exact_and_shared),
        cmocka_unit_test(test_pick_refuses_wrong_submodel),
        cmocka_unit_test(test_pick_prefers_exact_over_shared),
        cmocka_unit_test(test_pick_tie_and_bad_input),
        cmocka_unit_test(test_verify),
        cmocka_unit_test(test_transient),
        cmocka_unit_test(test_instructions),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
