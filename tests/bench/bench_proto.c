/* bench_proto: host-side throughput of each flashing protocol with device timing off. The
 * protocol session (protocols/) runs against its device model (tests/sim) in one process
 * (tests/proto/proto_run.c: virtual clock, no transport, no rack), session after session,
 * until MIB mebibytes went to the device; prints bytes/s of process CPU and wall time.
 *
 *   bench_proto [MIB]      (default 32)
 *
 * The CPU is the session's and the model's together (the model checks frames and hashes
 * what it programs), so the figure is a lower bound of what the session alone can push.
 * Packages: Unisoc 8910 .pac and ASR Crane zip from mkpkg (the Crane cp.bin replaced by a
 * 2.5 MB image: three 1 MiB downloads), EC200A FBF from the unit-test fixture (a 4 MB image).
 * Never asserts on time; exits non-zero if a session fails. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../unit/asr1803_fixture.h"
#include "asr/asr.h"
#include "asr/asr1803_pkg.h"
#include "asr/asr_pkg.h"
#include "asr1803/asr1803.h"
#include "mkpkg.h"
#include "package/pkg.h"
#include "proto_run.h"
#include "unisoc/unisoc.h"
#include "unisoc/unisoc_pkg.h"

static double now_s(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs o until `bytes` went to the device; prints one line. */
static int bench(const char *name, const struct proto_run_opts *o, uint64_t bytes)
{
    uint64_t sent = 0, sessions = 0, virt_ms = 0;
    double c0 = now_s(CLOCK_PROCESS_CPUTIME_ID), w0 = now_s(CLOCK_MONOTONIC);
    static struct proto_run_result res;
    while (sent < bytes) {
        memset(&res, 0, sizeof(res));
        if (proto_run(o, &res) < 0 || !res.ok) {
            fprintf(stderr, "%s: session failed at %s: %s\n", name, res.stage, res.message);
            return -1;
        }
        sent += res.bytes_to_device;
        virt_ms += res.virtual_ms;
        sessions++;
    }
    double cpu = now_s(CLOCK_PROCESS_CPUTIME_ID) - c0, wall = now_s(CLOCK_MONOTONIC) - w0;
    printf("| %s | %" PRIu64 " | %" PRIu64 " | %.1f | %.1f | %.2f | %.0f |\n", name, sessions,
           sent / sessions, (double)sent / cpu / 1e6, (double)sent / wall / 1e6,
           cpu * 1000 / (double)sessions, (double)virt_ms / (double)sessions);
    return 0;
}

static const struct proto_run_profile unisoc_profiles[] = {
    {"quectel-unisoc-at", {PROTO_LINK_SERIAL, 0x2c7c, 0x0901, 0, 115200}},
    {"unisoc-dl", {PROTO_LINK_SERIAL, 0x0525, 0xa4a7, 0, 115200}},
    {NULL, {0}},
};
static const struct proto_run_profile asr_profiles[] = {
    {"quectel-at", {PROTO_LINK_SERIAL, 0x2c7c, 0x6001, 0, 115200}},
    {"asr-dl", {PROTO_LINK_USB_BULK, 0x2ecc, 0x3004, 512, 0}},
    {NULL, {0}},
};
static const struct proto_run_profile asr1803_profiles[] = {
    {"asr1803-dl", {PROTO_LINK_USB_BULK, 0x2ecc, 0x3002, 512, 0}},
    {"asr1803-dl-bl", {PROTO_LINK_USB_BULK, 0x2ecc, 0x3001, 512, 0}},
    {"quectel-ec200a-at", {PROTO_LINK_USB_BULK, 0x2c7c, 0x6005, 512, 0}},
    {NULL, {0}},
};

