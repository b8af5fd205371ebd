/* flashrackd: args, config, storage, the loop and its event sources, readiness, shutdown. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <uv.h>

#include "api.h"
#include "db.h"
#include "event_bus.h"
#include "http.h"
#include "log.h"
#include "loop_health.h"
#include "loop_usb.h"
#include "mes.h"
#include "rack.h"
#include "pkg_catalog.h"
#include "reload.h"
#include "slot_job.h"
#include "station.h"
#include "tty_monitor.h"
#include "workflow.h"

#define DEFAULT_CONFIG "/etc/flashrack/flashrack.conf"

struct daemon_ctx {
    struct station st;
    uv_signal_t sig_int, sig_term, sig_hup;
    uv_timer_t watchdog;
    struct loop_health health;
    struct mes *mes;       /* MES push, NULL when [mes] url is not set */
    struct reload *reload; /* SIGHUP */
    int watchdog_on;
    int signals_on;
    int exit_code;
};

static void usage(FILE *out)
{
    fprintf(out, "Usage: flashrackd [--config FILE] [--check-config] [--version]\n"
                 "  -c, --config FILE   station configuration (default " DEFAULT_CONFIG ")\n"
                 "      --check-config  load and validate the configuration, then exit\n"
                 "  -V, --version       print the version\n"
                 "  -h, --help          this text\n");
}

static void on_usb_hotplug(void *userdata, int arrived, const struct rack_device *dev)
{
    struct station *st = userdata;
    if (arrived)
        rack_usb_arrived(st->rack, dev);
    else
        rack_usb_left(st->rack, dev->bus, dev->address);
}

static void on_tty_added(void *userdata, const struct rack_tty *tty)
{
    struct station *st = userdata;
    rack_tty_added(st->rack, tty);
}

static void on_tty_removed(void *userdata, const char *devnode)
{
    struct station *st = userdata;
    rack_tty_removed(st->rack, devnode);
}

static void on_handle_closed(uv_handle_t *h)
{
    (void)h;
}

static struct daemon_ctx *the_daemon; /* one per process: for the jobs_drained hook */

/* Second half of the shutdown, once no job runs any more. */
static void close_sources(struct station *st)
{
    struct daemon_ctx *d = the_daemon;
    if (st->http)
        http_close(st->http, NULL, NULL);
    st->http = NULL;
    event_bus_close(event_bus_current()); /* after http: its streams are gone */
    if (st->ttys)
        tty_monitor_close(st->ttys, NULL, NULL);
    st->ttys = NULL;
    if (st->rack)
        rack_drop_usb_refs(st->rack);
    if (st->usb)
        usb_loop_close(st->usb, NULL, NULL);
    st->usb = NULL;
    st->jobs_drained = NULL;
    if (d->signals_on) {
        uv_close((uv_handle_t *)&d->sig_int, on_handle_closed);
        uv_close((uv_handle_t *)&d->sig_term, on_handle_closed);
        uv_close((uv_handle_t *)&d->sig_hup, on_handle_closed);
        d->signals_on = 0;
    }
    if (d->watchdog_on)
        uv_close((uv_handle_t *)&d->watchdog, on_handle_closed);
    d->watchdog_on = 0;
    loop_health_close(&d->health);
    st->health = NULL;
}

static void begin_shutdown(struct daemon_ctx *d, const char *why)
{
    struct station *st = &d->st;
    if (st->stopping)
        return;
    st->stopping = 1;
    log_notice("flashrackd: %s, shutting down", why);
    sd_notify(0, "STOPPING=1");
    /* Stop sending first: requests in flight are cancelled and stay queued, and attempts the
     * shutdown aborts below are queued for the next run. */
    mes_stop(d->mes, NULL, NULL);
    d->mes = NULL;
    reload_stop(d->reload); /* a reload in flight is dropped; frozen slots stay as they are */
    /* Attempts between two jobs end as aborted now; running jobs end as aborted, their
     * owners record them; then the sources close. */
    workflow_stop(st->workflow, "daemon shutting down");
    pkg_catalog_stop(st->packages);
    size_t running = st->rack ? slot_jobs_abort_all(st, "daemon shutting down") : 0;
    if (running) {
        log_notice("flashrackd: waiting for %zu aborted jobs to finish", running);
        st->jobs_drained = close_sources;
        return;
    }
    close_sources(st);
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct daemon_ctx *d = s->data;
    if (signum == SIGHUP) {
        if (d->reload)
            reload_request(d->reload, "SIGHUP"); /* logs and records the outcome itself */
        return;
    }
    begin_shutdown(d, signum == SIGINT ? "SIGINT" : "SIGTERM");
}

/* Fed from the loop: a blocked loop stops the pings and systemd restarts the service. */
static void on_watchdog(uv_timer_t *t)
{
    (void)t;
    sd_notify(0, "WATCHDOG=1");
}

static int ensure_dir(const char *path)
{
    if (mkdir(path, 0750) == 0 || errno == EEXIST)
        return 0;
    return -errno;
}

