/* protocols/unisoc (host) against tests/sim/unisoc (device), each written independently from
 * ../shared/protocols/unisoc.md, under a virtual clock: the happy path on both links, and every
 * fault the model can inject ending in its documented fail code (protocols/unisoc/README.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <inttypes.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mkpkg.h"
#include "package/pkg.h"
#include "proto_run.h"
#include "unisoc/unisoc.h"
#include "unisoc/unisoc_pkg.h"

static struct buf pac;
static void *pkg;

static int setup(void **state)
{
    (void)state;
    pac = make_pac("UIX8910_MODEM", "8915DM_cat1_open", 1, 4242);
    char err[256];
    if (unisoc_pkg_hook_parse(pac.p, pac.len, &pkg, err, sizeof(err)) < 0) {
        fprintf(stderr, "parse: %s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unisoc_pkg_hook_free(pkg);
    buf_free(&pac);
    return 0;
}

static const struct proto_link link_tty = {PROTO_LINK_SERIAL, 0x0525, 0xa4a7, 0, 115200};
static const struct proto_link link_usb = {PROTO_LINK_USB_BULK, 0x0525, 0xa4a7, 512, 0};
/* What the model may come back as (tests/rack/harness/profiles.c). */
static const struct proto_run_profile profiles[] = {
    {"quectel-unisoc-at", {PROTO_LINK_SERIAL, 0x2c7c, 0x0901, 0, 115200}},
    {"unisoc-dl", {PROTO_LINK_SERIAL, 0x0525, 0xa4a7, 0, 115200}},
    {NULL, {0}},
};

static void run(const struct proto_link *link, const char *model_opts, const char *options,
                struct proto_run_result *res)
{
    struct proto_run_opts o = {
        .driver = &unisoc_proto,
        .params = {.package = pkg, .image = pac.p, .image_len = pac.len, .options = options},
        .link = *link,
        .profiles = profiles,
        .model = "unisoc",
        .model_opts = model_opts,
        .max_virtual_ms = 30 * 60 * 1000,
    };
    assert_int_equal(proto_run(&o, res), 0);
    printf("# %s [%s]: %s %s at %s: %s (%" PRIu64 " virtual ms, %" PRIu64 " steps, %" PRIu64
           " bytes to the device)\n",
           link->kind == PROTO_LINK_SERIAL ? "tty" : "usb", model_opts, res->ok ? "ok" : "fail",
           fail_code_to_string(res->code), res->stage, res->message, res->virtual_ms, res->steps,
           res->bytes_to_device);
}

/* Every flash image of the package is in the model's flash, byte for byte (by SHA-256). */
static void expect_flash_matches_package(const struct proto_run_result *res)
{
    const struct pkg *p = pkg;
    size_t checked = 0;
    for (size_t i = 0; i < p->images.count; i++) {
        const struct pkg_image *img = &p->images.items[i];
        if (img->address < 0x60000000 || img->address >= 0x70000000 || !img->data)
            continue;
        uint8_t md[32];
        SHA256(img->data, img->size, md);
        char want[100], key[40], got[120];
        int n = snprintf(want, sizeof(want), "%" PRIu64 ":", img->size);
        for (int k = 0; k < 32; k++)
            n += snprintf(want + n, sizeof(want) - (size_t)n, "%02x", md[k]);
        snprintf(key, sizeof(key), "region_0x%08" PRIx64, img->address);
        if (proto_run_stat(res->model_stats, key, got, sizeof(got)) < 0)
            fail_msg("image %s at 0x%08" PRIx64 " was never written; model stats:\n%s", img->name,
                     img->address, res->model_stats);
        if (strcmp(got, want) != 0)
            fail_msg("image %s at 0x%08" PRIx64 ": device has %s, package has %s", img->name,
                     img->address, got, want);
        checked++;
    }
    assert_true(checked >= 3);
}

static void expect_nv(const struct proto_run_result *res, const char *want)
{
    char got[8];
    assert_int_equal(proto_run_stat(res->model_stats, "nv_intact", got, sizeof(got)), 0);
    assert_string_equal(got, want);
}

static void test_8910_tty(void **state)
{
    (void)state;
    struct proto_run_result res;
    run(&link_tty, "chip=8910,reset_replug=quectel-unisoc-at", NULL, &res);
    if (!res.ok)
        fail_msg("%s at %s: %s\n%s", fail_code_to_string(res.code), res.stage, res.message,
                 res.model_stats);
    expect_flash_matches_package(&res);
    expect_nv(&res, "1");
    assert_int_equal(res.reenumerations, 1);
    assert_int_equal(res.progress.done, res.progress.total);
}

static void test_8910_usb(void **state)
{
    (void)state;
    struct proto_run_result res;
    run(&link_usb, "chip=8910,reset_replug=quectel-unisoc-at", NULL, &res);
    if (!res.ok)
        fail_msg("%s at %s: %s\n%s", fail_code_to_string(res.code), res.stage, res.message,
                 res.model_stats);
    expect_flash_matches_package(&res);
    expect_nv(&res, "1");
}

static void test_slow_flash_takes_virtual_time(void **state)
{
    (void)state;
    struct proto_run_result fast, slow;
    run(&link_usb, "chip=8910,reset_replug=quectel-unisoc-at", NULL, &fast);
    run(&link_usb, "chip=8910,reset_replug=quectel-unisoc-at,flash_rate=20000", NULL, &slow);
    assert_true(fast.ok && slow.ok);
    expect_flash_matches_package(&slow);
    /* ~62 KB of flash images at 20 kB/s: seconds of device time, not of test time. */
    assert_true(slow.virtual_ms > fast.virtual_ms + 2000);
}

