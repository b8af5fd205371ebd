/* The ASR Crane host session (protocols/asr/asr.c) against a scripted device written by hand
 * from ../shared/protocols/asr.md (asr_script_dev.h): the full command sequence of a package,
 * the flash content it leaves, noise and split reads, the ROM quirk, and one misbehaviour per
 * fault row ending in its documented fail code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "asr/asr.h"
#include "asr/asr_pkg.h"
#include "asr/asr_wire.h"
#include "asr_script_dev.h"
#include "package/pkg.h"

/* ---- a hand-made package (download.json already parsed) -------------------------------- */

#define APP_LEN (3 * 4096 + 100)

struct fx {
    struct pkg pkg;
    struct asr_pkg ap;
    struct asr_cmd cmds[16];
    struct pkg_image img[16];
    uint8_t data[6][APP_LEN];
};

static void fx_cmd(struct fx *f, const char *command, const char *image, const char *part,
                   size_t len, const char *bootrom)
{
    struct asr_cmd *c = &f->cmds[f->ap.dl.count++];
    snprintf(c->command, sizeof(c->command), "%s", command);
    snprintf(c->image, sizeof(c->image), "%s", image ? image : "");
    snprintf(c->partition, sizeof(c->partition), "%s", part ? part : "");
    snprintf(c->bootrom, sizeof(c->bootrom), "%s", bootrom ? bootrom : "");
    if (!strcmp(command, "require") || !strcmp(command, "progress"))
        return;
    struct pkg_image *im = &f->img[f->ap.images.count];
    snprintf(im->type, sizeof(im->type), "%s", command);
    snprintf(im->partition, sizeof(im->partition), "%s", part ? part : "");
    if (len) {
        uint8_t *d = f->data[f->ap.images.count % 6];
        for (size_t i = 0; i < len; i++)
            d[i] = (uint8_t)(i * 13 + f->ap.images.count * 7 + (i >> 9));
        im->data = d;
        im->size = len;
    }
    f->ap.images.count++;
}

/* require product, progress, call preboot/flasher, partition flashinfo/partition.bin, flash
 * app (4 blocks: 2 segments under max_download=8342), erase fs. */
static struct fx *fx_new(int with_old_preboot)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->ap.dl.cmds = f->cmds;
    f->ap.images.items = f->img;
    f->ap.images.cap = 16;
    f->pkg.parsed_kind = PKG_PARSED_ASR;
    f->pkg.parsed = &f->ap;
    fx_cmd(f, "require", NULL, NULL, 0, NULL);
    snprintf(f->cmds[0].name, sizeof(f->cmds[0].name), "product");
    snprintf(f->cmds[0].value, sizeof(f->cmds[0].value), "arom|arom-tiny");
    fx_cmd(f, "progress", NULL, NULL, 0, NULL);
    snprintf(f->cmds[1].value, sizeof(f->cmds[1].value), "100");
    if (with_old_preboot)
        fx_cmd(f, "call", "preboot.img", NULL, 1111, "2019.01.15");
    fx_cmd(f, "call", "preboot.img", NULL, 3000, NULL);
    fx_cmd(f, "call", "flasher.img", NULL, 5000, NULL);
    fx_cmd(f, "partition", "flashinfo.bin", NULL, 648, NULL);
    fx_cmd(f, "partition", "partition.bin", NULL, 0x88C, NULL);
    fx_cmd(f, "flash", "app.bin", "app", APP_LEN, NULL);
    fx_cmd(f, "erase", NULL, "fs", 0, NULL);
    return f;
}

static const uint8_t *fx_image(const struct fx *f, const char *type, int nth)
{
    for (size_t i = 0; i < f->ap.images.count; i++)
        if (!strcmp(f->img[i].type, type) && nth-- == 0)
            return f->img[i].data;
    return NULL;
}

struct run {
    struct fx *fx;
    struct dev dev;
    struct proto_ctx ctx;
    struct proto_request end;
};

static void run_opts(struct run *r, const char *options, int old_preboot)
{
    r->fx = fx_new(old_preboot);
    memset(&r->ctx, 0, sizeof(r->ctx));
    r->ctx.link = (struct proto_link){PROTO_LINK_USB_BULK, 0x2ecc, 0x3004, 64, 0};
    r->dev.mp = 64;
    struct proto_params params = {.package = &r->fx->pkg, .options = options};
    void *s = NULL;
    assert_int_equal(asr_proto.session_new(&params, &r->ctx, &s), 0);
    r->end = drive(&r->dev, s, &r->ctx);
    asr_proto.session_free(s);
    free(r->dev.blob);
}