static int run(struct daemon_ctx *d, const char *config_path)
{
    struct station *st = &d->st;
    char err[1024];
    int r = config_load_file(config_path, &st->cfg, err, sizeof(err));
    if (r < 0) {
        log_err("config: %s", err);
        return 2;
    }
    enum log_level level;
    if (log_level_from_string(st->cfg.log_level, &level) == 0)
        log_set_level(level);
    st->started_unix_ms = station_now_unix_ms();

    const char *dirs[] = {st->cfg.data_dir, st->cfg.cache_dir};
    for (size_t i = 0; i < 2; i++) {
        r = ensure_dir(dirs[i]);
        if (r < 0) {
            log_err("storage: cannot create %s: %s", dirs[i], strerror(-r));
            return 1;
        }
    }
    r = db_open(st->cfg.db_path, &st->db, err, sizeof(err));
    if (r < 0) {
        log_err("database: %s", err);
        return 1;
    }
    r = db_attempts_abort_running(st->db, "daemon stopped while the attempt was running",
                                  station_now_unix_ms());
    if (r > 0)
        log_warning("database: %d attempts left running by an earlier run were marked aborted", r);
    api_control_restore(st); /* the job context of the last run; logs itself */

    uv_loop_t *loop = uv_default_loop();
    st->loop = loop;
    /* Before anything runs on the loop, so its idle time covers the whole run. */
    r = loop_health_start(&d->health, loop, 100);
    if (r < 0)
        log_warning("loop: no lag probe: %s", uv_strerror(r));
    else
        st->health = &d->health;
    r = rack_new(&st->cfg, st->db, &st->rack);
    if (r < 0) {
        log_err("rack: %s", strerror(-r));
        return 1;
    }
    r = slot_jobs_init(st);
    if (r < 0)
        return 1;
    r = workflow_new(st, &st->workflow);
    if (r < 0)
        return 1;
    r = pkg_catalog_new(st, &st->packages); /* the API's recipes follow the config's */
    if (r < 0)
        return 1;
    r = usb_loop_new(loop, &st->usb);
    if (r < 0)
        return 1;
    r = tty_monitor_new(loop, on_tty_added, on_tty_removed, st, &st->ttys);
    if (r < 0)
        return 1;
    struct event_bus *bus;
    r = event_bus_start(st, &bus); /* live events; before http, which serves them */
    if (r < 0)
        return 1;
    r = http_start(st, &st->http); /* logs the precise reason itself */
    if (r < 0)
        return 1;
    if (st->cfg.mes.url[0]) {
        r = mes_start(loop, st->db, &st->cfg.mes, &d->mes);
        if (r < 0) {
            log_err("mes: cannot start the MES push: %s", strerror(-r));
            return 1;
        }
    }
    r = reload_new(st, config_path, &d->mes, &d->reload);
    if (r < 0)
        return 1;
    /* USB first (ENUMERATE reports what is present), then ttys, so each tty finds its device. */
    r = usb_loop_start_hotplug(st->usb, on_usb_hotplug, st);
    if (r < 0)
        return 1;
    tty_monitor_scan(st->ttys);

    uv_signal_init(loop, &d->sig_int);
    uv_signal_init(loop, &d->sig_term);
    uv_signal_init(loop, &d->sig_hup);
    d->sig_int.data = d->sig_term.data = d->sig_hup.data = d;
    uv_signal_start(&d->sig_int, on_signal, SIGINT);
    uv_signal_start(&d->sig_term, on_signal, SIGTERM);
    uv_signal_start(&d->sig_hup, on_signal, SIGHUP);
    d->signals_on = 1;

    uint64_t wd_usec = 0;
    if (sd_watchdog_enabled(0, &wd_usec) > 0 && wd_usec > 0) {
        uv_timer_init(loop, &d->watchdog);
        uv_timer_start(&d->watchdog, on_watchdog, wd_usec / 2000, wd_usec / 2000);
        d->watchdog_on = 1;
    }

    log_notice("flashrackd %s: station %s, %zu slots, http://%s", FLASHRACK_VERSION,
               st->cfg.station_id, st->cfg.slot_count, http_listen_address(st->http));
    sd_notifyf(0, "READY=1\nSTATUS=station %s: %zu slots", st->cfg.station_id, st->cfg.slot_count);

    uv_run(loop, UV_RUN_DEFAULT);
    return d->exit_code;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check-config", no_argument, NULL, 'C'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = DEFAULT_CONFIG;
    int check_only = 0, c;
    while ((c = getopt_long(argc, argv, "c:Vh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'C':
            check_only = 1;
            break;
        case 'V':
            printf("flashrackd %s\n", FLASHRACK_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    static struct daemon_ctx d;
    the_daemon = &d;
    if (check_only) {
        char err[1024];
        if (config_load_file(config_path, &d.st.cfg, err, sizeof(err)) < 0) {
            fprintf(stderr, "%s\n", err);
            return 2;
        }
        printf("%s: ok, station %s, %zu slots\n", config_path, d.st.cfg.station_id,
               d.st.cfg.slot_count);
        return 0;
    }
    int code = run(&d, config_path);
    struct station *st = &d.st;
    if (st->loop && !st->stopping && code != 0)
        begin_shutdown(&d, "startup failed");
    if (st->loop)
        uv_run(st->loop, UV_RUN_DEFAULT); /* let every close callback run */
    reload_free(d.reload);
    pkg_catalog_free(st->packages); /* before the workflow: it holds package references */
    if (workflow_free(st->workflow) < 0)
        log_err("flashrackd: package loads still queued at exit");
    rack_free(st->rack);
    if (st->db)
        db_close(st->db);
    if (st->loop) {
        int r = uv_loop_close(st->loop);
        if (r != 0) {
            log_err("flashrackd: loop still has open handles at exit (%s)", uv_strerror(r));
            uv_print_all_handles(st->loop, stderr);
            if (code == 0)
                code = 1;
        }
    }
    log_notice("flashrackd: stopped");
    return code;
}