/* The mkpkg Crane zip with cp.bin replaced by a cp_len image. */
static int asr_package(struct buf *zip, struct buf *cp, void **pkg, size_t cp_len)
{
    struct zip z = {0};
    add_asr_flashable(&z, "", 7);
    for (size_t i = 0; i < z.n; i++) {
        if (!strcmp(z.m[i].path, "cp.bin")) {
            *cp = random_image(cp_len, 99);
            z.m[i].data = cp->p;
            z.m[i].len = cp->len;
        }
    }
    *zip = zip_build(&z, 0);
    zip_free(&z);
    char err[256];
    if (asr_pkg_hook_parse(zip->p, zip->len, pkg, err, sizeof(err)) < 0) {
        fprintf(stderr, "asr package: %s\n", err);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t mib = argc > 1 ? strtoull(argv[1], NULL, 10) : 32;
    if (mib == 0 || mib > 4096) {
        fprintf(stderr, "usage: bench_proto [MIB]\n");
        return 2;
    }
    uint64_t bytes = mib << 20;
    char err[256];
    int rc = 0;
    printf("%" PRIu64 " MiB to the device per protocol, in-process, device timing off\n\n", mib);
    printf("| protocol | sessions | bytes/session | MB/s (CPU) | MB/s (wall) | CPU ms/session |"
           " virtual ms/session |\n|---|---:|---:|---:|---:|---:|---:|\n");

    struct buf pac = make_pac("UIX8910_MODEM", "8915DM_cat1_open", 1, 4242);
    void *upkg = NULL;
    if (unisoc_pkg_hook_parse(pac.p, pac.len, &upkg, err, sizeof(err)) < 0) {
        fprintf(stderr, "unisoc package: %s\n", err);
        return 1;
    }
    struct proto_run_opts uo = {
        .driver = &unisoc_proto,
        .params = {.package = upkg, .image = pac.p, .image_len = pac.len},
        .link = {PROTO_LINK_USB_BULK, 0x0525, 0xa4a7, 512, 0},
        .profiles = unisoc_profiles,
        .model = "unisoc",
        .model_opts = "reset_replug=quectel-unisoc-at",
        .max_virtual_ms = 30 * 60 * 1000,
    };
    rc |= bench("unisoc 8910 (PDL+BSL, usb)", &uo, bytes);
    uo.link = (struct proto_link){PROTO_LINK_SERIAL, 0x0525, 0xa4a7, 0, 115200};
    rc |= bench("unisoc 8910 (PDL+BSL, tty)", &uo, bytes);
    unisoc_pkg_hook_free(upkg);
    buf_free(&pac);

    struct buf zip = {0}, cp = {0};
    void *apkg = NULL;
    if (asr_package(&zip, &cp, &apkg, 2500u * 1000u) < 0)
        return 1;
    struct proto_run_opts ao = {
        .driver = &asr_proto,
        .params = {.package = apkg},
        .link = {PROTO_LINK_USB_BULK, 0x2ecc, 0x3004, 512, 0},
        .profiles = asr_profiles,
        .model = "asr",
        .model_opts = "reset_replug=quectel-at",
        .max_virtual_ms = 30 * 60 * 1000,
    };
    rc |= bench("asr crane (aboot, usb)", &ao, bytes);
    asr_pkg_hook_free(apkg);
    buf_free(&zip);
    buf_free(&cp);

    static struct fx_pkg fx;
    const struct fx_spec spec = {.with_dkb = 1, .nimg = 2, .img_len = {4000000, 20000}};
    fx_build(&fx, &spec);
    void *wpkg = NULL;
    if (asr1803_pkg_hook_parse(fx.file.p, fx.file.len, &wpkg, err, sizeof(err)) < 0) {
        fprintf(stderr, "asr1803 package: %s\n", err);
        return 1;
    }
    struct proto_run_opts wo = {
        .driver = &asr1803_proto,
        .params = {.package = wpkg},
        .link = {PROTO_LINK_USB_BULK, 0x2ecc, 0x3002, 512, 0},
        .profiles = asr1803_profiles,
        .model = "asr1803",
        .model_opts = "reset_replug=quectel-ec200a-at",
        .max_virtual_ms = 60 * 60 * 1000,
    };
    rc |= bench("asr1803 (WTPTP, usb)", &wo, bytes);
    asr1803_pkg_hook_free(wpkg);
    fx_free(&fx);
    return rc ? 1 : 0;
}