static void run_default(struct run *r)
{
    run_opts(r, "max_download=8342", 0);
}

static void run_free(struct run *r)
{
    free(r->fx);
}

static void expect_fail(const struct run *r, enum fail_code code, const char *needle)
{
    if (r->end.type != PROTO_REQ_FAIL || r->end.fail != code || !strstr(r->end.message, needle))
        fail_msg("expected %s containing '%s', got %s %s: %s", fail_code_to_string(code), needle,
                 proto_request_type_to_string(r->end.type), fail_code_to_string(r->end.fail),
                 r->end.message);
}

static const char *const full_log[] = {
    "getvar:product",
    "getvar:version-bootrom",
    "getvar:product",
    "progress:100",
    "getvar:max-download-size",
    "download:00000bb8",
    "verify",
    "call",
    "getvar:max-download-size",
    "download:00001388",
    "verify",
    "call",
    "getvar:max-download-size",
    "download:00000288",
    "partition",
    "download:0000088c",
    "partition",
    "download:00002054",
    "flash:app",
    "download:00002054",
    "flash:app",
    "erase:fs",
    "reboot",
    "complete",
    "disconnect",
};

static void expect_log(const struct run *r, const char *const *want, int n)
{
    for (int i = 0; i < n && i < r->dev.nlog; i++)
        if (strcmp(r->dev.log[i], want[i]) != 0)
            fail_msg("command %d: expected '%s', got '%s'", i, want[i], r->dev.log[i]);
    assert_int_equal(r->dev.nlog, n);
}

static void expect_app_flashed(const struct run *r)
{
    const uint8_t *app = fx_image(r->fx, "flash", 0);
    assert_memory_equal(r->dev.flash, app, APP_LEN);
    for (size_t i = APP_LEN; i < 4 * 4096; i++)
        assert_int_equal(r->dev.flash[i], 0xFF); /* the host pads the last block with 0xFF */
    assert_int_equal(r->dev.segments, 2);
}

/* Under the flasher's own limit the app goes in one segment. */
static void expect_app_flashed_once(const struct run *r)
{
    assert_memory_equal(r->dev.flash, fx_image(r->fx, "flash", 0), APP_LEN);
    assert_int_equal(r->dev.segments, 1);
}

static void test_full_session(void **state)
{
    (void)state;
    struct run r;
    dev_init(&r.dev);
    run_default(&r);
    if (r.end.type != PROTO_REQ_DONE)
        fail_msg("%s: %s", fail_code_to_string(r.end.fail), r.end.message);
    expect_log(&r, full_log, (int)(sizeof(full_log) / sizeof(full_log[0])));
    expect_app_flashed(&r);
    assert_int_equal(r.ctx.progress.total, 3000 + 5000 + 648 + 0x88C + APP_LEN);
    assert_int_equal(r.ctx.progress.done, r.ctx.progress.total);
    assert_string_equal(r.ctx.progress.phase, "done");
    assert_string_equal(r.ctx.ident.chip, "ASR160x arom-tiny");
    assert_string_equal(r.ctx.ident.revision, "bootrom 2020.07.30");
    assert_int_equal(r.dev.reenums, 1);
    assert_int_equal(r.dev.zlp_bad, 0);
    run_free(&r);
}

/* Heartbeats, INFO lines before every reply, one byte per read: same session, same flash. */
static void test_noise_and_split_reads(void **state)
{
    (void)state;
    struct run r;
    dev_init(&r.dev);
    r.dev.heartbeats = r.dev.info = r.dev.split = 1;
    run_default(&r);
    if (r.end.type != PROTO_REQ_DONE)
        fail_msg("%s: %s", fail_code_to_string(r.end.fail), r.end.message);
    expect_log(&r, full_log, (int)(sizeof(full_log) / sizeof(full_log[0])));
    expect_app_flashed(&r);
    run_free(&r);
}

/* ROM 2019.01.15: nop in place of call, and a FAIL to nop (old firmware) is ignored. */
static void test_rom_2019_nop_quirk(void **state)
{
    (void)state;
    struct run r;
    dev_init(&r.dev);
    r.dev.bootrom = "2019.01.15";
    r.dev.nop_fails = 1;
    run_default(&r);
    assert_int_equal(r.end.type, PROTO_REQ_DONE);
    int nops = 0;
    for (int i = 0; i < r.dev.nlog; i++) {
        assert_string_not_equal(r.dev.log[i], "call");
        nops += !strcmp(r.dev.log[i], "nop");
    }
    assert_int_equal(nops, 2);
    run_free(&r);
}

