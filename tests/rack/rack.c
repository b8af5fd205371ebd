/* flashrack-rack: the virtual rack as a program. It builds a umockdev testbed, runs the daemon
 * under test inside it (same preload, NOTIFY_SOCKET owned by the rack), and takes commands on
 * stdin, one per line, answering one line each on stdout ("ok ..." or "err MESSAGE").
 * See tests/rack/README.md for the protocol. With --demo the rack also plugs and pulls random
 * modules by itself. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib-unix.h>
#include <glib.h>

#include "rack_app.h"
#include "vrack.h"

static struct rack_app app;

void rack_reply(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
}

const char *rack_signal_name(int sig)
{
    const char *name = sigabbrev_np(sig);
    return name ? name : "UNKNOWN";
}

static void format_status(int status, char *buf, size_t len)
{
    if (WIFEXITED(status))
        snprintf(buf, len, "status=%d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, len, "signal=%s", rack_signal_name(WTERMSIG(status)));
    else
        snprintf(buf, len, "status=%d", status);
}

/* ---- daemon ---- */

static void child_setup(gpointer data)
{
    pid_t parent = (pid_t)GPOINTER_TO_INT(data);
    /* Die with the rack, but no setsid(): libusb opens usbfs nodes (ptys here) without
     * O_NOCTTY, and a session leader would take one as controlling tty and get SIGHUP on
     * unplug (usb-test-harness.md §3.3). */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        _exit(127);
}

static void on_daemon_exit(GPid pid, gint status, gpointer data);

int rack_spawn_daemon(char *err, size_t err_len)
{
    gchar **env = g_get_environ();
    env = g_environ_setenv(env, "NOTIFY_SOCKET", app.notify_path, TRUE);
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    /* A copy of stderr above 2: GLib mishandles fds 0..2 passed as redirection targets. */
    int out_fd = app.log_fd >= 0 ? app.log_fd : fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
    GError *gerr = NULL;
    GPid pid = 0;
    /* The daemon's stdout must not mix with the reply stream: it goes to stderr or the log. */
    gboolean ok = g_spawn_async_with_pipes_and_fds(
        NULL, (const gchar *const *)app.daemon_argv, (const gchar *const *)env,
        G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH, child_setup,
        GINT_TO_POINTER((int)getpid()), null_fd, out_fd, out_fd, NULL, NULL, 0, &pid, NULL, NULL,
        NULL, &gerr);
    close(null_fd);
    if (out_fd != app.log_fd)
        close(out_fd);
    g_strfreev(env);
    if (!ok) {
        snprintf(err, err_len, "cannot start %s: %s", app.daemon_argv[0], gerr->message);
        g_clear_error(&gerr);
        return -ENOEXEC;
    }
    app.pid = pid;
    app.running = true;
    app.ready = false;
    app.exit_seen = false;
    app.spawn_ms = vrack_now_ms();
    g_child_watch_add(pid, on_daemon_exit, NULL);
    if (app.verbose)
        fprintf(stderr, "rack %" G_GUINT64_FORMAT ": daemon started pid=%d\n", vrack_now_ms(),
                (int)pid);
    return 0;
}

static void on_daemon_exit(GPid pid, gint status, gpointer data)
{
    (void)data;
    g_spawn_close_pid(pid);
    if (pid != app.pid)
        return;
    app.running = false;
    app.status = status;
    app.have_status = true;
    char st[64];
    format_status(status, st, sizeof(st));
    fprintf(stderr, "rack %" G_GUINT64_FORMAT ": daemon pid=%d exited %s\n", vrack_now_ms(),
            (int)pid, st);
    rack_command_event();
}

/* ---- sd_notify socket ---- */

static gboolean on_notify(gint fd, GIOCondition cond, gpointer data)
{
    (void)cond;
    (void)data;
    char buf[4096];
    ssize_t n;
    while ((n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT)) > 0) {
        buf[n] = '\0';
        for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
            if (strcmp(line, "READY=1") == 0) {
                if (!app.ready && app.verbose)
                    fprintf(stderr,
                            "rack %" G_GUINT64_FORMAT ": daemon ready after %" G_GUINT64_FORMAT
                            " ms\n",
                            vrack_now_ms(), vrack_now_ms() - app.spawn_ms);
                app.ready = true;
            } else if (strcmp(line, "STOPPING=1") == 0) {
                app.stopping = true;
            } else if (g_str_has_prefix(line, "STATUS=")) {
                g_free(app.daemon_status);
                app.daemon_status = g_strdup(line + 7);
            }
            if (app.verbose)
                fprintf(stderr, "rack %" G_GUINT64_FORMAT ": notify %s\n", vrack_now_ms(), line);
        }
    }
    rack_command_event();
    return G_SOURCE_CONTINUE;
}

