/* Stands in for the daemon in the transport test. It runs the daemon's own path: a config
 * with one slot (T1 on port 1-1.4), the rack, loop_usb, tty_monitor, slot_job (transport
 * choice and re-enumeration), the job engine and both transports, with the stream test
 * driver against a loopback device of the virtual rack. Prints one "RESULT ..." line and
 * exits 0 when the outcome is the expected one.
 *
 *   transport_client --mode usb|tty [--sink BYTES] [--source BYTES] [--reenumerate]
 *                    [--expect ok|disconnected|...]
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <uv.h>

#include "db.h"
#include "job.h"
#include "log.h"
#include "loop_usb.h"
#include "rack.h"
#include "slot_job.h"
#include "station.h"
#include "stream_proto.h"
#include "transport.h"
#include "tty_monitor.h"

static const char *client_config = "[station]\nid = transport-test\n"
                                   "[slot T1]\nport = 1-1.4\n"
                                   "[limits]\nno_progress_timeout_ms = 10000\n"
                                   "reenumerate_timeout_ms = 30000\n";

struct client {
    struct station st;
    uv_signal_t sigterm;
    char options[160];
    const char *expect;
    int started;
    int exit_code;
};

static void shutdown_client(struct client *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->sigterm))
        uv_close((uv_handle_t *)&c->sigterm, NULL);
    if (c->st.ttys)
        tty_monitor_close(c->st.ttys, NULL, NULL);
    c->st.ttys = NULL;
    rack_drop_usb_refs(c->st.rack);
    if (c->st.usb)
        usb_loop_close(c->st.usb, NULL, NULL);
    c->st.usb = NULL;
}

static void on_finished(void *owner, struct slot *slot, const struct job_result *res,
                        const struct job *job, int64_t attempt_id)
{
    (void)slot;
    struct client *c = owner;
    struct stream_report rep;
    stream_session_report(job_session(job), &rep);
    double secs = res->duration_ms / 1000.0;
    double mib = (double)(res->bytes_out + res->bytes_in) / (1024.0 * 1024.0);
    printf("RESULT %s code=%s stage=%s ms=%" PRIu64 " out=%" PRIu64 " in=%" PRIu64
           " MiBps=%.1f sink_sha256=%s device_sha256=%s device_status=%d source_ok=%d "
           "reenumerations=%u back_as=%04x:%04x attempt=%lld msg=\"%s\"\n",
           res->ok ? "ok" : "fail", fail_code_to_string(res->code), res->stage, res->duration_ms,
           res->bytes_out, res->bytes_in, secs > 0 ? mib / secs : 0.0, rep.sink_sha256,
           rep.device_sha256, rep.device_status, rep.source_ok, res->reenumerations,
           rep.reenumerated_vid, rep.reenumerated_pid, (long long)attempt_id, res->message);
    fflush(stdout);
    const char *got = res->ok ? "ok" : fail_code_to_string(res->code);
    c->exit_code = strcmp(got, c->expect) == 0 ? 0 : 1;
    shutdown_client(c);
}

static void on_rack(void *userdata, enum rack_event ev, struct slot *slot,
                    const struct rack_device *dev)
{
    (void)dev;
    struct client *c = userdata;
    if (c->started || !slot || (ev != RACK_EV_ATTACH && ev != RACK_EV_PORTS))
        return;
    struct slot_job_params p = {
        .driver = &stream_proto,
        .params = {.options = c->options},
        .finished = on_finished,
        .owner = c,
    };
    int r = slot_job_start(&c->st, slot, &p);
    if (r == -EAGAIN)
        return; /* the tty is not there yet: the next "ports" event retries */
    c->started = 1;
    if (r < 0) {
        printf("RESULT fail code=io msg=\"slot_job_start: %s\"\n", strerror(-r));
        fflush(stdout);
        shutdown_client(c);
    }
}