/* A call entry for another ROM version is skipped, and progress still ends at its total. */
static void test_call_for_other_rom_skipped(void **state)
{
    (void)state;
    struct run r;
    dev_init(&r.dev);
    run_opts(&r, "max_download=8342", 1);
    assert_int_equal(r.end.type, PROTO_REQ_DONE);
    expect_log(&r, full_log, (int)(sizeof(full_log) / sizeof(full_log[0])));
    assert_int_equal(r.ctx.progress.done, r.ctx.progress.total);
    run_free(&r);
}

static void test_no_reboot_option(void **state)
{
    (void)state;
    struct run r;
    dev_init(&r.dev);
    run_opts(&r, "reboot=0;mtu=256", 0);
    assert_int_equal(r.end.type, PROTO_REQ_DONE);
    assert_string_equal(r.dev.log[r.dev.nlog - 1], "complete");
    assert_string_equal(r.dev.log[r.dev.nlog - 2], "erase:fs");
    assert_int_equal(r.dev.reenums, 0);
    assert_int_equal(r.dev.segments, 1); /* 1 MiB limit: the app fits one segment */
    run_free(&r);
}

/* The module leaves during "complete" (announced by reboot): back in normal mode = done. */
static void test_leaves_after_reboot(void **state)
{
    (void)state;
    struct run r;
    dev_init(&r.dev);
    r.dev.leave_at_complete = 1;
    run_default(&r);
    assert_int_equal(r.end.type, PROTO_REQ_DONE);
    assert_string_equal(r.dev.log[r.dev.nlog - 1], "complete");
    run_free(&r);
}

/* One misbehaviour per row: the knobs that differ from a correct device. */
struct fault {
    const char *what;
    const char *ovr_prefix, *ovr_reply; /* reply to the first command with that prefix */
    int ovr_silent, ovr_hang, heartbeats;
    const char *product, *maxdl, *probe_answer;
    int probe_silent, hello_len;
    uint16_t back_pid;
    enum fail_code code;
    const char *needle;
};

static void test_faults(void **state)
{
    (void)state;
    static const struct fault faults[] = {
        {"FAIL to flash", "flash:app", "FAILflash write error", .code = FAIL_REJECTED,
         .needle = "FAIL 'flash write error' to 'flash:app'"},
        {"corrupt status", "verify", "oKAY", .code = FAIL_PROTOCOL, .needle = "'oKAY'"},
        {"DATA of another size", "download:00001388", "DATA00001000", .code = FAIL_PROTOCOL,
         .needle = "expected DATA00001388, got DATA00001000"},
        {"OKAY to download", "download:", "OKAY", .code = FAIL_PROTOCOL, .needle = "expected DATA"},
        {"DATA to a command", "partition", "DATA00000010", .code = FAIL_PROTOCOL,
         .needle = "expected OKAY to 'partition'"},
        {"wrong product", .product = "arom-big", .code = FAIL_NO_MATCH, .needle = "arom-big"},
        {"silent with heartbeats", "partition", .ovr_silent = 1, .heartbeats = 1,
         .code = FAIL_TIMEOUT, .needle = "no reply within 60000 ms"},
        {"silent, no heartbeats", "erase:fs", .ovr_silent = 1, .code = FAIL_TIMEOUT,
         .needle = "link lost"},
        {"hang, heartbeats stop", "call", .ovr_hang = 1, .heartbeats = 1, .code = FAIL_TIMEOUT,
         .needle = "link lost"},
        {"no answer to the probe", .probe_silent = 1, .code = FAIL_TIMEOUT, .needle = "UABT"},
        {"ETHOS device", .probe_answer = "\x7E\x7EUUUU\x01\x02\x7E", .code = FAIL_NO_MATCH,
         .needle = "ETHOS"},
        {"not SMUX", .probe_answer = "garbage", .code = FAIL_NO_MATCH, .needle = "not SMUX"},
        {"3-byte HELLO_REPLY", .hello_len = 3, .code = FAIL_PROTOCOL,
         .needle = "HELLO_REPLY carries 3"},
        {"back in download mode", .back_pid = 0x3004, .code = FAIL_VERIFY, .needle = "2ecc:3004"},
        {"max-download-size not hex", .maxdl = "lots", .code = FAIL_PROTOCOL, .needle = "lots"},
        {"FAIL to max-download-size: 60 KiB", "getvar:max-download-size", "FAILno",
         .code = FAIL_NONE},
        {"empty version-bootrom is fine", "getvar:version-bootrom", "OKAY", .code = FAIL_NONE},
    };
    for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
        const struct fault *f = &faults[i];
        struct run r;
        dev_init(&r.dev);
        r.dev.ovr_prefix = f->ovr_prefix;
        r.dev.ovr_reply = f->ovr_reply;
        r.dev.ovr_silent = f->ovr_silent;
        r.dev.ovr_hang = f->ovr_hang;
        r.dev.heartbeats = f->heartbeats;
        r.dev.probe_answer = f->probe_answer;
        r.dev.probe_silent = f->probe_silent;
        if (f->product)
            r.dev.product = f->product;
        if (f->maxdl)
            r.dev.maxdl = f->maxdl;
        if (f->hello_len)
            r.dev.hello_len = f->hello_len;
        if (f->back_pid) {
            r.dev.back_vid = 0x2ecc;
            r.dev.back_pid = f->back_pid;
        }
        run_opts(&r, NULL, 0);
        if (f->code == FAIL_NONE) {
            if (r.end.type != PROTO_REQ_DONE)
                fail_msg("%s: %s", f->what, r.end.message);
            expect_app_flashed_once(&r);
        } else if (r.end.type != PROTO_REQ_FAIL || r.end.fail != f->code ||
                   !strstr(r.end.message, f->needle)) {
            fail_msg("%s: expected %s with '%s', got %s: %s", f->what, fail_code_to_string(f->code),
                     f->needle, fail_code_to_string(r.end.fail), r.end.message);
        }
        run_free(&r);
    }
}

