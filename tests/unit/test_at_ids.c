/* Pure parts of protocols/at: revision strings (the seeds' ordering codes), the Quectel USB id
 * table with config extras, the IMEI check, and the driver's registration. */
#include "at/at.h"
#include "protocol.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static void expect_rev(const char *rev, const char *series, const char *sub, const char *release)
{
    struct at_revision r;
    assert_int_equal(at_parse_revision(rev, &r), 0);
    assert_string_equal(r.series, series);
    assert_string_equal(r.submodel, sub);
    assert_string_equal(r.release, release);
    char ordering[40];
    snprintf(ordering, sizeof(ordering), "%s%s", series, sub);
    assert_string_equal(r.ordering, ordering);
}

static void test_revision_seed_examples(void **state)
{
    (void)state;
    /* seed 003: ordering codes and firmware names */
    expect_rev("EC800MCNGAR06A01M08", "EC800M", "CNGA", "R06A01M08");
    expect_rev("EC800KCNCCR07A01M02_OCPY_QPY_BETA1202", "EC800K", "CNCC",
               "R07A01M02_OCPY_QPY_BETA1202");
    expect_rev("EC600UCNLBR03A01M08_BT_OCPU_QPY_BETA1107", "EC600U", "CNLB",
               "R03A01M08_BT_OCPU_QPY_BETA1107");
    expect_rev("EC200UCNAAR02A09M08", "EC200U", "CNAA", "R02A09M08");
    expect_rev("EC600NCNLFR01A01M16", "EC600N", "CNLF", "R01A01M16");
    /* ATI's form, and a two-digit Qualcomm series */
    expect_rev("Revision: EC200TEUHAR05A01M16", "EC200T", "EUHA", "R05A01M16");
    expect_rev("EC25EFAR06A08M4G", "EC25", "EFA", "R06A08M4G");
    expect_rev("EC800MCNLER06A01M08 trailing", "EC800M", "CNLE", "R06A01M08");
}

static void test_revision_rejects(void **state)
{
    (void)state;
    struct at_revision r;
    const char *bad[] = {"",
                         "hello",
                         "EC800M",
                         "EC800MCNGA",
                         "EC800MR06A01M08", /* no sub-model */
                         "E800MCNGAR06A01M08",
                         "EC8000CNGAR06A01M08",
                         "EC800MTOOLONGR06A01M08",
                         "EC800Mcnga R06A01M08",
                         "EC800MCNGAR6A01M08"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(at_parse_revision(bad[i], &r), -EINVAL);
        assert_string_equal(r.series, "");
    }
    assert_int_equal(at_parse_revision(NULL, &r), -EINVAL);
}

static void test_usb_lookup_builtin(void **state)
{
    (void)state;
    struct at_usb_info u;
    assert_int_equal(at_usb_lookup(0x2c7c, 0x0901, NULL, 0, &u), 0);
    assert_int_equal(u.at_interface, 2);
    assert_int_equal(u.platform, AT_PLATFORM_UNISOC);
    assert_int_equal(u.download_switch, AT_SWITCH_QDOWNLOAD);
    assert_string_equal(at_platform_name(u.platform), "unisoc");
    assert_int_equal(u.from_config, 0);

    assert_int_equal(at_usb_lookup(0x2c7c, 0x6002, NULL, 0, &u), 0);
    assert_int_equal(u.at_interface, 3);
    assert_string_equal(at_platform_name(u.platform), "asr");
    assert_non_null(strstr(u.family, "EC800M"));

    assert_int_equal(at_usb_lookup(0x2c7c, 0x0125, NULL, 0, &u), 0);
    assert_string_equal(at_platform_name(u.platform), "qualcomm");
    assert_int_equal(u.download_switch, AT_SWITCH_NONE);
    assert_non_null(strstr(u.operator_hint, "boot pin"));

    assert_int_equal(at_usb_lookup(0x2c7c, 0x9999, NULL, 0, &u), -ENOENT);
    assert_int_equal(at_usb_lookup(0x1782, 0x0901, NULL, 0, &u), -ENOENT);
}