static int open_notify_socket(char *err, size_t err_len)
{
    GError *gerr = NULL;
    app.tmpdir = g_dir_make_tmp("flashrack-rack-XXXXXX", &gerr);
    if (!app.tmpdir) {
        snprintf(err, err_len, "temporary directory: %s", gerr->message);
        g_clear_error(&gerr);
        return -EIO;
    }
    app.notify_path = g_build_filename(app.tmpdir, "notify", NULL);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(app.notify_path) >= sizeof(sa.sun_path)) {
        snprintf(err, err_len, "socket path too long: %s", app.notify_path);
        return -ENAMETOOLONG;
    }
    strcpy(sa.sun_path, app.notify_path);
    app.notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (app.notify_fd < 0 || bind(app.notify_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        snprintf(err, err_len, "notify socket %s: %s", app.notify_path, g_strerror(errno));
        return -errno;
    }
    app.notify_watch = g_unix_fd_add(app.notify_fd, G_IO_IN, on_notify, NULL);
    return 0;
}

static void close_notify_socket(void)
{
    if (app.notify_watch)
        g_source_remove(app.notify_watch);
    if (app.notify_fd >= 0)
        close(app.notify_fd);
    if (app.notify_path)
        unlink(app.notify_path);
    if (app.tmpdir)
        rmdir(app.tmpdir);
    g_free(app.notify_path);
    g_free(app.tmpdir);
}

/* ---- model events ---- */

static void on_model_event(void *userdata, const char *port, const char *what, bool ok)
{
    (void)userdata;
    fprintf(stderr, "rack %" G_GUINT64_FORMAT ": %s: model %s%s\n", vrack_now_ms(), port, what,
            ok ? "" : " (failed)");
}

/* ---- --demo: modules come and go at random until SIGINT/SIGTERM ---- */

#define DEMO_TICK_MS   700
#define DEMO_MIN_LIFE  12000 /* an operator pulls a module some seconds after its verdict */
#define DEMO_MAX_LIFE  20000
#define DEMO_MAX_PORTS 32

/* What an operator plugs in on a line whose station holds the recipes scripts/demo makes
 * (EC200U CNAA, EC800M CNLE shared by EC800M CNLA, EC200A CNLA): mostly modules that pass,
 * some that teach what the tiles say when they do not. weight: out of 100. */
static const struct {
    unsigned weight;
    const char *profile;
    const char *opts; /* space-separated; an IMEI is added to modules */
} demo_modules[] = {
    {35, "quectel-unisoc-at", "series=EC200U submodel=CNAA"},
    {25, "quectel-at", "series=EC800M submodel=CNLA"},
    {15, "quectel-ec200a-at", "series=EC200A submodel=CNLA"},
    {8, "quectel-at", "series=EC600N submodel=CNLA"}, /* no recipe fits: refused */
    {7, "quectel-unisoc-at", "series=EC200U submodel=CNAA download_opts=unplug_at_chunk:12"},
    {5, "unisoc-dl", "unit=EC200U.CNAA.IMEI.-"}, /* arrived in download mode (boot pin) */
    {5, "loopback-usb", ""},                     /* not a module */
};

/* A fresh valid IMEI per plugged module: test TAC 86612305, serial from a counter. */
static void demo_imei(char out[16])
{
    static unsigned serial = 700000;
    snprintf(out, 16, "86612305%06u", serial++ % 1000000);
    unsigned sum = 0;
    for (int i = 0; i < 14; i++) {
        unsigned d = (unsigned)(out[i] - '0');
        if (i % 2 == 1 && (d *= 2) > 9)
            d -= 9;
        sum += d;
    }
    out[14] = (char)('0' + (10 - sum % 10) % 10);
    out[15] = '\0';
}

static struct {
    guint timer;
    size_t n;
    struct {
        char *port;
        bool used;
        guint64 until_ms;
    } ports[DEMO_MAX_PORTS];
} demo;

