/* protocols/asr (host) against tests/sim/asr (device), each written independently from
 * ../shared/protocols/asr.md, under a virtual clock: a clean flash of the mkpkg Crane package
 * (every flash partition compared with the package by SHA-256 through the model's stats), a
 * large image split into sparse segments, the ROM 2019.01.15 quirk, and every fault knob of the
 * model ending in its documented fail code (protocols/asr/README.md). */
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

#include "asr/asr.h"
#include "asr/asr_pkg.h"
#include "mkpkg.h"
#include "package/pkg.h"
#include "proto_run.h"

#define BIG_CP (2500u * 1000u) /* > 2 MiB: three 1 MiB segments into cp (3 MiB) */

struct package {
    struct buf zip;
    struct buf big; /* replacement member, when any */
    void *pkg;
};

static struct package plain, big_cp, needs_2020;

/* The mkpkg Crane package, optionally with cp.bin replaced by `cp` and a require line
 * inserted at the top of download.json. */
static int build(struct package *p, uint32_t seed, size_t cp, const char *require)
{
    struct zip z = {0};
    add_asr_flashable(&z, "", seed);
    struct buf json = {0};
    for (size_t i = 0; i < z.n; i++) {
        if (cp && !strcmp(z.m[i].path, "cp.bin")) {
            p->big = random_image(cp, seed + 99);
            z.m[i].data = p->big.p;
            z.m[i].len = p->big.len;
        }
        if (require && !strcmp(z.m[i].path, "download.json")) {
            buf_printf(&json, "[\n  %s,%.*s", require, (int)z.m[i].len - 1,
                       (const char *)z.m[i].data + 1);
            z.m[i].data = json.p;
            z.m[i].len = json.len;
        }
    }
    p->zip = zip_build(&z, 0);
    zip_free(&z);
    buf_free(&json);
    char err[256];
    if (asr_pkg_hook_parse(p->zip.p, p->zip.len, &p->pkg, err, sizeof(err)) < 0) {
        fprintf(stderr, "parse: %s\n", err);
        return -1;
    }
    return 0;
}

static void drop(struct package *p)
{
    asr_pkg_hook_free(p->pkg);
    buf_free(&p->zip);
    buf_free(&p->big);
}

static int setup(void **state)
{
    (void)state;
    if (build(&plain, 4242, 0, NULL) < 0 || build(&big_cp, 77, BIG_CP, NULL) < 0)
        return -1;
    return build(&needs_2020, 4343, 0,
                 "{\"command\": \"require\", \"group\": \"0\", \"name\": \"version-bootrom\", "
                 "\"value\": \"2020.07.30\"}");
}

static int teardown(void **state)
{
    (void)state;
    drop(&plain);
    drop(&big_cp);
    drop(&needs_2020);
    return 0;
}

static const struct proto_link link_usb = {PROTO_LINK_USB_BULK, 0x2ecc, 0x3004, 512, 0};
/* What the model may come back as (tests/rack/harness/profiles.c). */
static const struct proto_run_profile profiles[] = {
    {"quectel-at", {PROTO_LINK_SERIAL, 0x2c7c, 0x6001, 0, 115200}},
    {"asr-dl", {PROTO_LINK_USB_BULK, 0x2ecc, 0x3004, 512, 0}},
    {NULL, {0}},
};

#define BACK "reset_replug=quectel-at"

static void run_on(const struct proto_link *link, const struct package *p, const char *model_opts,
                   const char *options, struct proto_run_result *res)
{
    struct proto_run_opts o = {
        .driver = &asr_proto,
        .params = {.package = p->pkg,
                   .image = p->zip.p,
                   .image_len = p->zip.len,
                   .options = options},
        .link = *link,
        .profiles = profiles,
        .model = "asr",
        .model_opts = model_opts,
        .max_virtual_ms = 60 * 60 * 1000,
    };
    assert_int_equal(proto_run(&o, res), 0);
    printf("# [%s]%s%s: %s %s at %s: %s (%" PRIu64 " virtual ms, %" PRIu64 " steps, %" PRIu64
           " bytes to the device)\n",
           model_opts, options ? " " : "", options ? options : "", res->ok ? "ok" : "fail",
           fail_code_to_string(res->code), res->stage, res->message, res->virtual_ms, res->steps,
           res->bytes_to_device);
}

static void run(const struct package *p, const char *model_opts, const char *options,
                struct proto_run_result *res)
{
    run_on(&link_usb, p, model_opts, options, res);
}

