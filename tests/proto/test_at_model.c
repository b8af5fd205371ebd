/* protocols/at (host) against tests/sim/at_module (device), each written independently, under
 * a virtual clock: identification of a module that is still booting when the port opens (its
 * first probe is dropped, RDY follows), of a chatty slow one, and of one already up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "at/at.h"
#include "proto_run.h"

#define IMEI "866123050004046"

static const struct proto_link link_usb = {PROTO_LINK_USB_BULK, 0x2c7c, 0x0901, 512, 0};
static const struct proto_link link_tty = {PROTO_LINK_SERIAL, 0x2c7c, 0x0901, 0, 115200};

static void run(const struct proto_link *link, const char *model_opts, struct proto_run_result *res)
{
    struct proto_run_opts o = {
        .driver = &at_proto,
        .params = {.options = "mode=identify"},
        .link = *link,
        .model = "at_module",
        .model_opts = model_opts,
        .max_virtual_ms = 60 * 1000,
    };
    int r = proto_run(&o, res);
    if (r < 0)
        fail_msg("proto_run: %s", res->message);
    printf("# %s [%s]: %s %s at %s: %s (%" PRIu64 " virtual ms)\n",
           link->kind == PROTO_LINK_SERIAL ? "tty" : "usb", model_opts, res->ok ? "ok" : "fail",
           fail_code_to_string(res->code), res->stage, res->message, res->virtual_ms);
}

static void expect_identity(const struct proto_run_result *res, const char *revision)
{
    if (!res->ok)
        fail_msg("identify failed: %s", res->message);
    assert_string_equal(res->ident.chip, "EC600U");
    assert_string_equal(res->ident.revision, revision);
    assert_string_equal(res->ident.imei, IMEI);
}

#define MODULE "at_chan=0,series=EC600U,submodel=CNLB,imei=" IMEI

/* The port opens before the module is up (a module back from its flash): the first probe is
 * dropped, RDY follows and the next probe goes at once, not after sync_ms. */
static void test_probe_on_rdy(void **state)
{
    (void)state;
    for (int l = 0; l < 2; l++) {
        struct proto_run_result res;
        run(l ? &link_tty : &link_usb, MODULE, &res); /* boot_delay_ms 50 */
        expect_identity(&res, "EC600UCNLBR03A01M08");
        assert_true(res.virtual_ms < 1000); /* sync_ms is 1000 */
    }
}

/* Modules that were up already (RDY still buffered) or answer slowly: the probe on RDY or a
 * retried sync leaves two probes the module may both answer, and the drain must outlast the
 * second answer however slow, or every command pairs with the previous one's reply. */
static void test_slow_modules_stay_paired(void **state)
{
    (void)state;
    static const char *const opts[] = {
        MODULE ",reply_delay_ms=150,urc_every=2,garbage=40",
        MODULE ",reply_delay_ms=150,urc_every=2,garbage=40,boot_delay_ms=0",
        MODULE ",reply_delay_ms=400,boot_delay_ms=0",
        MODULE ",reply_delay_ms=400,boot_delay_ms=0,echo=0",
        MODULE ",reply_delay_ms=1200,boot_delay_ms=0,echo=0,boot_urcs=0",
        MODULE ",reply_delay_ms=150,boot_delay_ms=3000",
    };
    for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
        for (int l = 0; l < 2; l++) {
            struct proto_run_result res;
            run(l ? &link_tty : &link_usb, opts[i], &res);
            expect_identity(&res, "EC600UCNLBR03A01M08");
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_probe_on_rdy),
        cmocka_unit_test(test_slow_modules_stay_paired),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