struct fault {
    const char *model_opts;
    enum fail_code code;
    const char *why;
};

static void test_faults(void **state)
{
    (void)state;
    static const struct fault faults[] = {
        {"chip=8910,nak_chunk=12,nak_code=0x89", FAIL_REJECTED, "invalid-address NAK"},
        {"chip=8910,nak_chunk=12,nak_code=0x8a", FAIL_REJECTED, "size NAK"},
        {"chip=8910,bad_check_at=4", FAIL_PROTOCOL, "reply with a wrong checksum"},
        {"chip=8910,bad_check_at=20", FAIL_PROTOCOL, "wrong checksum while flashing"},
        {"chip=8910,silent_after=12", FAIL_TIMEOUT, "device stops answering"},
        {"chip=8910,unplug_at_chunk=8", FAIL_DISCONNECTED, "unplugged mid-write"},
        {"chip=8910,reset_replug=unisoc-dl", FAIL_VERIFY, "still in download mode after reset"},
        /* A BSL ROM ignores PDL packets: the host can only see silence. */
        {"chip=8850", FAIL_TIMEOUT, "8850 ROM behind the 8910 download id"},
    };
    for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
        struct proto_run_result res;
        run(&link_usb, faults[i].model_opts, NULL, &res);
        if (res.ok || res.code != faults[i].code)
            fail_msg("%s (%s): expected %s, got %s at %s: %s", faults[i].why, faults[i].model_opts,
                     fail_code_to_string(faults[i].code),
                     res.ok ? "ok" : fail_code_to_string(res.code), res.stage, res.message);
        assert_true(strlen(res.message) > 10); /* says what happened */
    }
}

static const struct proto_link link_8850 = {PROTO_LINK_USB_BULK, 0x1782, 0x4d16, 64, 0};

/* An 8910 package offered to an 8850 download port is refused before a byte is sent. */
static void test_package_for_other_chip(void **state)
{
    (void)state;
    struct proto_run_result res;
    run(&link_8850, "chip=8850,reset_replug=quectel-unisoc-at", NULL, &res);
    assert_false(res.ok);
    assert_int_equal(res.code, FAIL_NO_MATCH);
    assert_int_equal(res.bytes_to_device, 0);
    assert_non_null(strstr(res.message, "UIS8910DM"));
    assert_non_null(strstr(res.message, "1782:4d16"));
}

static void test_8850_with_8850_package(void **state)
{
    (void)state;
    struct buf pac8850 = make_pac_8850("UIS8850_MODEM", "8850DG_cat1_open", 1, 4343);
    void *pkg8850 = NULL;
    char err[256];
    if (unisoc_pkg_hook_parse(pac8850.p, pac8850.len, &pkg8850, err, sizeof(err)) < 0)
        fail_msg("parse: %s", err);
    struct proto_run_opts o = {
        .driver = &unisoc_proto,
        .params = {.package = pkg8850, .image = pac8850.p, .image_len = pac8850.len},
        .link = link_8850,
        .profiles = profiles,
        .model = "unisoc",
        .model_opts = "chip=8850,reset_replug=quectel-unisoc-at",
        .max_virtual_ms = 30 * 60 * 1000,
    };
    struct proto_run_result res;
    assert_int_equal(proto_run(&o, &res), 0);
    printf("# 8850: %s %s at %s: %s (%" PRIu64 " virtual ms)\n", res.ok ? "ok" : "fail",
           fail_code_to_string(res.code), res.stage, res.message, res.virtual_ms);
    if (!res.ok)
        fail_msg("%s at %s: %s\n%s", fail_code_to_string(res.code), res.stage, res.message,
                 res.model_stats);
    void *saved = pkg;
    pkg = pkg8850;
    expect_flash_matches_package(&res);
    pkg = saved;
    expect_nv(&res, "1");
    unisoc_pkg_hook_free(pkg8850);
    buf_free(&pac8850);
}

/* A VERIFY_ERROR NAK (a corrupted chunk) is resent once: the flash still ends up right. */
static void test_nak_retried(void **state)
{
    (void)state;
    struct proto_run_result res;
    run(&link_usb, "chip=8910,reset_replug=quectel-unisoc-at,nak_chunk=12", NULL, &res);
    if (!res.ok)
        fail_msg("%s at %s: %s", fail_code_to_string(res.code), res.stage, res.message);
    expect_flash_matches_package(&res);
    char naks[16];
    assert_int_equal(proto_run_stat(res.model_stats, "naks", naks, sizeof(naks)), 0);
    assert_string_equal(naks, "1");
}

/* A lost reply is survivable or a clear timeout; never a hang, never a wrong flash. */
static void test_dropped_reply(void **state)
{
    (void)state;
    for (int n = 2; n <= 30; n += 7) {
        char opts[96];
        snprintf(opts, sizeof(opts), "chip=8910,reset_replug=quectel-unisoc-at,drop_reply=%d", n);
        struct proto_run_result res;
        run(&link_usb, opts, NULL, &res);
        if (res.ok)
            expect_flash_matches_package(&res);
        else if (res.code != FAIL_TIMEOUT && res.code != FAIL_PROTOCOL)
            fail_msg("drop_reply=%d: %s at %s: %s", n, fail_code_to_string(res.code), res.stage,
                     res.message);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_8910_tty),
        cmocka_unit_test(test_8910_usb),
        cmocka_unit_test(test_slow_flash_takes_virtual_time),
        cmocka_unit_test(test_faults),
        cmocka_unit_test(test_nak_retried),
        cmocka_unit_test(test_package_for_other_chip),
        cmocka_unit_test(test_8850_with_8850_package),
        cmocka_unit_test(test_dropped_reply),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