static void expect_ok(const struct proto_run_result *res)
{
    if (!res->ok)
        fail_msg("%s at %s: %s\n%s", fail_code_to_string(res->code), res->stage, res->message,
                 res->model_stats);
}

static void stat_is(const struct proto_run_result *res, const char *key, const char *want)
{
    char got[128];
    if (proto_run_stat(res->model_stats, key, got, sizeof(got)) < 0)
        fail_msg("model stat %s missing:\n%s", key, res->model_stats);
    if (strcmp(got, want) != 0)
        fail_msg("model stat %s = %s, expected %s", key, got, want);
}

/* Every flash image of the package is in the model's flash, byte for byte: extent = the image
 * rounded up to 4 KiB, content = the image then the host's 0xFF padding (README). */
static size_t expect_flash_matches_package(const struct package *p,
                                           const struct proto_run_result *res)
{
    const struct pkg *pk = p->pkg;
    size_t checked = 0;
    for (size_t i = 0; i < pk->images.count; i++) {
        const struct pkg_image *img = &pk->images.items[i];
        if (strcmp(img->type, "flash") != 0 || !img->data)
            continue;
        size_t extent = (size_t)(img->size + 4095) / 4096 * 4096;
        uint8_t *padded = malloc(extent);
        assert_non_null(padded);
        memset(padded, 0xFF, extent);
        memcpy(padded, img->data, img->size);
        uint8_t md[32];
        SHA256(padded, extent, md);
        free(padded);
        char want[100], key[80];
        int n = snprintf(want, sizeof(want), "%zu:", extent);
        for (int k = 0; k < 32; k++)
            n += snprintf(want + n, sizeof(want) - (size_t)n, "%02x", md[k]);
        snprintf(key, sizeof(key), "part_%s", img->partition);
        stat_is(res, key, want);
        checked++;
    }
    assert_true(checked >= 8);
    return checked;
}

static void test_clean_flash(void **state)
{
    (void)state;
    struct proto_run_result res;
    run(&plain, BACK, NULL, &res);
    expect_ok(&res);
    size_t images = expect_flash_matches_package(&plain, &res);
    char n[16];
    snprintf(n, sizeof(n), "%zu", images); /* every image fits one segment */
    stat_is(&res, "sparse_segments", n);
    stat_is(&res, "erased", "nvm");
    stat_is(&res, "reboot", "1");
    stat_is(&res, "calls", "2");
    assert_int_equal(res.reenumerations, 1);
    assert_int_equal(res.progress.done, res.progress.total);
    assert_string_equal(res.ident.chip, "ASR160x arom-tiny");
    assert_string_equal(res.ident.revision, "bootrom 2020.07.30, aboot 0.5");
    /* The same over a serial link (the ROM's UART, or a tty the kernel made of the port). */
    static const struct proto_link link_tty = {PROTO_LINK_SERIAL, 0x2ecc, 0x3004, 0, 115200};
    run_on(&link_tty, &plain, BACK, NULL, &res);
    expect_ok(&res);
    expect_flash_matches_package(&plain, &res);
}

/* cp.bin of 2.5 MB under the flasher's 1 MiB limit: three segments of 255 blocks at most. */
static void test_large_image_segmented(void **state)
{
    (void)state;
    struct proto_run_result res;
    run(&big_cp, BACK, NULL, &res);
    expect_ok(&res);
    size_t images = expect_flash_matches_package(&big_cp, &res);
    char n[16];
    snprintf(n, sizeof(n), "%zu", images + 2);
    stat_is(&res, "sparse_segments", n);
    assert_int_equal(res.progress.done, res.progress.total);
    /* A smaller device limit (and a smaller MTU) only means more segments and frames. */
    run(&big_cp, BACK ",flasher_max=0x40000,mtu=256", NULL, &res);
    expect_ok(&res);
    images = expect_flash_matches_package(&big_cp, &res);
    stat_is(&res, "mtu", "256");
    /* 611 blocks, (0x40000 - 100) / 4096 = 63 per segment: ten segments for cp. */
    snprintf(n, sizeof(n), "%zu", images - 1 + 10);
    stat_is(&res, "sparse_segments", n);
}

/* ROM 2019.01.15 FAILs a real call: the host must send nop (notes §2.3). */
static void test_rom_2019_quirk(void **state)
{
    (void)state;
    struct proto_run_result res;
    run(&plain, BACK ",rom=2019.01.15", NULL, &res);
    expect_ok(&res);
    expect_flash_matches_package(&plain, &res);
    stat_is(&res, "calls", "2");
}