/* A loader larger than the ROM's max-download-size is refused before it is sent (the
 * preboot, 3000 bytes, fits; the flasher, 5000, does not). */
static void test_loader_over_rom_limit(void **state)
{
    (void)state;
    struct run r;
    dev_init(&r.dev);
    r.dev.maxdl = "0x1000";
    run_opts(&r, NULL, 0);
    expect_fail(&r, FAIL_PACKAGE,
                "flasher.img (5000 bytes): 5000 bytes to download, the device "
                "takes at most 4096");
    for (int i = 0; i < r.dev.nlog; i++)
        assert_null(strstr(r.dev.log[i], "download:00001388"));
    run_free(&r);
}

/* A bad option fails the first step with a message and sends nothing. */
static void test_bad_option(void **state)
{
    (void)state;
    struct run r;
    dev_init(&r.dev);
    run_opts(&r, "turbo=1", 0);
    expect_fail(&r, FAIL_INTERNAL, "unknown asr option 'turbo'");
    assert_int_equal(r.dev.writes, 0);
    run_free(&r);
}

static void test_sniff(void **state)
{
    (void)state;
    uint8_t zip[64] = "PK\x03\x04";
    memcpy(zip + 30, "download.json", 13);
    assert_true(asr_sniff(zip, sizeof(zip)));
    memcpy(zip + 30, "update.blf\0\0\0", 13);
    assert_false(asr_sniff(zip, sizeof(zip)));
    assert_false(asr_sniff(zip, 10));
    const struct proto *p = proto_registry_find("asr");
    assert_ptr_equal(p, &asr_proto);
    const struct proto_usb_id *id = NULL;
    assert_ptr_equal(proto_registry_match_usb(0x2ecc, 0x3004, &id), &asr_proto);
    assert_int_equal(id->interface_number, 1);
    assert_ptr_equal(proto_registry_match_usb(0x2ecc, 0x3017, NULL), &asr_proto);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_session),
        cmocka_unit_test(test_noise_and_split_reads),
        cmocka_unit_test(test_rom_2019_nop_quirk),
        cmocka_unit_test(test_call_for_other_rom_skipped),
        cmocka_unit_test(test_no_reboot_option),
        cmocka_unit_test(test_leaves_after_reboot),
        cmocka_unit_test(test_faults),
        cmocka_unit_test(test_loader_over_rom_limit),
        cmocka_unit_test(test_bad_option),
        cmocka_unit_test(test_sniff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