static gboolean tick(gpointer data)
{
    (void)data;
    struct rack_app *a = rack_app();
    if (a->daemon_argv && !a->ready)
        return G_SOURCE_CONTINUE; /* plug only once the daemon listens */
    guint64 now = vrack_now_ms();
    char err[VRACK_ERR_MAX];
    for (size_t i = 0; i < demo.n; i++) {
        if (!demo.ports[i].used || demo.ports[i].until_ms > now)
            continue;
        demo.ports[i].used = false;
        if (vrack_unplug(a->rack, demo.ports[i].port, err, sizeof(err)) == 0)
            fprintf(stderr, "demo: unplug %s\n", demo.ports[i].port);
        else
            fprintf(stderr, "demo: unplug %s: %s\n", demo.ports[i].port, err);
    }
    if (g_random_int_range(0, 100) >= 45)
        return G_SOURCE_CONTINUE;
    size_t free_ports[DEMO_MAX_PORTS], nfree = 0;
    for (size_t i = 0; i < demo.n; i++)
        if (!demo.ports[i].used && !vrack_port_busy(a->rack, demo.ports[i].port))
            free_ports[nfree++] = i;
    if (!nfree)
        return G_SOURCE_CONTINUE;
    size_t i = free_ports[g_random_int_range(0, (gint32)nfree)];
    size_t m = 0;
    for (int pick = g_random_int_range(0, 100); m + 1 < G_N_ELEMENTS(demo_modules); m++) {
        if (pick < (int)demo_modules[m].weight)
            break;
        pick -= (int)demo_modules[m].weight;
    }
    const char *profile = demo_modules[m].profile;
    char imei[16], text[256];
    demo_imei(imei);
    snprintf(text, sizeof(text), "%s", demo_modules[m].opts);
    char *at = strstr(text, "IMEI"); /* the identity of a module plugged in download mode */
    if (at) {
        memmove(at + 15, at + 4, strlen(at + 4) + 1);
        memcpy(at, imei, 15);
    }
    gchar **opts = g_strsplit(text, " ", -1);
    GPtrArray *list = g_ptr_array_new();
    for (size_t k = 0; opts[k]; k++)
        if (*opts[k])
            g_ptr_array_add(list, opts[k]);
    char imei_opt[32];
    snprintf(imei_opt, sizeof(imei_opt), "imei=%s", imei);
    if (strstr(profile, "quectel-"))
        g_ptr_array_add(list, imei_opt);
    g_ptr_array_add(list, NULL);
    unsigned bus, dev;
    int rc = vrack_plug(a->rack, demo.ports[i].port, profile, (const char *const *)list->pdata,
                        &bus, &dev, err, sizeof(err));
    g_ptr_array_free(list, TRUE);
    g_strfreev(opts);
    if (rc < 0) {
        fprintf(stderr, "demo: plug %s %s: %s\n", demo.ports[i].port, profile, err);
        return G_SOURCE_CONTINUE;
    }
    demo.ports[i].used = true;
    demo.ports[i].until_ms = now + (guint64)g_random_int_range(DEMO_MIN_LIFE, DEMO_MAX_LIFE);
    fprintf(stderr, "demo: plug %s %s (bus %u dev %u) for %" G_GUINT64_FORMAT " ms\n",
            demo.ports[i].port, profile, bus, dev, demo.ports[i].until_ms - now);
    return G_SOURCE_CONTINUE;
}

static void demo_start(const char *ports)
{
    char **list = g_strsplit(ports, ",", -1);
    for (size_t i = 0; list[i] && demo.n < DEMO_MAX_PORTS; i++)
        if (*list[i])
            demo.ports[demo.n++].port = g_strdup(g_strstrip(list[i]));
    g_strfreev(list);
    fprintf(stderr, "demo: %zu ports, Ctrl-C to stop\n", demo.n);
    demo.timer = g_timeout_add(DEMO_TICK_MS, tick, NULL);
}

static void demo_stop(void)
{
    if (demo.timer)
        g_source_remove(demo.timer);
    demo.timer = 0;
    for (size_t i = 0; i < demo.n; i++)
        g_free(demo.ports[i].port);
    demo.n = 0;
}

/* ---- startup ---- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: umockdev-wrapper flashrack-rack [options] [-- DAEMON_COMMAND ARGS...]\n"
            "  --demo                  plug and unplug random devices until SIGINT/SIGTERM\n"
            "  --demo-ports P1,P2,...  ports the demo uses (default 1-1.1,1-1.2,1-1.3,1-1.4)\n"
            "  --daemon-log FILE       daemon stdout/stderr go to FILE instead of stderr\n"
            "  --verbose               log plug/unplug/ioctl events with monotonic ms\n"
            "commands on stdin: wait-ready [MS], plug PORT PROFILE [k=v...], unplug PORT,\n"
            "  stats PORT, list, profiles, signal NAME, wait-exit [MS], restart, sleep MS, quit,\n"
            "  hold-uevents SUBSYSTEM, release-uevents\n"
            "profiles:");
    for (size_t i = 0; i < vrack_profile_count(); i++)
        fprintf(f, "\n  %-14s %s", vrack_profile_name(i), vrack_profile_summary(i));
    fputc('\n', f);
}

static bool preload_loaded(void)
{
    /* umockdev_in_mock_environment() only turns true once a testbed exists, so look at
     * what is mapped instead. */
    gchar *maps = NULL;
    bool found = g_file_get_contents("/proc/self/maps", &maps, NULL, NULL) &&
                 strstr(maps, "libumockdev-preload") != NULL;
    g_free(maps);
    return found;
}