static void test_slow_flash_and_quiet_device(void **state)
{
    (void)state;
    struct proto_run_result fast, slow, quiet;
    run(&big_cp, BACK, NULL, &fast);
    run(&big_cp, BACK ",flash_rate=50000,erase_ms=2000,call_ms=4000", NULL, &slow);
    expect_ok(&fast);
    expect_ok(&slow);
    expect_flash_matches_package(&big_cp, &slow);
    /* 2.6 MB at 50 kB/s: about a minute of device time, not of test time. */
    assert_true(slow.virtual_ms > fast.virtual_ms + 40000);
    /* No heartbeats at all, but every answer within 3 s: the link is never judged lost. */
    run(&plain, BACK ",heartbeat_ms=0", NULL, &quiet);
    expect_ok(&quiet);
    expect_flash_matches_package(&plain, &quiet);
}

struct fault {
    const struct package *p;
    const char *model_opts;
    enum fail_code code;
    const char *needle; /* the message names the problem */
};

static void test_faults(void **state)
{
    (void)state;
    static const struct fault faults[] = {
        {&plain, BACK ",bad_reply_at=3", FAIL_PROTOCOL, "oKAY"},
        {&plain, BACK ",bad_reply_at=12", FAIL_PROTOCOL, "not OKAY, FAIL, DATA or INFO"},
        {&plain, BACK ",bad_reply_at=30", FAIL_PROTOCOL, "not OKAY, FAIL, DATA or INFO"},
        {&plain, BACK ",bad_hello=1", FAIL_PROTOCOL, "HELLO_REPLY carries 3 bytes"},
        {&plain, BACK ",fail_at=flash:cp", FAIL_REJECTED, "flash:cp"},
        {&plain, BACK ",fail_at=verify", FAIL_REJECTED, "verify"},
        {&plain, BACK ",fail_at=download:,fail_nth=4", FAIL_REJECTED, "download"},
        {&plain, BACK ",fail_at=partition,fail_nth=2", FAIL_REJECTED, "partition"},
        {&plain, BACK ",fail_at=erase:nvm", FAIL_REJECTED, "erase:nvm"},
        {&plain, BACK ",silent_at=partition", FAIL_TIMEOUT, "no reply within"},
        {&plain, BACK ",silent_after=9", FAIL_TIMEOUT, "no reply within"},
        {&plain, BACK ",hang_at=flash:dsp", FAIL_TIMEOUT, "link lost"},
        {&plain, BACK ",hang_at=call", FAIL_TIMEOUT, "link lost"},
        /* No heartbeats and a 5 s call: 3 s without any frame is a lost link (§2.1). */
        {&plain, BACK ",heartbeat_ms=0,call_ms=5000,info_lines=0", FAIL_TIMEOUT, "link lost"},
        {&big_cp, BACK ",unplug_after_bytes=1500000", FAIL_DISCONNECTED, "left"},
        {&plain, BACK ",unplug_after_bytes=100", FAIL_DISCONNECTED, "left"},
        {&plain, BACK ",product=arom-big", FAIL_NO_MATCH, "arom-big"},
        {&plain, BACK ",version=0.9", FAIL_NO_MATCH, "0.9"},
        {&needs_2020, BACK ",rom=2019.01.15", FAIL_NO_MATCH, "2019.01.15"},
        {&plain, BACK ",jedec=0x12345678", FAIL_REJECTED, "partition"},
        {&plain, "reset_replug=asr-dl", FAIL_VERIFY, "still in download mode"},
    };
    for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
        struct proto_run_result res;
        run(faults[i].p, faults[i].model_opts, NULL, &res);
        if (res.ok || res.code != faults[i].code || !strstr(res.message, faults[i].needle))
            fail_msg("%s: expected %s naming '%s', got %s at %s: %s", faults[i].model_opts,
                     fail_code_to_string(faults[i].code), faults[i].needle,
                     res.ok ? "ok" : fail_code_to_string(res.code), res.stage, res.message);
    }
}

/* The package that requires ROM 2020.07.30 flashes on that ROM. */
static void test_required_rom_present(void **state)
{
    (void)state;
    struct proto_run_result res;
    run(&needs_2020, BACK, NULL, &res);
    expect_ok(&res);
    expect_flash_matches_package(&needs_2020, &res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_flash),    cmocka_unit_test(test_large_image_segmented),
        cmocka_unit_test(test_rom_2019_quirk), cmocka_unit_test(test_slow_flash_and_quiet_device),
        cmocka_unit_test(test_faults),         cmocka_unit_test(test_required_rom_present),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
