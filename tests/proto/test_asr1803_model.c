/* protocols/asr1803 (host) against tests/sim/asr1803 (device), each written independently from
 * ../shared/protocols/asr.md §3, under a virtual clock: a clean flash from the boot ROM through
 * the DKB to the programmed FBF images (checked by the SHA-256 of every image the model
 * recorded), the model's variants (start in the bootloader, slow mode, 6-byte and echoed
 * preamble replies, slow flash), and every fault knob ending in its documented fail code
 * (protocols/asr1803/README.md). The model's option names come from its README only. */
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

#include "../unit/asr1803_fixture.h"
#include "asr/asr1803_pkg.h"
#include "asr1803/asr1803.h"
#include "mkpkg.h"
#include "package/pkg.h"
#include "proto_run.h"

static struct fx_pkg fx;
static void *pkg;

static const struct fx_spec spec = {
    .with_dkb = 1, .nimg = 3, .img_len = {90000, 20000, 333}, .split = 1};

static int setup(void **state)
{
    (void)state;
    fx_build(&fx, &spec);
    char err[256];
    if (asr1803_pkg_hook_parse(fx.file.p, fx.file.len, &pkg, err, sizeof(err)) < 0) {
        fprintf(stderr, "parse: %s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    asr1803_pkg_hook_free(pkg);
    fx_free(&fx);
    return 0;
}

static const struct proto_link link_rom = {PROTO_LINK_USB_BULK, 0x2ecc, 0x3002, 512, 0};
/* What the model may come back as (its README: asr1803-dl after the DKB, the AT profile after
 * the final reset; a 3001 profile for dkb_replug=). */
static const struct proto_run_profile profiles[] = {
    {"asr1803-dl", {PROTO_LINK_USB_BULK, 0x2ecc, 0x3002, 512, 0}},
    {"asr1803-dl-bl", {PROTO_LINK_USB_BULK, 0x2ecc, 0x3001, 512, 0}},
    {"quectel-ec200a-at", {PROTO_LINK_USB_BULK, 0x2c7c, 0x6005, 512, 0}},
    {NULL, {0}},
};

static void run_pkg(void *package, const struct proto_link *link, const char *model_opts,
                    const char *options, struct proto_run_result *res)
{
    struct proto_run_opts o = {
        .driver = &asr1803_proto,
        .params = {.package = package, .options = options},
        .link = *link,
        .profiles = profiles,
        .model = "asr1803",
        .model_opts = model_opts,
        .max_virtual_ms = 60 * 60 * 1000,
    };
    assert_int_equal(proto_run(&o, res), 0);
    printf("# [%s] [%s]: %s %s at %s: %s (%" PRIu64 " virtual ms, %" PRIu64 " steps, %" PRIu64
           " bytes to the device, %u re-enumerations)\n",
           model_opts, options ? options : "", res->ok ? "ok" : "fail",
           fail_code_to_string(res->code), res->stage, res->message, res->virtual_ms, res->steps,
           res->bytes_to_device, res->reenumerations);
}

static void run(const char *model_opts, const char *options, struct proto_run_result *res)
{
    run_pkg(pkg, &link_rom, model_opts, options, res);
}

static void expect_ok(const struct proto_run_result *res)
{
    if (!res->ok)
        fail_msg("%s at %s: %s\n%s", fail_code_to_string(res->code), res->stage, res->message,
                 res->model_stats);
}

/* The model recorded every image of the stages it went through, byte for byte: TIM headers
 * whole, other images without their 4-byte id (asr.md §3.3). */
static void expect_images(const struct proto_run_result *res, int rom)
{
    size_t checked = 0;
    for (size_t i = 0; i < fx.n; i++) {
        const struct fx_member *m = &fx.m[i];
        if (!m->id || (m->stage == 0 && !rom))
            continue;
        uint8_t md[32];
        SHA256(m->data.p + m->skip, m->data.len - m->skip, md);
        char want[100], key[40], got[120], idt[16];
        int n = snprintf(want, sizeof(want), "%zu:", m->data.len - m->skip);
        for (int k = 0; k < 32; k++)
            n += snprintf(want + n, sizeof(want) - (size_t)n, "%02x", md[k]);
        uint32_t id = m->id;
        snprintf(idt, sizeof(idt), "%c%c%c%c", (char)(id >> 24), (char)(id >> 16), (char)(id >> 8),
                 (char)id);
        snprintf(key, sizeof(key), "img_%s_%s", m->stage ? "bl" : "rom", idt);
        if (proto_run_stat(res->model_stats, key, got, sizeof(got)) < 0)
            fail_msg("%s (%s) was never recorded; model stats:\n%s", m->name, key,
                     res->model_stats);
        if (strcasecmp(got, want) != 0)
            fail_msg("%s: device has %s, package has %s", m->name, got, want);
        checked++;
    }
    assert_int_equal(checked, rom ? 6 : 4);
}

static void test_clean_flash_from_rom(void **state)
{
    (void)state;
    struct proto_run_result res;
    run("reset_replug=quectel-ec200a-at", NULL, &res);
    expect_ok(&res);
    expect_images(&res, 1);
    assert_int_equal(res.reenumerations, 2); /* ROM -> DKB, then the reset */
    assert_int_equal(res.progress.done, res.progress.total);
    assert_non_null(strstr(res.ident.revision, "DKB 3311 06012014"));
    char v[32];
    assert_int_equal(proto_run_stat(res.model_stats, "fast_images", v, sizeof(v)), 0);
    assert_string_equal(v, "4"); /* the BL grants fast mode, the ROM does not */
}

static void test_variants(void **state)
{
    (void)state;
    static const struct {
        const char *model, *host;
        int rom;
    } v[] = {
        {"stage=bl,reset_replug=quectel-ec200a-at", NULL, 0},
        {"preamble_reply=6,reset_replug=quectel-ec200a-at", NULL, 1},
        {"preamble_reply=echo,reset_replug=quectel-ec200a-at", NULL, 1},
        {"fast=0,bl_buf=0x3000,rom_buf=0x800,reset_replug=quectel-ec200a-at", NULL, 1},
        {"reset_replug=quectel-ec200a-at", "fast=0;chunk=4000", 1},
        {"dkb_replug=asr1803-dl-bl,reset_replug=quectel-ec200a-at", NULL, 1},
        {"rom_fast=1,reset_replug=quectel-ec200a-at", NULL, 1},
        /* The notes give no ROM version: the host has nothing to hold it against. */
        {"rom_version=2222,reset_replug=quectel-ec200a-at", NULL, 1},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct proto_run_result res;
        run(v[i].model, v[i].host, &res);
        expect_ok(&res);
        expect_images(&res, v[i].rom);
        assert_int_equal(res.progress.done, res.progress.total);
    }
}

static void test_slow_flash_takes_virtual_time(void **state)
{
    (void)state;
    struct proto_run_result fast, slow;
    run("reset_replug=quectel-ec200a-at", NULL, &fast);
    run("flash_rate=10000,reset_replug=quectel-ec200a-at", NULL, &slow);
    expect_ok(&fast);
    expect_ok(&slow);
    expect_images(&slow, 1);
    /* ~110 KB of FBF images at 10 kB/s: seconds of device time spent polling for "ready". */
    assert_true(slow.virtual_ms > fast.virtual_ms + 8000);
}

static void test_stays_on_bus_after_disconnect(void **state)
{
    (void)state;
    struct proto_run_result res;
    run("reset_stay=1", NULL, &res);
    assert_false(res.ok);
    /* It never leaves download mode: a job times out waiting for the reboot. proto_run
     * reports the device "back" under the profile of its last replug (the DKB's 2ecc:3002),
     * which the host calls verify; either way the run must not pass. */
    assert_true(res.code == FAIL_TIMEOUT || res.code == FAIL_VERIFY);
    run("reset_stay=1", "reboot_check=0", &res);
    expect_ok(&res);
    expect_images(&res, 1);
}

struct fault {
    const char *model_opts;
    enum fail_code code;
    const char *words; /* the failure message names the problem */
};

static void test_faults(void **state)
{
    (void)state;
    static const struct fault faults[] = {
        {"nack_image=1,nack_at=select", FAIL_REJECTED, "SELECTIMAGE: expected ACK, got NACK"},
        {"nack_image=2,nack_at=verify", FAIL_REJECTED, "VERIFYIMAGE image Dkb.bin"},
        {"nack_image=3,nack_at=header", FAIL_REJECTED, "DATAHEADER image FBF_timheader.bin"},
        {"nack_image=4,nack_at=data,fast=0", FAIL_REJECTED, "DATA image 0x0808_FBF1_h.bin"},
        {"nack_image=5,nack_at=done,nack_code=0x71", FAIL_REJECTED, "error 0x71 (CRC failed)"},
        {"bad_reply=1", FAIL_PROTOCOL, "preamble reply"},
        {"bad_reply=4,bad_kind=cmd", FAIL_PROTOCOL, "expected the status of"},
        {"bad_reply=9,bad_kind=status", FAIL_PROTOCOL, "status 85"},
        {"bad_reply=12,bad_kind=dlen", FAIL_PROTOCOL, "truncated reply"},
        {"silent_after=3", FAIL_TIMEOUT, "no reply within"},
        {"silent_after=25", FAIL_TIMEOUT, "no reply within"},
        {"silent_image=4", FAIL_TIMEOUT, "no reply within"},
        {"unplug_after_bytes=1000", FAIL_DISCONNECTED, "left"},
        {"unplug_after_bytes=60000", FAIL_DISCONNECTED, "left"},
        {"processor=XXXX", FAIL_NO_MATCH, "expected processor 'NZA3'"},
        {"dkb_version=9999", FAIL_NO_MATCH, "expected the DKB signature"},
        {"chip_id=16", FAIL_REJECTED, "error 0x05 (not supported)"},
    };
    for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
        char opts[160];
        snprintf(opts, sizeof(opts), "%s,reset_replug=quectel-ec200a-at", faults[i].model_opts);
        struct proto_run_result res;
        run(opts, NULL, &res);
        if (res.ok || res.code != faults[i].code || !strstr(res.message, faults[i].words))
            fail_msg("%s: expected %s naming '%s', got %s at %s: %s", opts,
                     fail_code_to_string(faults[i].code), faults[i].words,
                     res.ok ? "ok" : fail_code_to_string(res.code), res.stage, res.message);
    }
}

/* tests/mkpkg's FBF has random member bytes: the device refuses its TIM, the host says so. */
static void test_random_fbf_is_refused(void **state)
{
    (void)state;
    struct buf b = make_fbf(1100);
    void *p = NULL;
    char err[256];
    if (asr1803_pkg_hook_parse(b.p, b.len, &p, err, sizeof(err)) < 0)
        fail_msg("parse: %s", err);
    struct proto_run_result res;
    run_pkg(p, &link_rom, "reset_replug=quectel-ec200a-at", NULL, &res);
    assert_false(res.ok);
    assert_int_equal(res.code, FAIL_REJECTED);
    assert_non_null(strstr(res.message, "invalid TIM"));
    asr1803_pkg_hook_free(p);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_flash_from_rom),
        cmocka_unit_test(test_variants),
        cmocka_unit_test(test_slow_flash_takes_virtual_time),
        cmocka_unit_test(test_stays_on_bus_after_disconnect),
        cmocka_unit_test(test_faults),
        cmocka_unit_test(test_random_fbf_is_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