static void test_usb_lookup_config_extras(void **state)
{
    (void)state;
    const struct at_extra_id extra[] = {{0x2c7c, 0x9999, 5}, {0x2c7c, 0x0901, 7}};
    struct at_usb_info u;
    /* a new PID from config: usable, platform unknown, so the switch is attempted */
    assert_int_equal(at_usb_lookup(0x2c7c, 0x9999, extra, 2, &u), 0);
    assert_int_equal(u.at_interface, 5);
    assert_int_equal(u.platform, AT_PLATFORM_UNKNOWN);
    assert_int_equal(u.download_switch, AT_SWITCH_UNKNOWN);
    assert_int_equal(u.from_config, 1);
    assert_non_null(u.operator_hint);
    /* a config line corrects the interface of a known PID and keeps its platform */
    assert_int_equal(at_usb_lookup(0x2c7c, 0x0901, extra, 2, &u), 0);
    assert_int_equal(u.at_interface, 7);
    assert_int_equal(u.platform, AT_PLATFORM_UNISOC);
    assert_int_equal(u.from_config, 1);
    /* extras do not invent other ids */
    assert_int_equal(at_usb_lookup(0x2c7c, 0x0902, extra, 2, &u), -ENOENT);
}

static void test_usb_table_consistent(void **state)
{
    (void)state;
    assert_int_equal(at_usb_table_count(), AT_USB_ID_COUNT);
    for (size_t i = 0; i < at_usb_table_count(); i++) {
        struct at_usb_info u;
        assert_int_equal(at_usb_table_get(i, &u), 0);
        assert_int_equal(u.vid, 0x2c7c);
        assert_int_equal(at_usb_ids[i].vid, u.vid);
        assert_int_equal(at_usb_ids[i].pid, u.pid);
        assert_int_equal(at_usb_ids[i].interface_number, u.at_interface);
        assert_true(u.at_interface >= 0 && u.at_interface < 32);
        assert_int_not_equal(u.platform, AT_PLATFORM_UNKNOWN);
        assert_non_null(u.family);
        assert_non_null(u.operator_hint);
        for (size_t k = 0; k < i; k++)
            assert_int_not_equal(at_usb_ids[k].pid, u.pid);
    }
    struct at_usb_info u;
    assert_int_equal(at_usb_table_get(at_usb_table_count(), &u), -ENOENT);
}

static void test_registry(void **state)
{
    (void)state;
    const struct proto *p = proto_registry_find("at");
    assert_ptr_equal(p, &at_proto);
    const struct proto_usb_id *id = NULL;
    assert_ptr_equal(proto_registry_match_usb(0x2c7c, 0x0901, &id), &at_proto);
    assert_int_equal(id->interface_number, 2);
    assert_true(p->transports & PROTO_TRANSPORT_SERIAL);
    char err[80];
    void *pkg = (void *)1;
    assert_int_equal(p->sniff((const uint8_t *)"AT", 2), 0);
    assert_true(p->parse((const uint8_t *)"AT", 2, &pkg, err, sizeof(err)) < 0);
    assert_null(pkg);
    assert_true(strlen(err) > 0);
}

static void test_imei(void **state)
{
    (void)state;
    assert_true(at_imei_valid("490154203237518"));
    assert_true(at_imei_valid("356938035643809"));
    assert_false(at_imei_valid("490154203237519")); /* check digit */
    assert_false(at_imei_valid("49015420323751"));  /* 14 digits */
    assert_false(at_imei_valid("4901542032375180"));
    assert_false(at_imei_valid("49015420323751A"));
    assert_false(at_imei_valid(""));
    assert_false(at_imei_valid(NULL));
}

static void test_options(void **state)
{
    (void)state;
    struct at_opts o;
    char err[200] = "";
    assert_int_equal(at_opts_parse(NULL, &o, err, sizeof(err)), 0);
    assert_int_equal(o.download, 0);
    assert_int_equal(o.identify, 1);
    assert_int_equal(o.sync_tries, 5);
    assert_int_equal(o.reenumerate_ms, 30000);
    assert_int_equal(at_opts_parse("mode=download;identify=0;;reenumerate_ms=45000;force=1", &o,
                                   err, sizeof(err)),
                     0);
    assert_int_equal(o.download, 1);
    assert_int_equal(o.identify, 0);
    assert_int_equal(o.force, 1);
    assert_int_equal(o.reenumerate_ms, 45000);
    assert_int_equal(at_opts_parse("reenumerate_ms=999", &o, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "reenumerate_ms"));
    assert_int_equal(at_opts_parse("sync_tries=-1", &o, err, sizeof(err)), -EINVAL);
    assert_int_equal(at_opts_parse("mode=", &o, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "identify or download"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_revision_seed_examples),
        cmocka_unit_test(test_revision_rejects),
        cmocka_unit_test(test_usb_lookup_builtin),
        cmocka_unit_test(test_usb_lookup_config_extras),
        cmocka_unit_test(test_usb_table_consistent),
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_imei),
        cmocka_unit_test(test_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