/* The rack must run under the umockdev preload; if it does not, re-run it that way. */
static void ensure_preload(int argc, char **argv)
{
    (void)argc;
    if (preload_loaded())
        return;
    if (getenv("FLASHRACK_RACK_REEXEC")) {
        fprintf(stderr, "flashrack-rack: the umockdev preload is still missing after "
                        "umockdev-wrapper; is umockdev installed?\n");
        exit(2);
    }
    setenv("FLASHRACK_RACK_REEXEC", "1", 1);
    /* An ASan build refuses to start when the preload comes first in the library list. */
    const char *asan = getenv("ASAN_OPTIONS");
    if (!asan || !strstr(asan, "verify_asan_link_order")) {
        char *v = g_strdup_printf("%s%sverify_asan_link_order=0", asan ? asan : "",
                                  asan && *asan ? ":" : "");
        setenv("ASAN_OPTIONS", v, 1);
        g_free(v);
    }
    char *self = g_file_read_link("/proc/self/exe", NULL);
    GPtrArray *args = g_ptr_array_new();
    g_ptr_array_add(args, "umockdev-wrapper");
    g_ptr_array_add(args, self ? self : argv[0]);
    for (int i = 1; argv[i]; i++)
        g_ptr_array_add(args, argv[i]);
    g_ptr_array_add(args, NULL);
    execvp("umockdev-wrapper", (char **)args->pdata);
    fprintf(stderr,
            "flashrack-rack: not under the umockdev preload and cannot run "
            "umockdev-wrapper (%s); install umockdev or start the rack with "
            "umockdev-wrapper\n",
            g_strerror(errno));
    exit(2);
}

static gboolean on_signal(gpointer data)
{
    int sig = GPOINTER_TO_INT(data);
    fprintf(stderr, "rack %" G_GUINT64_FORMAT ": SIG%s, shutting down\n", vrack_now_ms(),
            rack_signal_name(sig));
    rack_command_quit_now();
    return G_SOURCE_CONTINUE;
}

int main(int argc, char **argv)
{
    ensure_preload(argc, argv);
    memset(&app, 0, sizeof(app));
    app.notify_fd = -1;
    app.log_fd = -1;
    const char *demo_ports = "1-1.1,1-1.2,1-1.3,1-1.4";
    const char *log_path = NULL;
    int i;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else if (strcmp(argv[i], "--demo") == 0) {
            app.demo = true;
        } else if (strcmp(argv[i], "--demo-ports") == 0 && i + 1 < argc) {
            demo_ports = argv[++i];
            app.demo = true;
        } else if (strcmp(argv[i], "--daemon-log") == 0 && i + 1 < argc) {
            log_path = argv[++i];
        } else if (strcmp(argv[i], "--verbose") == 0 || strcmp(argv[i], "-v") == 0) {
            app.verbose = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "flashrack-rack: unknown option %s\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (i < argc)
        app.daemon_argv = argv + i;

    char err[VRACK_ERR_MAX] = "";
    if (log_path) {
        app.log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
        if (app.log_fd < 0) {
            fprintf(stderr, "flashrack-rack: %s: %s\n", log_path, g_strerror(errno));
            return 2;
        }
    }
    if (vrack_new(&app.rack, err, sizeof(err)) < 0) {
        fprintf(stderr, "flashrack-rack: %s\n", err);
        return 2;
    }
    vrack_set_verbose(app.rack, app.verbose);
    vrack_set_event_handler(app.rack, on_model_event, NULL);
    app.loop = g_main_loop_new(NULL, FALSE);
    if (open_notify_socket(err, sizeof(err)) < 0 ||
        (app.daemon_argv && rack_spawn_daemon(err, sizeof(err)) < 0)) {
        fprintf(stderr, "flashrack-rack: %s\n", err);
        close_notify_socket();
        vrack_free(app.rack);
        return 2;
    }
    g_unix_signal_add(SIGINT, on_signal, GINT_TO_POINTER(SIGINT));
    g_unix_signal_add(SIGTERM, on_signal, GINT_TO_POINTER(SIGTERM));
    rack_commands_start();
    rack_lag_start();
    if (app.demo)
        demo_start(demo_ports);

    g_main_loop_run(app.loop);

    demo_stop();
    rack_lag_stop();
    rack_commands_stop();
    vrack_free(app.rack);
    close_notify_socket();
    if (app.log_fd >= 0)
        close(app.log_fd);
    g_main_loop_unref(app.loop);
    g_free(app.daemon_status);
    return app.exit_code;
}

struct rack_app *rack_app(void)
{
    return &app;
}