/* As in flashrackd: SIGTERM aborts running jobs, which are recorded, then everything closes. */
static void on_sigterm(uv_signal_t *sig, int signum)
{
    (void)signum;
    struct client *c = sig->data;
    c->st.stopping = 1;
    if (slot_jobs_abort_all(&c->st, "daemon shutting down") == 0)
        shutdown_client(c);
}

static void on_usb(void *userdata, int arrived, const struct rack_device *dev)
{
    struct client *c = userdata;
    if (arrived)
        rack_usb_arrived(c->st.rack, dev);
    else
        rack_usb_left(c->st.rack, dev->bus, dev->address);
}

static void on_tty_added(void *userdata, const struct rack_tty *tty)
{
    struct client *c = userdata;
    rack_tty_added(c->st.rack, tty);
}

static void on_tty_removed(void *userdata, const char *devnode)
{
    struct client *c = userdata;
    rack_tty_removed(c->st.rack, devnode);
}

int main(int argc, char **argv)
{
    static struct client c;
    uint64_t sink = 1 << 20, source = 1 << 20;
    int reenumerate = 0;
    const char *db_path = NULL;
    c.expect = "ok";
    static const struct option opts[] = {
        {"mode", required_argument, NULL, 'm'},
        {"sink", required_argument, NULL, 's'},
        {"source", required_argument, NULL, 'r'},
        {"expect", required_argument, NULL, 'e'},
        {"reenumerate", no_argument, NULL, 'R'},
        {"db", required_argument, NULL, 'd'},
        {NULL, 0, NULL, 0},
    };
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'm':
            break; /* the device decides: bulk for loopback-usb, tty for loopback-tty */
        case 's':
            sink = strtoull(optarg, NULL, 0);
            break;
        case 'r':
            source = strtoull(optarg, NULL, 0);
            break;
        case 'e':
            c.expect = optarg;
            break;
        case 'R':
            reenumerate = 1;
            break;
        case 'd':
            db_path = optarg;
            break;
        default:
            return 2;
        }
    }
    snprintf(c.options, sizeof(c.options),
             "sink=%" PRIu64 ";source=%" PRIu64 ";seed=7;reenumerate=%d", sink, source,
             reenumerate);
    char err[512];
    if (config_load_string(client_config, &c.st.cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    c.exit_code = 1;
    if (db_path) {
        snprintf(c.st.cfg.data_dir, sizeof(c.st.cfg.data_dir), "%s.d", db_path);
        mkdir(c.st.cfg.data_dir, 0750);
        if (db_open(db_path, &c.st.db, err, sizeof(err)) < 0) {
            fprintf(stderr, "%s\n", err);
            return 2;
        }
    }
    c.st.loop = uv_default_loop();
    uv_signal_init(c.st.loop, &c.sigterm);
    c.sigterm.data = &c;
    uv_signal_start(&c.sigterm, on_sigterm, SIGTERM);
    if (rack_new(&c.st.cfg, NULL, &c.st.rack) < 0 || slot_jobs_init(&c.st) < 0 ||
        rack_add_listener(c.st.rack, on_rack, &c) < 0 || usb_loop_new(c.st.loop, &c.st.usb) < 0 ||
        tty_monitor_new(c.st.loop, on_tty_added, on_tty_removed, &c, &c.st.ttys) < 0 ||
        usb_loop_start_hotplug(c.st.usb, on_usb, &c) < 0)
        return 1;
    tty_monitor_scan(c.st.ttys);
    sd_notify(0, "READY=1");
    uv_run(c.st.loop, UV_RUN_DEFAULT);
    rack_free(c.st.rack);
    if (c.st.db)
        db_close(c.st.db);
    int r = uv_loop_close(c.st.loop);
    if (r != 0) {
        fprintf(stderr, "transport_client: uv_loop_close: %s\n", uv_strerror(r));
        uv_print_all_handles(c.st.loop, stderr);
        return 3;
    }
    return c.exit_code;
}
