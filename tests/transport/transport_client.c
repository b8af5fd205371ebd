/* Stands in for the daemon in the transport test: the real loop_usb, tty_monitor, transports
 * and job engine run the stream test driver against a loopback device plugged by the virtual
 * rack. Prints one "RESULT ..." line and exits 0 when the outcome is the expected one.
 *
 *   transport_client --mode usb|tty [--sink BYTES] [--source BYTES] [--expect ok|disconnected]
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <uv.h>

#include "job.h"
#include "log.h"
#include "loop_usb.h"
#include "stream_proto.h"
#include "transport.h"
#include "tty_monitor.h"

struct client {
    uv_loop_t *loop;
    struct usb_loop *usb;
    struct tty_monitor *ttys;
    int mode_tty;
    char options[128];
    const char *expect;
    struct job *job;
    int started;
    char port_path[RACK_PATH_MAX]; /* of the loopback device */
    uint8_t bus, address;
    char tty_devnode[64];
    int exit_code;
};

static void shutdown_client(struct client *c)
{
    if (c->ttys)
        tty_monitor_close(c->ttys, NULL, NULL);
    c->ttys = NULL;
    if (c->usb)
        usb_loop_close(c->usb, NULL, NULL);
    c->usb = NULL;
}

static void on_finished(void *owner, struct job *job, const struct job_result *res)
{
    struct client *c = owner;
    struct stream_report rep;
    stream_session_report(job_session(job), &rep);
    double secs = res->duration_ms / 1000.0;
    double mib = (double)(res->bytes_out + res->bytes_in) / (1024.0 * 1024.0);
    printf("RESULT %s code=%s stage=%s ms=%" PRIu64 " out=%" PRIu64 " in=%" PRIu64
           " MiBps=%.1f sink_sha256=%s device_sha256=%s device_status=%d source_ok=%d "
           "msg=\"%s\"\n",
           res->ok ? "ok" : "fail", fail_code_to_string(res->code), res->stage, res->duration_ms,
           res->bytes_out, res->bytes_in, secs > 0 ? mib / secs : 0.0, rep.sink_sha256,
           rep.device_sha256, rep.device_status, rep.source_ok, res->message);
    fflush(stdout);
    const char *got = res->ok ? "ok" : fail_code_to_string(res->code);
    c->exit_code = strcmp(got, c->expect) == 0 ? 0 : 1;
    job_free(job);
    c->job = NULL;
    shutdown_client(c);
}

static void on_wait_device(void *owner, struct job *job, uint32_t timeout_ms)
{
    (void)owner, (void)job, (void)timeout_ms; /* the stream protocol never re-enumerates */
}

static const struct job_hooks hooks = {on_wait_device, NULL, on_finished};

static void start_job(struct client *c, struct transport *t)
{
    struct job_params p = {
        .driver = &stream_proto,
        .params = {.options = c->options},
        .slot_label = "T1",
        .port_path = c->port_path,
        .no_progress_ms = 10000,
        .job_timeout_ms = 600000,
        .ring_frames = 16,
        .hooks = &hooks,
        .owner = c,
    };
    int r = job_start(c->loop, &p, t, &c->job);
    if (r < 0) {
        printf("RESULT fail code=internal msg=\"job_start: %s\"\n", strerror(-r));
        c->exit_code = 1;
        transport_close(t, NULL, NULL);
        shutdown_client(c);
        return;
    }
    c->started = 1;
}

static void try_start_tty(struct client *c)
{
    if (c->started || !c->port_path[0] || !c->tty_devnode[0])
        return;
    struct transport *t;
    int r = transport_serial_open(c->loop, c->tty_devnode, 115200, &t);
    if (r < 0) {
        printf("RESULT fail code=io msg=\"open %s: %s\"\n", c->tty_devnode, strerror(-r));
        c->exit_code = 1;
        c->started = 1;
        shutdown_client(c);
        return;
    }
    start_job(c, t);
}

static void on_hotplug(void *ud, int arrived, const struct rack_device *dev)
{
    struct client *c = ud;
    uint16_t want = c->mode_tty ? 0x0002 : 0x0001;
    if (dev->vid != 0x1209 || dev->pid != want)
        return;
    if (!arrived) {
        if (c->job && dev->bus == c->bus && dev->address == c->address)
            job_device_left(c->job);
        return;
    }
    if (c->started)
        return;
    snprintf(c->port_path, sizeof(c->port_path), "%s", dev->port_path);
    c->bus = dev->bus;
    c->address = dev->address;
    if (c->mode_tty) {
        try_start_tty(c);
        return;
    }
    struct transport *t;
    int r = transport_usb_open(c->usb, dev->usb, 0, &t);
    if (r < 0) {
        printf("RESULT fail code=io msg=\"usb open: %s\"\n", strerror(-r));
        c->exit_code = 1;
        c->started = 1;
        shutdown_client(c);
        return;
    }
    start_job(c, t);
}

static void on_tty_added(void *ud, const struct rack_tty *tty)
{
    struct client *c = ud;
    if (c->tty_devnode[0])
        return;
    /* The port path is checked once the USB device is known (either order). */
    snprintf(c->tty_devnode, sizeof(c->tty_devnode), "%s", tty->devnode);
    try_start_tty(c);
}

static void on_tty_removed(void *ud, const char *devnode)
{
    (void)ud, (void)devnode;
}

int main(int argc, char **argv)
{
    static struct client c;
    uint64_t sink = 1 << 20, source = 1 << 20;
    c.expect = "ok";
    static const struct option opts[] = {
        {"mode", required_argument, NULL, 'm'},   {"sink", required_argument, NULL, 's'},
        {"source", required_argument, NULL, 'r'}, {"expect", required_argument, NULL, 'e'},
        {NULL, 0, NULL, 0},
    };
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'm': c.mode_tty = strcmp(optarg, "tty") == 0; break;
        case 's': sink = strtoull(optarg, NULL, 0); break;
        case 'r': source = strtoull(optarg, NULL, 0); break;
        case 'e': c.expect = optarg; break;
        default: return 2;
        }
    }
    snprintf(c.options, sizeof(c.options), "sink=%" PRIu64 ";source=%" PRIu64 ";seed=7", sink,
             source);
    c.loop = uv_default_loop();
    c.exit_code = 1;
    if (usb_loop_new(c.loop, &c.usb) < 0 ||
        tty_monitor_new(c.loop, on_tty_added, on_tty_removed, &c, &c.ttys) < 0 ||
        usb_loop_start_hotplug(c.usb, on_hotplug, &c) < 0)
        return 1;
    tty_monitor_scan(c.ttys);
    sd_notify(0, "READY=1");
    uv_run(c.loop, UV_RUN_DEFAULT);
    int r = uv_loop_close(c.loop);
    if (r != 0) {
        fprintf(stderr, "transport_client: uv_loop_close: %s\n", uv_strerror(r));
        uv_print_all_handles(c.loop, stderr);
        return 3;
    }
    return c.exit_code;
}
